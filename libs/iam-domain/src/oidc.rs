//! OpenID Connect identity providers: the IAM entities that let tokens of an outside issuer
//! (GitHub Actions, a Kubernetes cluster, Google, a company's own IdP) be traded for role
//! sessions with `AssumeRoleWithWebIdentity`. The provider names the issuer, the audiences
//! (client ids) it accepts and, optionally, its signing keys registered with it (a Gatehouse
//! extension for issuers that cannot be reached); `iam-oidc` checks all of it.

use chrono::{DateTime, Utc};
use iam_oidc::{OidcError, ProviderUrl, RegisteredProvider};
use iam_types::Tag;

use crate::error::DomainError;

/// The most OIDC providers one account may register (AWS's default quota).
pub const OIDC_PROVIDERS_PER_ACCOUNT: usize = 100;

/// A registered OIDC provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    /// `arn:aws:iam::<account>:oidc-provider/<host/path>`.
    pub arn: String,
    /// The issuer URL, scheme included (`https://host/path`).
    pub url: String,
    /// The audiences a token may be for.
    pub client_ids: Vec<String>,
    /// Certificate thumbprints (kept as AWS keeps them; keys are fetched, not pinned by them).
    pub thumbprints: Vec<String>,
    /// The provider's JSON Web Key Set, when registered with it rather than fetched.
    pub jwks: Option<String>,
    /// When created.
    pub create_date: DateTime<Utc>,
    /// Tags.
    pub tags: Vec<Tag>,
}

impl OidcProvider {
    /// The provider as `iam-oidc` verifies tokens against it.
    ///
    /// # Errors
    /// As [`RegisteredProvider::new`]: never for a provider `decide` accepted.
    pub fn registered(&self) -> Result<RegisteredProvider, OidcError> {
        RegisteredProvider::new(
            ProviderUrl::parse(&self.url)?,
            self.client_ids.clone(),
            self.thumbprints.clone(),
            self.jwks.as_deref(),
        )
    }

    /// `host/path`: the provider's name in its ARN and in its condition keys.
    pub fn name(&self) -> &str {
        self.arn.split_once(":oidc-provider/").map_or("", |(_, name)| name)
    }
}

/// The ARN of a provider of `account` at `url`.
pub fn provider_arn(account: &str, url: &ProviderUrl) -> String {
    format!("arn:aws:iam::{account}:oidc-provider/{}", url.as_str())
}

/// A provider registration refused by `iam-oidc`'s checks, as IAM answers it.
pub(crate) fn invalid(error: OidcError) -> DomainError {
    DomainError::InvalidInput(error.to_string())
}

/// `iam.oidc_provider.created`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OidcProviderCreated {
    /// The ARN.
    pub arn: String,
    /// The issuer URL, scheme included.
    pub url: String,
    /// Client ids.
    pub client_ids: Vec<String>,
    /// Thumbprints.
    pub thumbprints: Vec<String>,
    /// Registered keys (public), if any.
    pub jwks: Option<String>,
    /// When.
    pub create_date: DateTime<Utc>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// `iam.oidc_provider.updated`: the client ids and thumbprints after the change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OidcProviderUpdated {
    /// The ARN.
    pub arn: String,
    /// Client ids.
    pub client_ids: Vec<String>,
    /// Thumbprints.
    pub thumbprints: Vec<String>,
}

/// `iam.oidc_provider.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OidcProviderDeleted {
    /// The ARN.
    pub arn: String,
}

/// `iam.oidc_provider.tagged`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OidcProviderTagged {
    /// The ARN.
    pub arn: String,
    /// The tags set.
    pub tags: Vec<Tag>,
}

/// `iam.oidc_provider.untagged`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OidcProviderUntagged {
    /// The ARN.
    pub arn: String,
    /// The keys removed.
    pub tag_keys: Vec<String>,
}
