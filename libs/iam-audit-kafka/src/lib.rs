//! The distributed audit history's Kafka side.
//!
//! In the distributed mode every iamd replica produces its audit records (decisions and
//! management calls) to one Kafka topic, [`AUDIT_TOPIC`], and the audit projector consumes that
//! topic into PostgreSQL ([`iam_store_postgres::PgAuditStore`]), where every replica's
//! `auditEvents` reads them. Audit records need no conditional append (nothing is decided
//! against them), so they skip the event log and its outbox and go straight to the topic.
//!
//! Codemap:
//! - [`producer`]: [`KafkaAuditLog`], the [`iam_audit::AuditLog`] a replica writes through: an
//!   append returns once Kafka acknowledged every record (idempotent producer, `acks=all`), so an
//!   answered decision's record is durable in Kafka; queries and counts read the PostgreSQL store.
//! - [`consumer`]: the audit projector's loop: batches of messages inserted with their partitions'
//!   next offsets in one transaction, so a projector killed at any point resumes exactly after
//!   its last commit and a redelivered record changes nothing.
//!
//! Invariants: the message key is the record's account (`recipientAccountId`), so an account's
//! records stay on one partition; the value is the record's CloudTrail JSON exactly as the
//! application built it (secrets were removed before it reached this crate); nothing here reads
//! or writes a record of another account than the one it names.

pub mod consumer;
pub mod producer;

pub use consumer::{assign_from_stored, consume_once, follow, Batching, ConsumeError};
pub use producer::{create_topic, KafkaAuditLog, KafkaAuditOptions};

/// The topic audit records are produced to (`infra/kafka/topics.conf`: 8 partitions, kept
/// forever).
pub const AUDIT_TOPIC: &str = "gatehouse.audit";
