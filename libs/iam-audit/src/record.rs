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

    /// The principal the record is about, as opposed to the caller (`userIdentity.arn`, the
    /// application that asked): `requestParameters.principalArn`, which a decision record holds
    /// (the principal decided on) and a few calls name. A decision record without it falls back
    /// to `additionalEventData.principalArn`, which names the same principal.
    #[must_use]
    pub fn decided_principal_arn(&self) -> Option<&str> {
        let requested = self.request_parameters.get("principalArn").and_then(Value::as_str);
        requested.or_else(|| {
            if self.event_source != EVENT_SOURCE_AUTHZ {
                return None;
            }
            self.additional_event_data.as_ref()?.get("principalArn")?.as_str()
        })
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
    /// `eventID`.
    pub event_id: String,
    /// [`AuditRecord::decided_principal_arn`].
    pub decided_principal_arn: Option<String>,
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
            event_id: record.event_id.clone(),
            decided_principal_arn: record.decided_principal_arn().map(str::to_owned),
        }
    }

    /// The key an event-id filter finds the record by: `eventID` as a UUID, when it is written in
    /// the canonical form (lowercase, hyphenated), as Gatehouse writes every id. A record whose
    /// id is anything else is found by no event-id filter.
    #[must_use]
    pub fn event_key(&self) -> Option<EventKey> {
        EventKey::parse(&self.event_id).filter(|key| key.to_string() == self.event_id)
    }
}

/// A record's `eventID` as the 16 bytes of its UUID: what an event-id filter names and what the
/// stores index (the embedded index keeps the bytes, PostgreSQL the canonical text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventKey([u8; 16]);

impl EventKey {
    /// A UUID in its hyphenated form (`8-4-4-4-12` hex digits, either case, as RFC 9562 reads
    /// them); `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.as_bytes();
        if text.len() != 36 {
            return None;
        }
        let mut bytes = [0_u8; 16];
        let mut nibble = 0;
        for (i, &c) in text.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return None;
                }
                continue;
            }
            let value = u8::try_from(char::from(c).to_digit(16)?).ok()?;
            bytes[nibble / 2] |= if nibble % 2 == 0 { value << 4 } else { value };
            nibble += 1;
        }
        Some(EventKey(bytes))
    }

    /// The UUID's bytes.
    #[must_use]
    pub fn bytes(&self) -> [u8; 16] {
        self.0
    }
}

/// The canonical form: lowercase, hyphenated.
impl std::fmt::Display for EventKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
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

    #[test]
    fn the_decided_principal_is_the_requested_one_not_the_caller() {
        let alice = "arn:aws:iam::111111111111:user/alice";
        let mut decision = record(Some(json!({"decision": "Allow", "principalArn": alice})));
        decision.event_source = EVENT_SOURCE_AUTHZ.into();
        decision.user_identity.arn = "arn:aws:iam::111111111111:user/app".into();
        decision.request_parameters = json!({"principalArn": alice, "action": "s3:GetObject"});
        assert_eq!(decision.decided_principal_arn(), Some(alice));
        assert_eq!(AuditFields::of(&decision).decided_principal_arn.as_deref(), Some(alice));
        // A decision record without it in its request: the detail names the same principal.
        decision.request_parameters = json!({});
        assert_eq!(decision.decided_principal_arn(), Some(alice));
        // Only decisions fall back; other calls name it in their request or not at all.
        let mut call = record(Some(json!({"principalArn": alice})));
        assert_eq!(call.decided_principal_arn(), None);
        call.request_parameters = json!({"policySourceArn": alice});
        assert_eq!(call.decided_principal_arn(), None);
        call.request_parameters = json!({"principalArn": alice});
        assert_eq!(call.decided_principal_arn(), Some(alice));
        call.request_parameters = json!({"principalArn": 7});
        assert_eq!(call.decided_principal_arn(), None);
        call.request_parameters = json!([alice]);
        assert_eq!(call.decided_principal_arn(), None);
    }

    #[test]
    fn event_keys_are_uuids_and_records_are_keyed_by_their_canonical_id() {
        let id = "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b";
        let key = EventKey::parse(id).unwrap();
        assert_eq!(key.to_string(), id);
        assert_eq!(key.bytes()[..3], [0x01, 0x90, 0xa5]);
        assert_eq!(key.bytes()[15], 0x5b);
        assert_eq!(EventKey::parse(&id.to_uppercase()), Some(key), "either case");
        for malformed in [
            "",
            "e",
            "0190a5b27c3d7e4f8a9b0c1d2e3f4a5b",
            "{0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b}",
            "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5g",
            "0190a5b2-7c3d-7e4f-8a9b_0c1d2e3f4a5b",
            "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b ",
            "+190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
            "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a\u{e9}",
        ] {
            assert_eq!(EventKey::parse(malformed), None, "{malformed:?}");
        }
        let mut r = record(None);
        r.event_id = id.into();
        assert_eq!(AuditFields::of(&r).event_id, id);
        assert_eq!(AuditFields::of(&r).event_key(), Some(key));
        r.event_id = id.to_uppercase();
        assert_eq!(
            AuditFields::of(&r).event_key(),
            None,
            "only the canonical form is a key"
        );
        r.event_id = "e".into();
        assert_eq!(AuditFields::of(&r).event_key(), None);
    }
}
