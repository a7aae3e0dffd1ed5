//! STS: temporary credentials. `AssumeRole` issues a role session whose token is the session's
//! claims sealed under the master key, so any replica holding the key authenticates requests
//! signed with it without reading a database ([`Gatehouse::open_session`]).
//!
//! Authorization follows AWS: the caller's identity policies and the role's trust policy decide
//! together (`iam-policy`'s resource-policy rules: in the same account a trust policy naming the
//! caller grants on its own, naming the account delegates to the caller's policies; across
//! accounts both must allow). The root user cannot assume roles, as in AWS.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use iam_authz::RequestFacts;
use iam_domain::session::{
    assumed_role_arn, expiry, federated_user_arn, role_of, user_session_seconds, AssumeRoleRequest,
    FederationTokenRequest, SessionClaims, SessionKind,
};
use iam_domain::AccountState;
use iam_policy::{ContextValue, DecisionEffect, PolicySet, PolicySource, PolicyType};
use iam_types::{ErrorCode, IdKind, UniqueId};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::access::{caller_principal, session_keys, ApiCaller};
use crate::management::{bounded_text, CallFacts};
use crate::{random_bytes, AppError, Gatehouse};

/// Opened sessions kept (a session signs many requests; its token is opened once).
pub(crate) const SESSION_CACHE_ENTRIES: usize = 100_000;

/// Opened sessions by key id, with their token's SHA-256.
pub(crate) type SessionCache = std::sync::Mutex<std::collections::HashMap<String, ([u8; 32], Arc<SessionClaims>)>>;

/// `eventSource` of STS calls.
pub const EVENT_SOURCE_STS: &str = "sts.amazonaws.com";

/// A request as its record's `requestParameters`: the members it sent (no nulls, no empty lists).
fn present_parameters(request: &impl serde::Serialize) -> Value {
    let mut parameters = serde_json::to_value(request).unwrap_or_default();
    if let Some(object) = parameters.as_object_mut() {
        object.retain(|_, value| !value.is_null() && value != &json!([]));
    }
    parameters
}

/// The owner an encoded authorization message is sealed for: only its account decodes it.
fn message_owner(account: &str) -> String {
    format!("authorization-message/{account}")
}

/// The owner a session token is sealed for: the token opens only with its own key id.
fn token_owner(access_key_id: &str) -> String {
    format!("sts-session/{access_key_id}")
}

/// New temporary credentials: shown once, to the caller.
pub struct IssuedCredentials {
    /// `ASIA...`.
    pub access_key_id: String,
    /// The session's secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// The session token to send as `X-Amz-Security-Token`.
    pub session_token: Zeroizing<String>,
    /// When the credentials stop working.
    pub expiration: DateTime<Utc>,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub assumed_role_arn: String,
    /// `<role id>:<session name>`.
    pub assumed_role_id: String,
}

/// Why a session token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRefusal {
    /// It does not open under the master key for this key id (forged, damaged, or another key's).
    Invalid,
    /// It has expired.
    Expired,
}

/// The inline policy AWS's "revoke active sessions" puts on a role.
pub const REVOKE_POLICY_NAME: &str = "AWSRevokeOlderSessions";

impl Gatehouse {
    /// Revokes every session of a role issued before now, as AWS does: a `Deny` of everything
    /// to sessions whose `aws:TokenIssueTime` is earlier, as the role's inline policy
    /// `AWSRevokeOlderSessions`. It is an ordinary `PutRolePolicy` (authorized and recorded as
    /// one), so every replica enforces it at its next decision; sessions issued later work.
    ///
    /// # Errors
    /// As [`Gatehouse::manage`].
    pub async fn revoke_role_sessions(&self, caller: &ApiCaller, role_name: &str) -> Result<crate::Executed, AppError> {
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let document = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": now}},
            }],
        });
        let command = iam_domain::Command::PutRolePolicy {
            role_name: role_name.to_owned(),
            policy_name: REVOKE_POLICY_NAME.to_owned(),
            policy_document: document.to_string(),
        };
        self.manage(caller, command).await
    }

    /// Opens the session token a request carries for `access_key_id`, with no database read.
    ///
    /// # Errors
    /// [`SessionRefusal::Invalid`] for a token that is not this key's or is damaged,
    /// [`SessionRefusal::Expired`] past its expiry.
    pub fn open_session(
        &self,
        access_key_id: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<SessionClaims>, SessionRefusal> {
        // A session signs many requests: the token is opened once and its claims kept, keyed by
        // the key id and the token's digest (a different token for the same key is opened, and
        // refused, like any other).
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self.session_cache.lock().ok().and_then(|cache| {
            cache
                .get(access_key_id)
                .filter(|(d, _)| *d == digest)
                .map(|(_, c)| c.clone())
        });
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let json = self
                    .sealer
                    .open(token, &token_owner(access_key_id))
                    .map_err(|_| SessionRefusal::Invalid)?;
                let claims: SessionClaims = serde_json::from_str(&json).map_err(|_| SessionRefusal::Invalid)?;
                if claims.access_key_id != access_key_id {
                    return Err(SessionRefusal::Invalid);
                }
                let claims = Arc::new(claims);
                if let Ok(mut cache) = self.session_cache.lock() {
                    if cache.len() >= SESSION_CACHE_ENTRIES {
                        cache.retain(|_, (_, c)| !c.expired(now));
                        if cache.len() >= SESSION_CACHE_ENTRIES {
                            cache.clear();
                        }
                    }
                    cache.insert(access_key_id.to_owned(), (digest, claims.clone()));
                }
                claims
            }
        };
        if claims.expired(now) {
            return Err(SessionRefusal::Expired);
        }
        // A closed account's sessions stop authenticating at once, however long they had left.
        if self.is_suspended(&claims.account_id) {
            return Err(SessionRefusal::Invalid);
        }
        Ok(claims)
    }

    /// `GetFederationToken`: temporary credentials for a federated user
    /// (`arn:aws:sts::<account>:federated-user/<name>`) with at most the calling IAM user's
    /// permissions, and only what the session policies also allow (none without one, as in AWS).
    /// Needs `sts:GetFederationToken` on the federated user; long-term user credentials only.
    ///
    /// # Errors
    /// `AccessDenied` (also for session credentials and the root user), and the request's
    /// `ValidationError` / `LimitExceeded` / `MalformedPolicyDocument`.
    pub async fn get_federation_token(
        &self,
        caller: &ApiCaller,
        request: &FederationTokenRequest,
    ) -> Result<IssuedCredentials, AppError> {
        let now = Utc::now();
        let arn = federated_user_arn(&caller.account_id, &request.name);
        let tag_keys: Vec<(String, ContextValue)> = request
            .tags
            .iter()
            .map(|t| {
                (
                    format!("aws:RequestTag/{}", t.key),
                    ContextValue::single(t.value.clone()),
                )
            })
            .chain((!request.tags.is_empty()).then(|| {
                (
                    "aws:TagKeys".to_owned(),
                    ContextValue::list(request.tags.iter().map(|t| t.key.clone())),
                )
            }))
            .collect();
        let needed = [iam_domain::Requirement::named("sts:GetFederationToken", &arn)];
        let outcome = (|| {
            if caller.session.is_some() {
                return Err(AppError::new(
                    ErrorCode::AccessDenied,
                    "Cannot call GetFederationToken with session credentials",
                ));
            }
            let model = self
                .account(&caller.account_id)
                .ok_or_else(|| AppError::new(ErrorCode::AccessDenied, "the caller's account does not exist"))?;
            let user = crate::credentials::caller_user(model.state(), caller).ok_or_else(|| {
                AppError::new(
                    ErrorCode::AccessDenied,
                    "Only IAM users can call GetFederationToken in Gatehouse (the root user cannot)",
                )
            })?;
            self.authorize_action(&model, caller, "sts:GetFederationToken", &arn, &tag_keys, now)?;
            let (seconds, tags) = request.check().map_err(AppError::from)?;
            let claims = SessionClaims {
                kind: SessionKind::FederatedUser,
                account_id: caller.account_id.clone(),
                access_key_id: UniqueId::generate(IdKind::TemporaryAccessKey, random_bytes())
                    .as_str()
                    .to_owned(),
                secret_access_key: iam_secrets::secret_access_key(&random_bytes()).to_string(),
                principal_arn: arn.clone(),
                issuer_arn: user.arn.to_string(),
                issuer_id: user.user_id.to_string(),
                session_name: request.name.clone(),
                issued_at: now,
                expires_at: expiry(now, seconds),
                session_policy: request.policy.clone(),
                policy_arns: request.policy_arns.clone(),
                tags,
                transitive_tag_keys: Vec::new(),
                source_identity: None,
                mfa_authenticated: false,
                chained: false,
                issued_to: caller.principal_arn.clone(),
                web_identity: None,
            };
            self.seal_session(claims)
        })();
        let state = self.caller_state(caller);
        let parameters = present_parameters(request);
        self.record_call(CallFacts {
            caller,
            event_source: EVENT_SOURCE_STS,
            state: &state,
            event_name: "GetFederationToken",
            needed: &needed,
            request_parameters: parameters,
            outcome: outcome.as_ref().map(|issued| {
                (
                    json!({
                        "credentials": {"accessKeyId": issued.access_key_id, "expiration": issued.expiration},
                        "federatedUser": {"federatedUserId": issued.assumed_role_id, "arn": issued.assumed_role_arn},
                        "packedPolicySize": request.packed_policy_size(),
                    }),
                    None,
                )
            }),
            read_only: true,
            now,
        })
        .await?;
        outcome
    }

    /// The caller's account state, for a record (empty when the account is gone).
    fn caller_state(&self, caller: &ApiCaller) -> Arc<AccountState> {
        self.account(&caller.account_id)
            .map(|m| m.state().clone())
            .unwrap_or_default()
    }

    /// An authorization failure's answer: its message with the decision's detail appended,
    /// sealed for the caller's account (`Encoded authorization failure message: ...`), as AWS
    /// appends one. Other errors pass unchanged.
    pub(crate) fn encode_denial(&self, account: &str, mut error: AppError) -> AppError {
        let Some(denial) = error.denial.take() else {
            return error;
        };
        let text = denial.to_string();
        if let Ok(sealed) = self.sealer.seal(&text, &message_owner(account), random_bytes()) {
            error.message = format!("{} Encoded authorization failure message: {sealed}", error.message);
        }
        error
    }

    /// `DecodeAuthorizationMessage`: the detail of a refusal this account was given, for a
    /// caller allowed `sts:DecodeAuthorizationMessage`. A message of another account does not
    /// open (it is sealed for its own).
    ///
    /// # Errors
    /// `AccessDenied`; `InvalidAuthorizationMessageException` for a message that does not decode.
    pub async fn decode_authorization_message(&self, caller: &ApiCaller, encoded: &str) -> Result<String, AppError> {
        let now = Utc::now();
        let needed = [iam_domain::Requirement::named("sts:DecodeAuthorizationMessage", "*")];
        let outcome = (|| {
            let model = self
                .account(&caller.account_id)
                .ok_or_else(|| AppError::new(ErrorCode::AccessDenied, "the caller's account does not exist"))?;
            self.authorize_requirements(&model, caller, &needed, now)?;
            self.sealer
                .open(encoded.trim(), &message_owner(&caller.account_id))
                .map(|text| text.to_string())
                .map_err(|_| {
                    AppError::new(
                        ErrorCode::InvalidAuthorizationMessageException,
                        "The message is not an encoded authorization message of this account",
                    )
                })
        })();
        let state = self.caller_state(caller);
        self.record_call(CallFacts {
            caller,
            event_source: EVENT_SOURCE_STS,
            state: &state,
            event_name: "DecodeAuthorizationMessage",
            needed: &needed,
            request_parameters: json!({ "encodedMessage": bounded_text(encoded) }),
            outcome: outcome.as_ref().map(|_| (Value::Null, None)),
            read_only: true,
            now,
        })
        .await?;
        outcome.map_err(|error| self.encode_denial(&caller.account_id, error))
    }

    /// `GetAccessKeyInfo`: the account an access key id belongs to, for a caller allowed
    /// `sts:GetAccessKeyInfo`. Long-term keys are looked up in the key index (a deleted key is
    /// unknown); a temporary key is known only as the caller's own (sessions are not indexed:
    /// their tokens carry them). Recorded under `sts.amazonaws.com`.
    ///
    /// # Errors
    /// `AccessDenied`; `ValidationError` for text that is not an access key id;
    /// `InvalidParameterValue` for an id Gatehouse does not know.
    pub async fn get_access_key_info(&self, caller: &ApiCaller, access_key_id: &str) -> Result<String, AppError> {
        let now = Utc::now();
        let needed = [iam_domain::Requirement::named("sts:GetAccessKeyInfo", "*")];
        let outcome = (|| {
            let model = self
                .account(&caller.account_id)
                .ok_or_else(|| AppError::new(ErrorCode::AccessDenied, "the caller's account does not exist"))?;
            self.authorize_requirements(&model, caller, &needed, now)?;
            if !(16..=128).contains(&access_key_id.len()) || !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(AppError::new(
                    ErrorCode::ValidationError,
                    "1 validation error detected: Value at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]*",
                ));
            }
            if caller.access_key_id.as_deref() == Some(access_key_id) {
                return Ok(caller.account_id.clone());
            }
            self.account_of_key(access_key_id).ok_or_else(|| {
                AppError::new(
                    ErrorCode::InvalidParameterValue,
                    format!("The access key id {access_key_id} is not one Gatehouse knows"),
                )
            })
        })();
        let state = self.caller_state(caller);
        self.record_call(CallFacts {
            caller,
            event_source: EVENT_SOURCE_STS,
            state: &state,
            event_name: "GetAccessKeyInfo",
            needed: &needed,
            request_parameters: json!({ "accessKeyId": bounded_text(access_key_id) }),
            outcome: outcome.as_ref().map(|account| (json!({ "account": account }), None)),
            read_only: true,
            now,
        })
        .await?;
        outcome
    }

    /// `AssumeRole`: authorizes `caller` for `sts:AssumeRole` on the role (its identity side and
    /// the role's trust policy), issues a role session and records the call.
    ///
    /// # Errors
    /// `AccessDenied` (also for a role that does not exist, so roles cannot be probed),
    /// `ValidationError` / `LimitExceeded` / `MalformedPolicyDocument` for bad parameters,
    /// `ServiceFailure` when the record cannot be made durable.
    pub async fn assume_role(
        &self,
        caller: &ApiCaller,
        request: &AssumeRoleRequest,
    ) -> Result<IssuedCredentials, AppError> {
        let now = Utc::now();
        let outcome = match self
            .request_mfa(
                caller,
                request.serial_number.as_deref(),
                request.token_code.as_deref(),
                now,
            )
            .await
        {
            Ok(mfa) => self.issue_role_session(caller, request, mfa, now),
            Err(refused) => Err(refused),
        };
        let response = outcome.as_ref().map(|issued| {
            (
                json!({
                    "credentials": {"accessKeyId": issued.access_key_id, "expiration": issued.expiration},
                    "assumedRoleUser": {"assumedRoleId": issued.assumed_role_id, "arn": issued.assumed_role_arn},
                }),
                None,
            )
        });
        let state = self.caller_state(caller);
        // As CloudTrail records them, the session policy included (what the session could do
        // is what an auditor asks); the record's size bound applies to the whole.
        let parameters = present_parameters(request);
        let needed = [iam_domain::Requirement::named(
            "sts:AssumeRole",
            bounded_text(&request.role_arn),
        )];
        self.record_call(CallFacts {
            caller,
            event_source: EVENT_SOURCE_STS,
            state: &state,
            event_name: "AssumeRole",
            needed: &needed,
            request_parameters: parameters,
            outcome: response,
            read_only: true,
            now,
        })
        .await?;
        outcome
    }

    /// `GetSessionToken`: temporary credentials of the calling user (or root user) itself,
    /// needing no permission, as in AWS. A session cannot get another this way.
    ///
    /// # Errors
    /// `AccessDenied` for a caller signing with temporary credentials; `ValidationError` for a
    /// duration outside 900 s to 36 h (one hour for the root user).
    pub async fn get_session_token(
        &self,
        caller: &ApiCaller,
        duration_seconds: Option<u32>,
        mfa: Option<(&str, &str)>,
    ) -> Result<IssuedCredentials, AppError> {
        let now = Utc::now();
        let (serial_number, token_code) = mfa.unzip();
        let outcome = match self.request_mfa(caller, serial_number, token_code, now).await {
            Ok(mfa) => self.issue_user_session(caller, duration_seconds, mfa, now),
            Err(refused) => Err(refused),
        };
        let response = outcome.as_ref().map(|issued| {
            (
                json!({"credentials": {"accessKeyId": issued.access_key_id, "expiration": issued.expiration}}),
                None,
            )
        });
        let state = self.caller_state(caller);
        self.record_call(CallFacts {
            caller,
            event_source: EVENT_SOURCE_STS,
            state: &state,
            event_name: "GetSessionToken",
            needed: &[iam_domain::Requirement::named("sts:GetSessionToken", "*")],
            request_parameters: json!({ "durationSeconds": duration_seconds, "serialNumber": serial_number }),
            outcome: response,
            read_only: true,
            now,
        })
        .await?;
        outcome
    }

    /// An STS request's MFA: none, or a code of the calling user's device (accepted once).
    async fn request_mfa(
        &self,
        caller: &ApiCaller,
        serial_number: Option<&str>,
        token_code: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, AppError> {
        match (serial_number, token_code) {
            (None, None) => Ok(false),
            (Some(serial_number), Some(code)) => self.caller_mfa(caller, serial_number, code, now).await.map(|()| true),
            _ => Err(AppError::new(
                ErrorCode::ValidationError,
                "SerialNumber and TokenCode must be given together",
            )),
        }
    }

    fn issue_user_session(
        &self,
        caller: &ApiCaller,
        duration_seconds: Option<u32>,
        mfa: bool,
        now: DateTime<Utc>,
    ) -> Result<IssuedCredentials, AppError> {
        if caller.session.is_some() {
            return Err(AppError::new(
                ErrorCode::AccessDenied,
                "Cannot call GetSessionToken with session credentials",
            ));
        }
        let model = self
            .account(&caller.account_id)
            .ok_or_else(|| AppError::new(ErrorCode::AccessDenied, "the caller's account does not exist"))?;
        let principal = caller_principal(&model, caller).ok_or_else(|| {
            AppError::new(
                ErrorCode::AccessDenied,
                "the caller is no longer a principal of its account",
            )
        })?;
        let seconds = user_session_seconds(duration_seconds, principal.is_root).map_err(AppError::from)?;
        let issuer_id = crate::access::user_identity(model.state(), &caller.principal_arn, None).principal_id;
        let claims = SessionClaims {
            kind: SessionKind::UserSession,
            account_id: caller.account_id.clone(),
            access_key_id: UniqueId::generate(IdKind::TemporaryAccessKey, random_bytes())
                .as_str()
                .to_owned(),
            secret_access_key: iam_secrets::secret_access_key(&random_bytes()).to_string(),
            principal_arn: caller.principal_arn.clone(),
            issuer_arn: caller.principal_arn.clone(),
            issuer_id,
            session_name: String::new(),
            issued_at: now,
            expires_at: expiry(now, seconds),
            session_policy: None,
            policy_arns: Vec::new(),
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            source_identity: None,
            mfa_authenticated: mfa,
            chained: false,
            issued_to: caller.principal_arn.clone(),
            web_identity: None,
        };
        self.seal_session(claims)
    }

    /// The credentials of `claims`: its key and secret, and the claims sealed as its token.
    pub(crate) fn seal_session(&self, claims: SessionClaims) -> Result<IssuedCredentials, AppError> {
        let json = Zeroizing::new(
            serde_json::to_string(&claims)
                .map_err(|e| AppError::new(ErrorCode::ServiceFailure, format!("session cannot be encoded: {e}")))?,
        );
        let session_token = self
            .sealer
            .seal(&json, &token_owner(&claims.access_key_id), random_bytes())
            .map_err(|e| AppError::new(ErrorCode::ServiceFailure, e.to_string()))?;
        Ok(IssuedCredentials {
            assumed_role_id: claims.user_id(),
            access_key_id: claims.access_key_id.clone(),
            secret_access_key: Zeroizing::new(claims.secret_access_key.clone()),
            session_token: Zeroizing::new(session_token),
            expiration: claims.expires_at,
            assumed_role_arn: claims.principal_arn.clone(),
        })
    }

    fn issue_role_session(
        &self,
        caller: &ApiCaller,
        request: &AssumeRoleRequest,
        mfa: bool,
        now: DateTime<Utc>,
    ) -> Result<IssuedCredentials, AppError> {
        let denied = |why: &str| {
            AppError::new(
                ErrorCode::AccessDenied,
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {} {why}",
                    caller.principal_arn,
                    bounded_text(&request.role_arn)
                ),
            )
        };
        let (role_account, role_name) = role_of(&request.role_arn).map_err(AppError::from)?;
        let caller_model = self
            .account(&caller.account_id)
            .ok_or_else(|| denied("because the caller's account does not exist"))?;
        let principal = caller_principal(&caller_model, caller)
            .ok_or_else(|| denied("because the caller is no longer a principal of its account"))?;
        if principal.is_root {
            return Err(denied("because the root user cannot assume roles"));
        }
        if caller
            .session
            .as_deref()
            .is_some_and(|s| s.kind == SessionKind::FederatedUser)
        {
            return Err(denied("because a federated user (GetFederationToken) cannot call STS"));
        }
        let role_model = self
            .account(&role_account)
            .ok_or_else(|| denied("because no role trusts the caller"))?;
        let role = role_model
            .state()
            .role(&role_name)
            .filter(|role| role.arn.to_string() == request.role_arn)
            .cloned()
            .ok_or_else(|| denied("because no role trusts the caller"))?;
        // Assuming a role from a role session is role chaining; from a user session it is not.
        let chained_from = caller.session.as_deref().filter(|s| s.is_role_session());
        let (duration, tags) = request.check(&role, chained_from).map_err(AppError::from)?;

        // The caller's context, and the keys this request sets.
        let facts = RequestFacts {
            source_ip: caller.source_ip.clone(),
            extra: caller
                .session
                .as_deref()
                .map(|claims| session_keys(caller_model.state(), claims, now))
                .unwrap_or_default(),
            ..RequestFacts::default()
        };
        let mut context = caller_model.request_context(&principal, &facts, now);
        let single = |value: &str| ContextValue::single(value.to_owned());
        context.insert("sts:RoleSessionName", single(&request.role_session_name));
        if mfa {
            // The code was checked just now, with this request.
            context.insert("aws:MultiFactorAuthPresent", single("true"));
            context.insert("aws:MultiFactorAuthAge", single("0"));
        }
        if let Some(external_id) = &request.external_id {
            context.insert("sts:ExternalId", single(external_id));
        }
        let source_identity = request
            .source_identity
            .clone()
            .or_else(|| chained_from.and_then(|c| c.source_identity.clone()));
        if let Some(source_identity) = &source_identity {
            context.insert("sts:SourceIdentity", single(source_identity));
        }
        for tag in &tags {
            context.insert(&format!("aws:RequestTag/{}", tag.key()), single(tag.value()));
        }
        if !tags.is_empty() {
            context.insert(
                "aws:TagKeys",
                ContextValue::list(tags.iter().map(|t| t.key().to_owned())),
            );
        }
        if !request.transitive_tag_keys.is_empty() {
            context.insert(
                "sts:TransitiveTagKeys",
                ContextValue::list(request.transitive_tag_keys.iter().cloned()),
            );
        }
        let trust_document = iam_policy::parse_policy(&role.assume_role_policy_document)
            .map_err(|_| denied("because the role's trust policy cannot be read"))?;
        let trust = PolicySet::compile([(
            PolicySource::new(role.arn.to_string(), PolicyType::Resource),
            &trust_document,
        )])
        .map_err(|_| denied("because the role's trust policy cannot be read"))?;
        // The caller's SCPs and the role's account's RCPs bear on it too, and a closed account's
        // roles cannot be assumed.
        let (own, owner) = self.organization_keys(&caller.account_id, &role_account, &mut context);
        if owner.as_deref().is_some_and(|g| g.suspended) {
            return Err(denied("because the role's account is closed"));
        }
        let none = iam_authz::Guardrails::none();
        let decision = iam_authz::authorize_guarded(
            &principal,
            "sts:AssumeRole",
            &request.role_arn,
            Some(&role_account),
            Some(&trust),
            own.as_deref().map_or(&none, |g| &g.guardrails),
            owner.as_deref().map_or(&none, |g| &g.guardrails),
            &context,
        );
        // Unlike other resource policies, a trust policy must always allow: the caller's own
        // policies can add to it (when it names the account) but never stand in for it.
        match decision.effect {
            DecisionEffect::Allowed if decision.details.allowed_by_resource_policy == Some(true) => {}
            DecisionEffect::ExplicitDeny => return Err(denied("with an explicit deny")),
            DecisionEffect::Allowed | DecisionEffect::ImplicitDeny => {
                return Err(denied(
                    "because no policy allows it (the role's trust policy and the caller's policies must)",
                ))
            }
        }

        let access_key_id = UniqueId::generate(IdKind::TemporaryAccessKey, random_bytes())
            .as_str()
            .to_owned();
        let secret_access_key = iam_secrets::secret_access_key(&random_bytes());
        let principal_arn = assumed_role_arn(&role, &role_account, &request.role_session_name);
        let claims = SessionClaims {
            kind: SessionKind::AssumedRole,
            account_id: role_account,
            access_key_id: access_key_id.clone(),
            secret_access_key: secret_access_key.to_string(),
            principal_arn: principal_arn.clone(),
            issuer_arn: role.arn.to_string(),
            issuer_id: role.role_id.to_string(),
            session_name: request.role_session_name.clone(),
            issued_at: now,
            expires_at: expiry(now, duration),
            session_policy: request.policy.clone(),
            policy_arns: request.policy_arns.clone(),
            tags,
            transitive_tag_keys: request.transitive_tag_keys.clone(),
            source_identity,
            mfa_authenticated: mfa || caller.session.as_deref().is_some_and(|c| c.mfa_authenticated),
            chained: chained_from.is_some(),
            issued_to: caller.principal_arn.clone(),
            web_identity: None,
        };
        self.seal_session(claims)
    }
}
