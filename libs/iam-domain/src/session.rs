//! Temporary credentials (STS): what a session carries, and AWS's rules for the requests that
//! issue one. Pure: the application layer draws the key, seals the claims into the session token
//! and checks the trust policy.
//!
//! A session token is self-contained: every gateway replica that holds the master key opens it
//! and learns who signs with it (the role, the session's policies and tags, its source identity,
//! MFA facts and issue time) without reading a database.

use chrono::{DateTime, Duration, Utc};
use iam_types::{validate_tag_set, IamArn, ResourceKind, Tag};

use crate::command::TagInput;
use crate::error::DomainError;
use crate::state::Role;

/// The shortest session AWS issues, in seconds.
pub const MIN_SESSION_SECONDS: u32 = 900;
/// The session length when a request names none.
pub const DEFAULT_SESSION_SECONDS: u32 = 3600;
/// The longest session one role session may get by assuming another role (role chaining).
pub const CHAINED_SESSION_SECONDS: u32 = 3600;
/// The most managed policies a session may name (`PolicyArns`).
pub const MAX_SESSION_POLICY_ARNS: usize = 10;
/// The longest inline session policy, in characters.
pub const MAX_SESSION_POLICY_CHARS: usize = 2048;

/// How a session came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SessionKind {
    /// `AssumeRole`: a role session.
    AssumedRole,
    /// `GetSessionToken`: the calling user (or root user) itself, for a while.
    UserSession,
    /// A password sign-in (`POST /v1/signin`): the user itself, as a console session is.
    SignIn,
    /// `GetFederationToken`: a federated user, with at most the calling user's permissions and
    /// only what the session policies also allow.
    FederatedUser,
}

/// What a session token carries. Its `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionClaims {
    /// How it was issued.
    pub kind: SessionKind,
    /// The account the session acts in (the role's).
    pub account_id: String,
    /// `ASIA...`.
    pub access_key_id: String,
    /// The session's secret access key; the token is sealed, so only the server reads it.
    pub secret_access_key: String,
    /// Who signs with it: `arn:aws:sts::<account>:assumed-role/<role>/<session>` for a role
    /// session, the user's (or root user's) own ARN for a user session.
    pub principal_arn: String,
    /// What the session is of: the role's ARN (with its path), or the user's (root user's).
    pub issuer_arn: String,
    /// The issuer's unique id (`AROA...`, `AIDA...`, or the account id for the root user).
    pub issuer_id: String,
    /// `RoleSessionName` (empty for a user session).
    pub session_name: String,
    /// When it was issued (`aws:TokenIssueTime`).
    pub issued_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// The inline session policy.
    pub session_policy: Option<String>,
    /// The managed session policies' ARNs.
    pub policy_arns: Vec<String>,
    /// Session tags (`aws:PrincipalTag/*`, over the role's own).
    pub tags: Vec<Tag>,
    /// The tag keys that pass on when this session assumes another role.
    pub transitive_tag_keys: Vec<String>,
    /// `SourceIdentity`, kept through chaining.
    pub source_identity: Option<String>,
    /// Whether the session was issued with MFA (`aws:MultiFactorAuthPresent`).
    pub mfa_authenticated: bool,
    /// Whether a role session assumed this role (role chaining).
    pub chained: bool,
    /// The ARN of whoever asked for the session.
    pub issued_to: String,
    /// For `AssumeRoleWithWebIdentity`: the provider and the token's subject and audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_identity: Option<WebIdentity>,
}

/// Who a web-identity session was issued to (CloudTrail's `webIdFederationData`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebIdentity {
    /// The OIDC provider's ARN.
    pub provider_arn: String,
    /// The token's `sub`.
    pub subject: String,
    /// The audience the token was for.
    pub audience: String,
}

impl std::fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionClaims")
            .field("kind", &self.kind)
            .field("account_id", &self.account_id)
            .field("access_key_id", &self.access_key_id)
            .field("principal_arn", &self.principal_arn)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl SessionClaims {
    /// `aws:userid`: `<role id>:<session name>` for a role session, the user's id otherwise.
    #[must_use]
    pub fn user_id(&self) -> String {
        match self.kind {
            SessionKind::AssumedRole => format!("{}:{}", self.issuer_id, self.session_name),
            SessionKind::UserSession | SessionKind::SignIn => self.issuer_id.clone(),
            SessionKind::FederatedUser => format!("{}:{}", self.account_id, self.session_name),
        }
    }

    /// Whether this is a role session (so assuming a role from it is role chaining).
    #[must_use]
    pub fn is_role_session(&self) -> bool {
        self.kind == SessionKind::AssumedRole
    }

    /// Whether the session has ended at `now`.
    #[must_use]
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}

/// `AssumeRole`'s parameters, as the request carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssumeRoleRequest {
    /// `RoleArn`.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub role_session_name: String,
    /// `DurationSeconds`.
    pub duration_seconds: Option<u32>,
    /// `ExternalId` (`sts:ExternalId`).
    pub external_id: Option<String>,
    /// `Policy`: an inline session policy.
    pub policy: Option<String>,
    /// `PolicyArns`: managed session policies.
    pub policy_arns: Vec<String>,
    /// `Tags`: session tags.
    pub tags: Vec<TagInput>,
    /// `TransitiveTagKeys`.
    pub transitive_tag_keys: Vec<String>,
    /// `SourceIdentity` (`sts:SourceIdentity`).
    pub source_identity: Option<String>,
    /// `SerialNumber`: the caller's MFA device.
    pub serial_number: Option<String>,
    /// `TokenCode`: its current code (one-time, and never recorded).
    #[serde(skip)]
    pub token_code: Option<String>,
}

/// The role an `AssumeRole` names: its account and name, from `RoleArn`.
///
/// # Errors
/// `ValidationError` when `RoleArn` is not a role ARN.
pub fn role_of(role_arn: &str) -> Result<(String, String), DomainError> {
    let invalid = || DomainError::Validation(format!("{} is not a role ARN", shown(role_arn)));
    let arn = IamArn::parse(role_arn).map_err(|_| invalid())?;
    if arn.kind() != Some(ResourceKind::Role) {
        return Err(invalid());
    }
    let account = arn.account().ok_or_else(invalid)?.as_str().to_owned();
    let name = arn.name().ok_or_else(invalid)?.as_str().to_owned();
    Ok((account, name))
}

fn shown(text: &str) -> String {
    text.chars().take(256).collect()
}

fn check_chars(name: &str, text: &str, min: usize, max: usize, extra: &str) -> Result<(), DomainError> {
    let length = text.chars().count();
    let allowed = |c: char| c.is_ascii_alphanumeric() || extra.contains(c);
    if length < min || length > max || !text.chars().all(allowed) {
        return Err(DomainError::Validation(format!(
            "{name} must be {min} to {max} characters of [A-Za-z0-9{extra}]"
        )));
    }
    Ok(())
}

/// Session policies as AWS bounds them: at most 10 managed policy ARNs, and an inline document
/// of at most 2,048 characters that parses.
fn check_session_policies(policy: Option<&str>, policy_arns: &[String]) -> Result<(), DomainError> {
    if policy_arns.len() > MAX_SESSION_POLICY_ARNS {
        return Err(DomainError::Validation(format!(
            "PolicyArns may name at most {MAX_SESSION_POLICY_ARNS} policies"
        )));
    }
    for arn in policy_arns {
        let parsed = IamArn::parse(arn)
            .ok()
            .filter(|a| a.kind() == Some(ResourceKind::Policy));
        if parsed.is_none() {
            return Err(DomainError::Validation(format!("{} is not a policy ARN", shown(arn))));
        }
    }
    if let Some(policy) = policy {
        // The parameter itself is at most 2,048 characters in AWS's model, white space
        // included, so no token grows past that however a document is laid out.
        let length = policy.chars().count();
        if length > MAX_SESSION_POLICY_CHARS {
            return Err(DomainError::LimitExceeded(format!(
                "PackedPolicyTooLarge: the session policy has {length} characters; at most \
                 {MAX_SESSION_POLICY_CHARS} are allowed"
            )));
        }
        iam_policy::parse_policy(policy).map_err(|e| DomainError::MalformedPolicyDocument(e.to_string()))?;
    }
    Ok(())
}

fn session_tags(inputs: &[TagInput]) -> Result<Vec<Tag>, DomainError> {
    inputs
        .iter()
        .map(|t| Tag::new(&t.key, &t.value).map_err(|e| DomainError::Validation(e.to_string())))
        .collect()
}

/// `GetFederationToken`'s parameters, as the request carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FederationTokenRequest {
    /// `Name`: the federated user's name.
    pub name: String,
    /// `DurationSeconds`.
    pub duration_seconds: Option<u32>,
    /// `Policy`: an inline session policy.
    pub policy: Option<String>,
    /// `PolicyArns`: managed session policies.
    pub policy_arns: Vec<String>,
    /// `Tags`: session tags.
    pub tags: Vec<TagInput>,
}

impl FederationTokenRequest {
    /// Checks the request against AWS's rules: the session's length in seconds and its tags.
    ///
    /// # Errors
    /// `ValidationError` for a bad name, duration or tag; `LimitExceeded` for session policies
    /// over AWS's size; `MalformedPolicyDocument`.
    pub fn check(&self) -> Result<(u32, Vec<Tag>), DomainError> {
        check_chars("Name", &self.name, 2, 32, "+=,.@-_")?;
        let seconds = user_session_seconds(self.duration_seconds, false)?;
        check_session_policies(self.policy.as_deref(), &self.policy_arns)?;
        let tags = session_tags(&self.tags)?;
        validate_tag_set(&tags).map_err(|e| DomainError::Validation(e.to_string()))?;
        Ok((seconds, tags))
    }

    /// `PackedPolicySize`: the session policies' share of what a token may carry, in percent.
    pub fn packed_policy_size(&self) -> u32 {
        let chars = self.policy.as_deref().map_or(0, |p| p.chars().count());
        let share = chars * 100 / MAX_SESSION_POLICY_CHARS;
        u32::try_from(share).unwrap_or(100)
    }
}

/// `arn:aws:sts::<account>:federated-user/<name>`.
#[must_use]
pub fn federated_user_arn(account: &str, name: &str) -> String {
    format!("arn:aws:sts::{account}:federated-user/{name}")
}

impl AssumeRoleRequest {
    /// Checks the request against AWS's rules for assuming `role`, and answers with the
    /// session's length in seconds and its tags (a chained session's transitive tags first,
    /// then the request's, which may not override them).
    ///
    /// # Errors
    /// `ValidationError` for a bad session name, external id, source identity, duration or tag;
    /// `PackedPolicyTooLarge` (as `LimitExceeded`) for session policies over AWS's size.
    pub fn check(&self, role: &Role, chained_from: Option<&SessionClaims>) -> Result<(u32, Vec<Tag>), DomainError> {
        check_chars("RoleSessionName", &self.role_session_name, 2, 64, "+=,.@-_")?;
        if let Some(external_id) = &self.external_id {
            check_chars("ExternalId", external_id, 2, 1224, "+=,.@:/-_")?;
        }
        if let Some(source_identity) = &self.source_identity {
            check_chars("SourceIdentity", source_identity, 2, 64, "+=,.@-_")?;
            if source_identity.to_ascii_lowercase().starts_with("aws:") {
                return Err(DomainError::Validation("SourceIdentity may not start with aws:".into()));
            }
            // Once set, the source identity stays: a chained session cannot change it.
            if let Some(previous) = chained_from.and_then(|c| c.source_identity.as_deref()) {
                if previous != source_identity {
                    return Err(DomainError::Validation(
                        "SourceIdentity cannot be changed once a session has one".into(),
                    ));
                }
            }
        }
        let max = if chained_from.is_some() {
            CHAINED_SESSION_SECONDS
        } else {
            role.max_session_duration
        };
        let duration = self.duration_seconds.unwrap_or(DEFAULT_SESSION_SECONDS.min(max));
        if duration < MIN_SESSION_SECONDS || duration > max {
            return Err(DomainError::Validation(format!(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role: \
                 it must be between {MIN_SESSION_SECONDS} and {max} seconds{}",
                if chained_from.is_some() {
                    " (one hour when a role session assumes a role)"
                } else {
                    ""
                }
            )));
        }
        check_session_policies(self.policy.as_deref(), &self.policy_arns)?;
        let requested = session_tags(&self.tags)?;
        let mut tags: Vec<Tag> = Vec::new();
        if let Some(previous) = chained_from {
            for key in &previous.transitive_tag_keys {
                if let Some(tag) = previous.tags.iter().find(|t| t.key().eq_ignore_ascii_case(key)) {
                    if requested.iter().any(|r| r.key().eq_ignore_ascii_case(key)) {
                        return Err(DomainError::Validation(format!(
                            "the session tag {key} is transitive from the calling session and cannot be set again"
                        )));
                    }
                    tags.push(tag.clone());
                }
            }
        }
        tags.extend(requested);
        validate_tag_set(&tags).map_err(|e| DomainError::Validation(e.to_string()))?;
        if self.transitive_tag_keys.len() > iam_types::MAX_TAGS {
            return Err(DomainError::Validation(format!(
                "TransitiveTagKeys may name at most {} keys",
                iam_types::MAX_TAGS
            )));
        }
        for key in &self.transitive_tag_keys {
            if !tags.iter().any(|t| t.key().eq_ignore_ascii_case(key)) {
                return Err(DomainError::Validation(format!(
                    "TransitiveTagKeys names {}, which is not a session tag",
                    shown(key)
                )));
            }
        }
        Ok((duration, tags))
    }
}

/// The longest user session (`GetSessionToken`), in seconds.
pub const MAX_USER_SESSION_SECONDS: u32 = 129_600;
/// A user session's length when the request names none.
pub const DEFAULT_USER_SESSION_SECONDS: u32 = 43_200;
/// The longest session the root user may get.
pub const MAX_ROOT_SESSION_SECONDS: u32 = 3600;

/// `GetSessionToken`'s `DurationSeconds` checked for a user (`is_root` false) or the root user:
/// the session's length.
///
/// # Errors
/// `ValidationError` outside 900 s to 36 h (one hour for the root user).
pub fn user_session_seconds(duration_seconds: Option<u32>, is_root: bool) -> Result<u32, DomainError> {
    let (default, max) = if is_root {
        (MAX_ROOT_SESSION_SECONDS, MAX_ROOT_SESSION_SECONDS)
    } else {
        (DEFAULT_USER_SESSION_SECONDS, MAX_USER_SESSION_SECONDS)
    };
    let seconds = duration_seconds.unwrap_or(default);
    if !(MIN_SESSION_SECONDS..=max).contains(&seconds) {
        return Err(DomainError::Validation(format!(
            "DurationSeconds must be between {MIN_SESSION_SECONDS} and {max} seconds"
        )));
    }
    Ok(seconds)
}

/// `arn:aws:sts::<account>:assumed-role/<role name>/<session name>`.
#[must_use]
pub fn assumed_role_arn(role: &Role, account: &str, session_name: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/{}/{session_name}", role.role_name)
}

/// When a session issued at `now` for `seconds` ends.
#[must_use]
pub fn expiry(now: DateTime<Utc>, seconds: u32) -> DateTime<Utc> {
    now + Duration::seconds(i64::from(seconds))
}
