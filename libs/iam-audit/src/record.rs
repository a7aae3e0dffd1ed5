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
/// The key under `additionalEventData` naming the organization the record's account was a member
/// of when the record was written: the record belongs to that organization's trail.
pub const ORGANIZATION_ID_KEY: &str = "organizationId";

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

    /// The organization whose trail the record belongs to (`additionalEventData.organizationId`):
    /// the one its account was a member of when it was written.
    #[must_use]
    pub fn organization_id(&self) -> Option<&str> {
        self.additional_event_data.as_ref()?.get(ORGANIZATION_ID_KEY)?.as_str()
    }

    /// Puts the record in `organization_id`'s trail: sets
    /// `additionalEventData.organizationId`, creating `additionalEventData` when the record has
    /// none. A record whose `additionalEventData` is not an object is left as it is (no builder
    /// makes one).
    pub fn set_organization_id(&mut self, organization_id: &str) {
        let data = self
            .additional_event_data
            .get_or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(object) = data.as_object_mut() {
            object.insert(
                ORGANIZATION_ID_KEY.to_owned(),
                Value::String(organization_id.to_owned()),
            );
        }
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
    /// [`AuditRecord::organization_id`]: the organization trail the record belongs to.
    pub organization_id: Option<String>,
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
            organization_id: record.organization_id().map(str::to_owned),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn record(additional_event_data: Option<Value>) -> AuditRecord {
        AuditRecord {
            event_version: "1.09".into(),
            user_identity: UserIdentity::default(),
            event_time: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            event_source: EVENT_SOURCE_IAM.into(),
            event_name: "ListUsers".into(),
            aws_region: "us-east-1".into(),
            source_ip_address: String::new(),
            user_agent: String::new(),
            request_parameters: Value::Null,
            response_elements: Value::Null,
            error_code: None,
            error_message: None,
            request_id: "r".into(),
            event_id: "e".into(),
            read_only: true,
            event_type: "AwsApiCall".into(),
            api_version: None,
            recipient_account_id: "111111111111".into(),
            additional_event_data,
        }
    }

    #[test]
    fn a_record_joins_a_trail_through_additional_event_data_and_is_indexed_by_it() {
        let mut bare = record(None);
        assert_eq!(bare.organization_id(), None);
        assert_eq!(AuditFields::of(&bare).organization_id, None);
        bare.set_organization_id("o-exampleorg1");
        assert_eq!(
            bare.additional_event_data,
            Some(json!({"organizationId": "o-exampleorg1"}))
        );
        assert_eq!(AuditFields::of(&bare).organization_id.as_deref(), Some("o-exampleorg1"));

        let mut change = record(Some(json!({"action": "iam:CreateUser", "resource": "arn"})));
        change.set_organization_id("o-exampleorg1");
        let encoded = change.encode().unwrap();
        let decoded: AuditRecord = serde_json::from_slice(&encoded.json).unwrap();
        assert_eq!(decoded.organization_id(), Some("o-exampleorg1"));
        assert_eq!(decoded.action(), "iam:CreateUser", "the other additions stay");
        assert_eq!(encoded.fields, AuditFields::of(&decoded));
        // Not a string: in no trail.
        assert_eq!(record(Some(json!({"organizationId": 7}))).organization_id(), None);
    }
}
