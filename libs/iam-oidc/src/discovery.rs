//! The provider's OpenID configuration (`/.well-known/openid-configuration`, OpenID Connect
//! Discovery 1.0): where its key set lives. Fetching the document and the key set is the
//! adapter's job; this reads what it fetched.
//!
//! ```text
//! let config = discovery::parse(&body_of(provider.url().discovery_url()), provider.url())?;
//! let jwks = Jwks::parse(&body_of(config.jwks_uri()))?;
//! ```

use crate::error::{clip, OidcError};
use crate::json::{opt_str, parse_object};
use crate::provider::{check_authority, check_path, ProviderUrl};

/// Largest discovery document accepted, in bytes.
pub const MAX_DISCOVERY_BYTES: usize = 64 * 1024;

/// Longest `jwks_uri` accepted, in bytes.
pub const MAX_JWKS_URI_LEN: usize = 2048;

/// What verification needs from a provider's OpenID configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl Discovery {
    /// The document's `issuer`, equal to the provider's issuer URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The URL of the provider's key set.
    pub fn jwks_uri(&self) -> &str {
        &self.jwks_uri
    }
}

/// Reads a discovery document fetched from `provider.discovery_url()`.
///
/// Refuses a document over [`MAX_DISCOVERY_BYTES`], one that is not a JSON object without
/// duplicate members, an `issuer` that is not exactly the provider's issuer URL (Discovery 1.0,
/// section 4.3: otherwise another issuer could hand out its keys), and a `jwks_uri` that is not an
/// `https://` URL with a host and no user info or fragment. A loopback `http://` test provider
/// may name a loopback `http://` key set.
pub fn parse(document: &str, provider: &ProviderUrl) -> Result<Discovery, OidcError> {
    if document.len() > MAX_DISCOVERY_BYTES {
        return Err(OidcError::DiscoveryTooLarge {
            len: document.len(),
            max: MAX_DISCOVERY_BYTES,
        });
    }
    let malformed = |reason: &str| OidcError::MalformedDiscovery(reason.to_owned());
    let root = parse_object(document.as_bytes()).map_err(OidcError::MalformedDiscovery)?;
    let issuer = opt_str(&root, "issuer")
        .ok()
        .flatten()
        .ok_or_else(|| malformed("`issuer` must be a string"))?;
    let expected = provider.issuer();
    if issuer != expected {
        return Err(OidcError::DiscoveryIssuerMismatch {
            expected,
            actual: clip(issuer),
        });
    }
    let jwks_uri = opt_str(&root, "jwks_uri")
        .ok()
        .flatten()
        .ok_or_else(|| malformed("`jwks_uri` must be a string"))?;
    check_jwks_uri(jwks_uri, provider)
        .map_err(|reason| OidcError::MalformedDiscovery(format!("`jwks_uri` `{}` {reason}", clip(jwks_uri))))?;
    Ok(Discovery {
        issuer: issuer.to_owned(),
        jwks_uri: jwks_uri.to_owned(),
    })
}

fn check_jwks_uri(uri: &str, provider: &ProviderUrl) -> Result<(), &'static str> {
    if uri.len() > MAX_JWKS_URI_LEN {
        return Err("is too long");
    }
    let (rest, http) = if let Some(rest) = uri.strip_prefix("https://") {
        (rest, false)
    } else if let Some(rest) = uri.strip_prefix("http://") {
        (rest, true)
    } else {
        return Err("must be an https url");
    };
    if rest.contains('#') {
        return Err("must not contain a fragment");
    }
    let (authority_path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if query.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        return Err("must not contain whitespace");
    }
    let (authority, path) = authority_path.split_at(authority_path.find('/').unwrap_or(authority_path.len()));
    if check_path(path).is_some() {
        return Err("has a malformed path");
    }
    let authority = check_authority(authority)?;
    if http && !(provider.is_loopback_http() && authority.loopback) {
        return Err("must be an https url");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(url: &str) -> ProviderUrl {
        ProviderUrl::parse(url).unwrap()
    }

    #[test]
    fn a_google_like_document_reads() {
        let doc = r#"{
            "issuer": "https://accounts.google.com",
            "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
            "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
            "id_token_signing_alg_values_supported": ["RS256"]
        }"#;
        let config = parse(doc, &provider("accounts.google.com")).unwrap();
        assert_eq!(config.issuer(), "https://accounts.google.com");
        assert_eq!(config.jwks_uri(), "https://www.googleapis.com/oauth2/v3/certs");
    }

    #[test]
    fn the_issuer_must_be_the_provider() {
        let doc = r#"{"issuer": "https://evil.example.com", "jwks_uri": "https://evil.example.com/keys"}"#;
        assert_eq!(
            parse(doc, &provider("idp.example.com")),
            Err(OidcError::DiscoveryIssuerMismatch {
                expected: "https://idp.example.com".into(),
                actual: "https://evil.example.com".into(),
            })
        );
        let slash = r#"{"issuer": "https://idp.example.com/", "jwks_uri": "https://idp.example.com/keys"}"#;
        assert!(parse(slash, &provider("idp.example.com")).is_err(), "exact comparison");
    }

    #[test]
    fn the_jwks_uri_must_be_https() {
        let p = provider("idp.example.com");
        for (uri, ok) in [
            ("https://idp.example.com/keys?v=2", true),
            ("https://keys.example.net:8443/jwks", true),
            ("http://idp.example.com/keys", false),
            ("http://127.0.0.1:9000/keys", false),
            ("https://user@idp.example.com/keys", false),
            ("https://idp.example.com/keys#x", false),
            ("https:///keys", false),
            ("file:///etc/passwd", false),
            ("https://idp.example.com/a b", false),
        ] {
            let doc = format!(r#"{{"issuer": "https://idp.example.com", "jwks_uri": "{uri}"}}"#);
            assert_eq!(parse(&doc, &p).is_ok(), ok, "{uri}");
        }
    }

    #[test]
    fn loopback_test_providers_may_use_http() {
        let p = provider("http://127.0.0.1:8080/realms/t");
        let doc = r#"{"issuer": "http://127.0.0.1:8080/realms/t", "jwks_uri": "http://127.0.0.1:8080/realms/t/certs"}"#;
        assert!(parse(doc, &p).is_ok());
        let remote = r#"{"issuer": "http://127.0.0.1:8080/realms/t", "jwks_uri": "http://example.com/certs"}"#;
        assert!(parse(remote, &p).is_err());
    }

    #[test]
    fn malformed_documents() {
        let p = provider("idp.example.com");
        for doc in [
            "[]",
            r#"{"issuer": 1, "jwks_uri": "https://idp.example.com/k"}"#,
            r#"{"issuer": "https://idp.example.com"}"#,
            r#"{"issuer": "https://idp.example.com", "jwks_uri": "https://idp.example.com/k", "jwks_uri": "https://evil/k"}"#,
        ] {
            assert!(matches!(parse(doc, &p), Err(OidcError::MalformedDiscovery(_))), "{doc}");
        }
        let huge = format!(r#"{{"pad": "{}"}}"#, "x".repeat(MAX_DISCOVERY_BYTES));
        assert!(matches!(parse(&huge, &p), Err(OidcError::DiscoveryTooLarge { .. })));
    }
}
