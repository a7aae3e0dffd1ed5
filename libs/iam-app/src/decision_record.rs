//! A decision's audit record, serialized straight from what the decision borrowed.
//!
//! Every decision writes one record, so this is on the hot path: building an [`AuditRecord`] of
//! JSON values first (a map per object, a string per key) cost more than the evaluation. The
//! structs here borrow the request, the caller and the matched statements and serialize to the
//! same JSON, field for field; a test parses it back as an `AuditRecord`.
//!
//! [`AuditRecord`]: iam_audit::AuditRecord

use chrono::{DateTime, Utc};
use iam_audit::{AuditFields, EncodedRecord, UserIdentity, EVENT_SOURCE_AUTHZ};
use iam_policy::simulate::ContextEntry;
use iam_policy::{DecisionEffect, MatchedStatement, PolicySource};
use serde::Serialize;

use crate::access::{decision_name, AccessRequest, ApiCaller, MatchedStatementJson};
use crate::AppError;

/// CloudTrail's record, borrowed (field names and order as [`iam_audit::AuditRecord`]).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordJson<'a> {
    event_version: &'static str,
    user_identity: &'a UserIdentity,
    event_time: &'a DateTime<Utc>,
    event_source: &'static str,
    event_name: &'static str,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: &'a str,
    user_agent: &'a str,
    request_parameters: RequestJson<'a>,
    /// `null` for a refused request.
    response_elements: Option<ResponseJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
    #[serde(rename = "requestID")]
    request_id: &'a str,
    #[serde(rename = "eventID")]
    event_id: &'a str,
    read_only: bool,
    event_type: &'static str,
    recipient_account_id: &'a str,
    additional_event_data: DetailJson<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestJson<'a> {
    principal_arn: &'a str,
    action: &'a str,
    resource: &'a str,
    context: Vec<ContextJson<'a>>,
    resource_policy: Option<&'a str>,
    resource_owner: Option<&'a str>,
}

#[derive(Serialize)]
struct ContextJson<'a> {
    key: &'a str,
    values: &'a [String],
    #[serde(rename = "type")]
    key_type: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseJson<'a> {
    decision: &'static str,
    #[serde(rename = "eventID")]
    event_id: &'a str,
}

/// [`iam_audit::DecisionDetail`], borrowed; `decision` is absent for a refused request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DetailJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<&'static str>,
    principal_arn: &'a str,
    action: &'a str,
    resource: &'a str,
    matched_statements: Vec<MatchedStatementJson<'a>>,
    policies: Vec<PolicyJson<'a>>,
    account_sequence: u64,
    /// [`iam_audit::ORGANIZATION_ID_KEY`]: the organization trail the record belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<&'a str>,
    /// The organization's sequence its guardrails (SCPs, RCPs) were read at.
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_sequence: Option<u64>,
    /// For a resource owned by an account of another organization: that organization and its
    /// sequence (its RCPs took part).
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_organization_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_organization_sequence: Option<u64>,
    /// [`DECISION_RECORD_VERSION`].
    decision_record_version: u32,
}

/// The version of what a decision record carries for replay: 2 added the organizations'
/// sequences (`organizationSequence`, `resourceOrganizationId`, `resourceOrganizationSequence`),
/// so a decision is replayed on exactly the guardrails it was made on; records without the field
/// are version 1, whose guardrails are found by time.
pub const DECISION_RECORD_VERSION: u32 = 2;

/// [`iam_audit::PolicyRef`], borrowed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyJson<'a> {
    id: &'a str,
    policy_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<&'a str>,
}

/// What a decision came to: its effect and statements, or why it was refused.
pub(crate) type Verdict<'a> = Result<(DecisionEffect, &'a [MatchedStatement]), &'a AppError>;

/// Everything one decision's record is made of.
pub(crate) struct DecisionFacts<'a> {
    pub(crate) caller: &'a ApiCaller,
    pub(crate) identity: &'a UserIdentity,
    pub(crate) request: &'a AccessRequest,
    pub(crate) verdict: Verdict<'a>,
    /// The policies the principal was evaluated against (none when it was not found).
    pub(crate) policies: Vec<&'a PolicySource>,
    pub(crate) event_id: &'a str,
    pub(crate) now: DateTime<Utc>,
    pub(crate) account_sequence: u64,
    /// The organization the caller's account is a member of (its trail holds the record).
    pub(crate) organization_id: Option<&'a str>,
    /// That organization's sequence the guardrails were read at.
    pub(crate) organization_sequence: Option<u64>,
    /// The resource owner's organization and its sequence, when it is another organization.
    pub(crate) resource_organization: Option<(&'a str, u64)>,
}

fn context_json(entry: &ContextEntry) -> ContextJson<'_> {
    ContextJson {
        key: &entry.context_key_name,
        values: &entry.context_key_values,
        key_type: &entry.context_key_type,
    }
}

/// The record of one decision, encoded.
pub(crate) fn encode(facts: &DecisionFacts<'_>) -> Result<EncodedRecord, AppError> {
    let DecisionFacts {
        caller,
        identity,
        request,
        verdict,
        ..
    } = facts;
    let (decision, matched, error) = match verdict {
        Ok((effect, matched)) => (Some(decision_name(*effect)), *matched, None),
        Err(error) => (None, &[][..], Some(*error)),
    };
    let record = RecordJson {
        event_version: "1.09",
        user_identity: identity,
        event_time: &facts.now,
        event_source: EVENT_SOURCE_AUTHZ,
        event_name: "Authorize",
        aws_region: &caller.region,
        source_ip_address: caller.source_ip.as_deref().unwrap_or_default(),
        user_agent: caller.user_agent.as_deref().unwrap_or_default(),
        request_parameters: RequestJson {
            principal_arn: &request.principal_arn,
            action: &request.action,
            resource: &request.resource,
            context: request.context.iter().map(context_json).collect(),
            resource_policy: request.resource_policy.as_deref(),
            resource_owner: request.resource_owner.as_deref(),
        },
        response_elements: decision.map(|decision| ResponseJson {
            decision,
            event_id: facts.event_id,
        }),
        error_code: error.map(|e| e.code.as_str()),
        error_message: error.map(|e| e.message.as_str()),
        request_id: &caller.request_id,
        event_id: facts.event_id,
        read_only: true,
        event_type: "GatehouseAuthorization",
        recipient_account_id: &caller.account_id,
        additional_event_data: DetailJson {
            decision,
            principal_arn: &request.principal_arn,
            action: &request.action,
            resource: &request.resource,
            matched_statements: matched.iter().map(MatchedStatementJson::from).collect(),
            policies: facts
                .policies
                .iter()
                .map(|source| PolicyJson {
                    id: &source.id,
                    policy_type: source.policy_type.as_str(),
                    version_id: source.version_id.as_deref(),
                })
                .collect(),
            account_sequence: facts.account_sequence,
            organization_id: facts.organization_id,
            organization_sequence: facts.organization_sequence,
            resource_organization_id: facts.resource_organization.map(|(id, _)| id),
            resource_organization_sequence: facts.resource_organization.map(|(_, sequence)| sequence),
            decision_record_version: DECISION_RECORD_VERSION,
        },
    };
    let json = serde_json::to_vec(&record).map_err(|e| {
        AppError::new(
            iam_types::ErrorCode::ServiceFailure,
            format!("the audit record could not be encoded: {e}"),
        )
    })?;
    Ok(EncodedRecord {
        json,
        fields: AuditFields {
            account_id: caller.account_id.clone(),
            event_time: facts.now,
            event_name: "Authorize".to_owned(),
            event_source: EVENT_SOURCE_AUTHZ.to_owned(),
            principal_arn: identity.arn.clone(),
            action: request.action.clone(),
            resource_arn: Some(request.resource.clone()),
            decision: decision.map(str::to_owned),
            error_code: error.map(|e| e.code.as_str().to_owned()),
            read_only: true,
            organization_id: facts.organization_id.map(str::to_owned),
            event_id: facts.event_id.to_owned(),
            decided_principal_arn: Some(request.principal_arn.clone()),
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use iam_audit::AuditRecord;
    use iam_policy::{Effect, PolicySlot, PolicyType, Span};
    use iam_types::ErrorCode;

    fn caller() -> ApiCaller {
        ApiCaller {
            account_id: "123456789012".into(),
            principal_arn: "arn:aws:iam::123456789012:user/app".into(),
            access_key_id: Some("AKIAEXAMPLE".into()),
            source_ip: Some("10.0.0.1".into()),
            user_agent: None,
            request_id: "req-1".into(),
            region: "us-east-1".into(),
            api_version: None,
            session: None,
        }
    }

    fn request() -> AccessRequest {
        AccessRequest {
            principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
            action: "s3:GetObject".into(),
            resource: "arn:aws:s3:::bucket/\"quoted\"\n".into(),
            context: vec![crate::access::context_entry(
                "aws:SourceVpc".into(),
                vec!["vpc-1".into()],
                None,
            )],
            resource_policy: None,
            resource_owner: Some("210987654321".into()),
            min_sequence: None,
            min_org_sequence: None,
        }
    }

    fn identity() -> UserIdentity {
        UserIdentity {
            identity_type: "IAMUser".into(),
            principal_id: "AIDAEXAMPLE".into(),
            arn: "arn:aws:iam::123456789012:user/app".into(),
            account_id: "123456789012".into(),
            access_key_id: Some("AKIAEXAMPLE".into()),
            user_name: Some("app".into()),
            session_context: None,
            identity_provider: None,
        }
    }

    #[test]
    fn a_decision_encodes_as_a_record_whose_fields_match() {
        let source = PolicySource {
            id: "arn:aws:iam::123456789012:policy/read".into(),
            policy_type: PolicyType::UserManaged,
            version_id: Some("v3".into()),
        };
        let matched = vec![MatchedStatement {
            source: source.clone(),
            slot: PolicySlot::Identity,
            statement_index: 1,
            sid: Some("Read".into()),
            effect: Effect::Allow,
            span: Span::default(),
        }];
        let (caller, request, identity) = (caller(), request(), identity());
        let now = Utc::now();
        let facts = DecisionFacts {
            caller: &caller,
            identity: &identity,
            request: &request,
            verdict: Ok((DecisionEffect::Allowed, &matched)),
            policies: vec![&source],
            event_id: "0190-event",
            now,
            account_sequence: 42,
            organization_id: None,
            organization_sequence: None,
            resource_organization: Some(("o-klmnopqrst", 9)),
        };
        let encoded = encode(&facts).unwrap();
        let record: AuditRecord = serde_json::from_slice(&encoded.json).unwrap();
        assert_eq!(AuditFields::of(&record), encoded.fields);
        assert_eq!(record.event_time, now);
        assert_eq!(record.user_identity, identity);
        assert_eq!(record.response_elements["decision"], "Allow");
        assert_eq!(record.response_elements["eventID"], "0190-event");
        assert_eq!(record.request_parameters["context"][0]["type"], "string");
        assert_eq!(record.request_parameters["resourceOwner"], "210987654321");
        assert!(record.request_parameters["resourcePolicy"].is_null());
        let detail = record.additional_event_data.unwrap();
        assert_eq!(detail["accountSequence"], 42);
        assert!(detail.get("organizationSequence").is_none());
        assert_eq!(detail["resourceOrganizationId"], "o-klmnopqrst");
        assert_eq!(detail["resourceOrganizationSequence"], 9);
        assert_eq!(detail["decisionRecordVersion"], DECISION_RECORD_VERSION);
        assert_eq!(
            detail["matchedStatements"][0],
            crate::access::matched_statement_json(&matched[0])
        );
        assert_eq!(detail["policies"][0]["versionId"], "v3");
        assert!(detail.get("organizationId").is_none(), "no organization, no key");
        assert_eq!(encoded.fields.organization_id, None);
        assert_eq!(record.source_ip_address, "10.0.0.1");
        assert_eq!(record.user_agent, "");
    }

    #[test]
    fn a_refusal_encodes_its_error_and_no_decision() {
        let (caller, request, identity) = (caller(), request(), identity());
        let refusal = AppError::new(ErrorCode::NoSuchEntity, "no such principal");
        let facts = DecisionFacts {
            caller: &caller,
            identity: &identity,
            request: &request,
            verdict: Err(&refusal),
            policies: Vec::new(),
            event_id: "0190-event",
            now: Utc::now(),
            account_sequence: 7,
            organization_id: Some("o-exampleorg1"),
            organization_sequence: Some(3),
            resource_organization: None,
        };
        let encoded = encode(&facts).unwrap();
        let record: AuditRecord = serde_json::from_slice(&encoded.json).unwrap();
        assert_eq!(AuditFields::of(&record), encoded.fields);
        assert_eq!(record.error_code.as_deref(), Some("NoSuchEntity"));
        assert!(record.response_elements.is_null());
        assert_eq!(record.decision(), None);
        assert_eq!(record.organization_id(), Some("o-exampleorg1"));
        let detail = record.additional_event_data.as_ref().unwrap();
        assert_eq!(detail["organizationSequence"], 3);
        assert!(detail.get("resourceOrganizationId").is_none());
        assert_eq!(encoded.fields.organization_id.as_deref(), Some("o-exampleorg1"));
        assert!(record.additional_event_data.unwrap().get("decision").is_none());
    }
}
