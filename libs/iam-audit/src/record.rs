//! The audit record, in CloudTrail's shape (its field names, its `eventVersion`), with Gatehouse's
//! additions under CloudTrail's own extension points (`additionalEventData`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `eventSource` of management calls: the IAM API.
pub const EVENT_SOURCE_IAM: &str = "iam.amazonaws.com";
/// `eventSource` of Organizations calls (`CreateAccount`).
pub const EVENT_SOURCE_ORGANIZATIONS: &str = "organizations.amazonaws.com";
/// `eventSource` of access decisions made by Gatehouse's decision API.
pub const EVENT_SOURCE_AUTHZ: &str = "authz.gatehouse.dev";

/// Who made the call (CloudTrail's `userIdentity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// `Root`, `IAMUser`, `AssumedRole`, ...
    #[serde(rename = "type")]
    pub identity_type: String,
    /// The principal's unique id (`AIDA...`, or the account id for root).
    pub principal_id: String,
    /// The principal's ARN.
    pub arn: String,
    /// The principal's account.
    pub account_id: String,
    /// The access key that signed the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The IAM user name, for users.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// For temporary credentials: CloudTrail's `sessionContext` (`sessionIssuer`,
    /// `attributes.creationDate`, `attributes.mfaAuthenticated`, `sourceIdentity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_context: Option<serde_json::Value>,
    /// For `WebIdentityUser`: the identity provider (`host/path` of an OIDC provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<String>,
}

/// A policy a decision was made against: with the account's sequence in the record, enough to
/// find the exact document again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRef {
    /// Policy ARN, or `<principal ARN>/<inline policy name>` for inline policies.
    pub id: String,
    /// `IAMPolicy`, `PermissionsBoundaryPolicy`, `ResourcePolicy`, ...
    pub policy_type: String,
    /// The managed policy's version, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

/// What an access decision adds to its record (under `additionalEventData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionDetail {
    /// `Allow`, `ImplicitDeny` or `ExplicitDeny`.
    pub decision: String,
    /// The principal the decision was about.
    pub principal_arn: String,
    /// The action decided.
    pub action: String,
    /// The resource decided.
    pub resource: String,
    /// The statements that decided it.
    pub matched_statements: Vec<Value>,
    /// The policies evaluated.
    pub policies: Vec<PolicyRef>,
    /// The account's event sequence the decision was made at.
    pub account_sequence: u64,
}

/// One audit record. Field names are CloudTrail's, so existing CloudTrail tooling reads exports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// CloudTrail's record format version.
    pub event_version: String,
    /// Who.
    pub user_identity: UserIdentity,
    /// When (UTC, CloudTrail writes whole seconds; Gatehouse keeps microseconds).
    pub event_time: DateTime<Utc>,
    /// `iam.amazonaws.com` for management calls, [`EVENT_SOURCE_AUTHZ`] for decisions.
    pub event_source: String,
    /// The API action (`CreateUser`, `ListUsers`, `Authorize`, ...).
    pub event_name: String,
    /// The region the request was signed for.
    pub aws_region: String,
    /// The caller's address.
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    /// The caller's user agent.
    pub user_agent: String,
    /// The request's parameters, secrets removed.
    pub request_parameters: Value,
    /// The response, secrets removed; `null` for failed calls.
    pub response_elements: Value,
    /// AWS's error code of a failed call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The error's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The request that made the call.
    #[serde(rename = "requestID")]
    pub request_id: String,
    /// This record's id (UUID v7).
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// Whether the call only read.
    pub read_only: bool,
    /// `AwsApiCall` for management calls, `GatehouseAuthorization` for decisions.
    pub event_type: String,
    /// The API version of a call made through AWS's wire protocol (`2010-05-08` for IAM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The account the record belongs to.
    pub recipient_account_id: String,
    /// Gatehouse's additions: the decision and what it was made against, or for management
    /// calls the account's sequence before and after and what changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_event_data: Option<Value>,
}

impl AuditRecord {
    /// The decision's outcome, for decision records.
    #[must_use]
    pub fn decision(&self) -> Option<&str> {
        self.additional_event_data.as_ref()?.get("decision")?.as_str()
    }

    /// The action the record is about: the decided action for decisions, `iam:<eventName>` for
    /// management calls.
    #[must_use]
    pub fn action(&self) -> String {
        match self
            .additional_event_data
            .as_ref()
            .and_then(|d| d.get("action"))
            .and_then(Value::as_str)
        {
            Some(action) => action.to_owned(),
            None => format!("iam:{}", self.event_name),
        }
    }

    /// The resource the record is about, when there is one.
    #[must_use]
    pub fn resource_arn(&self) -> Option<String> {
        self.additional_event_data
            .as_ref()
            .and_then(|d| d.get("resource"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

/// The fields a record is found by, as the stores index them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFields {
    /// `recipientAccountId`.
    pub account_id: String,
    /// `eventTime`.
    pub event_time: DateTime<Utc>,
    /// `eventName`.
    pub event_name: String,
    /// `eventSource`.
    pub event_source: String,
    /// `userIdentity.arn`.
    pub principal_arn: String,
    /// [`AuditRecord::action`].
    pub action: String,
    /// [`AuditRecord::resource_arn`].
    pub resource_arn: Option<String>,
    /// [`AuditRecord::decision`].
    pub decision: Option<String>,
    /// `errorCode`.
    pub error_code: Option<String>,
    /// `readOnly`.
    pub read_only: bool,
}

impl AuditFields {
    /// The fields of `record`.
    #[must_use]
    pub fn of(record: &AuditRecord) -> Self {
        AuditFields {
            account_id: record.recipient_account_id.clone(),
            event_time: record.event_time,
            event_name: record.event_name.clone(),
            event_source: record.event_source.clone(),
            principal_arn: record.user_identity.arn.clone(),
            action: record.action(),
            resource_arn: record.resource_arn(),
            decision: record.decision().map(str::to_owned),
            error_code: record.error_code.clone(),
            read_only: record.read_only,
        }
    }
}

/// A record already written as its CloudTrail JSON, with its fields beside it. The decision path
/// serializes its records straight from borrowed data into this form, without building an
/// [`AuditRecord`] of JSON values first; the JSON must parse as an [`AuditRecord`] whose
/// [`AuditFields::of`] equals `fields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRecord {
    /// The record as CloudTrail JSON.
    pub json: Vec<u8>,
    /// Its fields.
    pub fields: AuditFields,
}

/// Every record encoded, for stores whose `append` writes encoded records (they call this, then
/// their `append_encoded`).
///
/// # Errors
/// [`crate::AuditError::Unavailable`] if a record cannot be encoded (see [`AuditRecord::encode`]).
pub fn encode_all(records: &[AuditRecord]) -> Result<Vec<EncodedRecord>, crate::AuditError> {
    records
        .iter()
        .map(AuditRecord::encode)
        .collect::<Result<_, _>>()
        .map_err(|e| crate::AuditError::Unavailable(format!("encoding a record: {e}")))
}

impl AuditRecord {
    /// The record as JSON, with its fields.
    ///
    /// # Errors
    /// A value that JSON cannot represent (a map with non-string keys; never for records built
    /// from JSON values).
    pub fn encode(&self) -> Result<EncodedRecord, serde_json::Error> {
        Ok(EncodedRecord {
            json: serde_json::to_vec(self)?,
            fields: AuditFields::of(self),
        })
    }
}
