//! A token that passed [`crate::verify()`]: the claims a session is built from, and the condition
//! keys AWS puts in the request context of `AssumeRoleWithWebIdentity` for it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::jwks::Algorithm;
use crate::provider::ProviderUrl;

/// A verified web identity token. Built only by [`crate::verify()`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    pub(crate) provider: ProviderUrl,
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) aud: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) exp: DateTime<Utc>,
    pub(crate) iat: DateTime<Utc>,
    pub(crate) nbf: Option<DateTime<Utc>>,
    pub(crate) azp: Option<String>,
    pub(crate) amr: Option<Vec<String>>,
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) claims: Map<String, Value>,
}

impl VerifiedToken {
    /// The provider that issued the token.
    pub fn provider(&self) -> &ProviderUrl {
        &self.provider
    }

    /// `iss`: the provider's URL with its scheme (STS's `Provider` response element).
    pub fn iss(&self) -> &str {
        &self.iss
    }

    /// `sub`: the user at the provider (STS's `SubjectFromWebIdentityToken`).
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// The client id of the provider that the token's `aud` matched (STS's `Audience`).
    pub fn aud(&self) -> &str {
        &self.aud
    }

    /// Every value of the token's `aud`, in order.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// `exp`: when the token stops being accepted.
    pub fn exp(&self) -> DateTime<Utc> {
        self.exp
    }

    /// `iat`: when the provider issued the token.
    pub fn iat(&self) -> DateTime<Utc> {
        self.iat
    }

    /// `nbf`, if the token has one.
    pub fn nbf(&self) -> Option<DateTime<Utc>> {
        self.nbf
    }

    /// `azp`: the party the token was issued to, if present.
    pub fn azp(&self) -> Option<&str> {
        self.azp.as_deref()
    }

    /// `amr`: the authentication methods, empty when the token has none.
    pub fn amr(&self) -> &[String] {
        self.amr.as_deref().unwrap_or_default()
    }

    /// The algorithm the token was signed with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The `kid` the token named, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Every claim of the payload, in document order (for session tags, `sts:SourceIdentity`,
    /// provider-specific keys).
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// The condition keys AWS sets for `AssumeRoleWithWebIdentity` with this token, for a
    /// generic OIDC provider named `<url>` (its [`ProviderUrl::as_str`]), in this order:
    ///
    /// - `aws:FederatedProvider`: `federated_provider_arn`, the provider's ARN, which the caller
    ///   builds (`arn:aws:iam::<account>:oidc-provider/<url>`);
    /// - `<url>:aud`: `azp` when the token has one, else the matched client id ([`Self::aud`]);
    /// - `<url>:oaud`: the original `aud` claim, a string or an array as the token had it;
    /// - `<url>:sub`: `sub`;
    /// - `<url>:azp`: `azp`, only when present;
    /// - `<url>:amr`: `amr` as an array (a multivalued key), only when present.
    ///
    /// The `aud`/`oaud`/`azp` rule is the one the IAM User Guide documents for Google ID
    /// tokens; this crate applies it to every provider, so a token without `azp` gives `:aud`
    /// and `:oaud` the same audience.
    pub fn condition_keys(&self, federated_provider_arn: &str) -> Vec<(String, Value)> {
        let key = |claim: &str| self.provider.condition_key(claim);
        let mut keys = vec![
            (
                "aws:FederatedProvider".to_owned(),
                Value::String(federated_provider_arn.to_owned()),
            ),
            (
                key("aud"),
                Value::String(self.azp.clone().unwrap_or_else(|| self.aud.clone())),
            ),
            (
                key("oaud"),
                self.claims
                    .get("aud")
                    .cloned()
                    .unwrap_or_else(|| Value::String(self.aud.clone())),
            ),
            (key("sub"), Value::String(self.sub.clone())),
        ];
        if let Some(azp) = &self.azp {
            keys.push((key("azp"), Value::String(azp.clone())));
        }
        if let Some(amr) = &self.amr {
            keys.push((key("amr"), Value::from(amr.clone())));
        }
        keys
    }
}
