//! [`KafkaAuditLog`]: appends go to the audit topic, queries to PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iam_audit::integrity::{AuditSigner, Digest, PublicKey};
use iam_audit::{AuditError, AuditFilter, AuditLog, AuditPage, AuditRecord, ChainPage, EncodedRecord, GroupBy};
use iam_store_postgres::PgAuditStore;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use crate::AUDIT_TOPIC;

fn unavailable(context: &str, error: &impl std::fmt::Display) -> AuditError {
    AuditError::Unavailable(format!("{context}: {error}"))
}

/// How [`KafkaAuditLog`] produces.
#[derive(Debug, Clone)]
pub struct KafkaAuditOptions {
    /// The topic (default [`AUDIT_TOPIC`]).
    pub topic: String,
    /// How long librdkafka keeps retrying a record before the append fails (and the decision
    /// with it). A request waits at most this long for an unreachable broker.
    pub message_timeout: Duration,
    /// How long the producer waits to fill a batch; every waiting request pays it.
    pub linger: Duration,
}

impl Default for KafkaAuditOptions {
    fn default() -> Self {
        KafkaAuditOptions {
            topic: AUDIT_TOPIC.to_owned(),
            message_timeout: Duration::from_secs(10),
            linger: Duration::from_millis(1),
        }
    }
}

/// The audit log of a replica in the distributed mode: records to Kafka, queries from
/// PostgreSQL (filled by the audit projector, so a record becomes queryable shortly after its
/// append returned, not at once).
#[derive(Clone)]
pub struct KafkaAuditLog {
    producer: FutureProducer,
    topic: String,
    store: PgAuditStore,
}

impl std::fmt::Debug for KafkaAuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaAuditLog").field("topic", &self.topic).finish()
    }
}

impl KafkaAuditLog {
    /// An idempotent producer (`enable.idempotence=true`, `acks=all`) on `brokers`; checks that
    /// the topic exists (the cluster does not create topics on first use) before returning.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`] if the configuration is refused, the brokers cannot be
    /// reached or the topic does not exist.
    pub async fn connect(brokers: &str, options: KafkaAuditOptions, store: PgAuditStore) -> Result<Self, AuditError> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("client.id", "gatehouse-audit")
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", options.message_timeout.as_millis().to_string())
            .set("linger.ms", options.linger.as_millis().to_string())
            // The partitioner Java clients use, so other producers keyed by account agree.
            .set("partitioner", "murmur2_random")
            .create()
            .map_err(|e| unavailable("configuring the audit producer", &e))?;
        let probe = producer.clone();
        let topic = options.topic.clone();
        let partitions = tokio::task::spawn_blocking(move || {
            probe
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(10))
                .map(|metadata| {
                    metadata
                        .topics()
                        .iter()
                        .filter(|t| t.error().is_none())
                        .map(|t| t.partitions().len())
                        .sum::<usize>()
                })
        })
        .await
        .map_err(|e| unavailable("asking Kafka for the audit topic", &e))?
        .map_err(|e| unavailable("asking Kafka for the audit topic", &e))?;
        if partitions == 0 {
            return Err(AuditError::Unavailable(format!(
                "the audit topic `{}` does not exist (infra/kafka/topics.sh creates it)",
                options.topic
            )));
        }
        Ok(KafkaAuditLog {
            producer,
            topic: options.topic,
            store,
        })
    }

    /// The store queries read.
    #[must_use]
    pub fn store(&self) -> &PgAuditStore {
        &self.store
    }

    /// Waits (up to `timeout`) for records still in the producer's queue, then closes the store.
    pub async fn close(&self, timeout: Duration) {
        let producer = self.producer.clone();
        let _ = tokio::task::spawn_blocking(move || producer.flush(timeout)).await;
        self.store.close().await;
    }
}

#[async_trait]
impl AuditLog for KafkaAuditLog {
    /// Ready when the brokers answer a metadata request for the audit topic within two seconds.
    async fn ready(&self) -> Result<(), AuditError> {
        let producer = self.producer.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(2))
                .map(|_| ())
                .map_err(|e| unavailable("the audit topic's brokers do not answer", &e))
        })
        .await
        .map_err(|_| AuditError::Unavailable("the readiness probe did not finish".into()))?
    }

    fn backlog(&self) -> Option<u64> {
        u64::try_from(self.producer.in_flight_count()).ok()
    }

    /// Produces every record (key: its account) and returns once Kafka acknowledged all of them;
    /// an error means at least one is not known to be durable, and the caller answers nothing.
    async fn append(&self, records: Vec<AuditRecord>) -> Result<(), AuditError> {
        self.append_encoded(iam_audit::encode_all(&records)?).await
    }

    async fn append_encoded(&self, records: Vec<EncodedRecord>) -> Result<(), AuditError> {
        // Enqueue the whole batch first (librdkafka pipelines it), then collect the reports.
        let mut pending = Vec::with_capacity(records.len());
        for record in &records {
            let mut message = FutureRecord::to(&self.topic)
                .key(record.fields.account_id.as_str())
                .payload(&record.json);
            let delivery = loop {
                match self.producer.send_result(message) {
                    Ok(delivery) => break delivery,
                    // librdkafka's local queue is full: let it drain, then enqueue again.
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        message = back;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((e, _)) => return Err(unavailable("producing an audit record", &e)),
                }
            };
            pending.push(delivery);
        }
        for delivery in pending {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(unavailable("Kafka did not acknowledge an audit record", &e)),
                Err(_) => return Err(AuditError::Unavailable("the audit producer went away".into())),
            }
        }
        Ok(())
    }

    async fn query(&self, filter: &AuditFilter, first: usize, after: Option<&str>) -> Result<AuditPage, AuditError> {
        self.store.query(filter, first, after).await
    }

    async fn count_by(
        &self,
        filter: &AuditFilter,
        group_by: GroupBy,
    ) -> Result<Vec<(Option<String>, u64)>, AuditError> {
        self.store.count_by(filter, group_by).await
    }

    // The chain is the store's: the audit projector links records as it inserts them, so what a
    // verifier reads, and what digests sign, is PostgreSQL's storage order.

    async fn chain(&self, account_id: &str, after: Option<u64>, first: usize) -> Result<ChainPage, AuditError> {
        self.store.chain(account_id, after, first).await
    }

    async fn sign_digests(
        &self,
        signer: Arc<AuditSigner>,
        account_id: Option<&str>,
    ) -> Result<Vec<Digest>, AuditError> {
        self.store.sign_digests(signer, account_id).await
    }

    async fn sign_digests_with_events(
        &self,
        signer: Arc<AuditSigner>,
        account_id: Option<&str>,
        event_heads: &std::collections::HashMap<String, iam_audit::integrity::ChainLink>,
    ) -> Result<Vec<Digest>, AuditError> {
        self.store
            .sign_digests_with_events(signer, account_id, event_heads)
            .await
    }

    async fn digests(&self, account_id: &str) -> Result<Vec<Digest>, AuditError> {
        self.store.digests(account_id).await
    }

    async fn record_signing_key(&self, key: PublicKey) -> Result<(), AuditError> {
        self.store.record_signing_key(key).await
    }

    async fn signing_keys(&self) -> Result<Vec<PublicKey>, AuditError> {
        self.store.signing_keys().await
    }
}

/// Creates `topic` with `partitions` partitions (replication 1), for tests and development
/// clusters; production topics come from `infra/kafka/topics.conf`.
///
/// # Errors
/// [`AuditError::Unavailable`] if Kafka refuses (for example, the topic exists).
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) -> Result<(), AuditError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(|e| unavailable("configuring the admin client", &e))?;
    let created = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .map_err(|e| unavailable("creating a topic", &e))?;
    for result in created {
        result.map_err(|(name, code)| unavailable(&format!("creating topic `{name}`"), &code))?;
    }
    Ok(())
}
