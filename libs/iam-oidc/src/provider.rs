//! What a registered IAM OIDC provider contributes to verification: its URL (which fixes the
//! issuer a token must name), its client ids (the audiences it accepts), its thumbprints and,
//! optionally, a key set registered with it.
//!
//! IAM takes the URL as `https://host/path` and stores it without the scheme: `host/path` is the
//! provider's name in its ARN (`arn:aws:iam::123456789012:oidc-provider/host/path`) and the prefix
//! of its condition keys (`host/path:sub`). A token's `iss` must be the URL with `https://`,
//! compared as strings (the URL is case-sensitive, a trailing `/` counts).
//!
//! Gatehouse extension, for local test issuers only: a URL registered as `http://` on a loopback
//! host (`localhost`, `127.0.0.0/8`, `[::1]`), with or without a port, expects `iss` to start
//! with `http://`. The scheme is kept in [`ProviderUrl`] (and in its [`fmt::Display`] form, the
//! one to persist), so a provider registered with `https://` never accepts an `http://` issuer.

use std::fmt;

use crate::error::{clip, OidcError};
use crate::jwks::Jwks;

/// Longest provider URL IAM accepts (`OpenIDConnectProviderUrlType`).
pub const MAX_PROVIDER_URL_LEN: usize = 255;

/// Most client ids (audiences) one IAM OIDC provider may have.
pub const MAX_CLIENT_IDS: usize = 100;

/// Longest client id IAM accepts.
pub const MAX_CLIENT_ID_LEN: usize = 255;

/// Most thumbprints one IAM OIDC provider may have.
pub const MAX_THUMBPRINTS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scheme {
    Https,
    /// Only on loopback hosts (a Gatehouse extension for local test issuers).
    LoopbackHttp,
}

impl Scheme {
    fn prefix(self) -> &'static str {
        match self {
            Scheme::Https => "https://",
            Scheme::LoopbackHttp => "http://",
        }
    }
}

/// An IAM OIDC provider URL: `host[/path]` as IAM stores it, plus its scheme.
///
/// Rules (IAM's `CreateOpenIDConnectProvider`): at most 255 characters; `https://` (or no scheme,
/// the stored form); a host name; path segments allowed; no query, fragment or user info; no
/// port. The loopback exception (see the module documentation) also allows `http://` and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderUrl {
    scheme: Scheme,
    /// `host[:port][/path]`, exactly as registered.
    host_path: String,
}

impl ProviderUrl {
    /// Parses a provider URL as given to `CreateOpenIDConnectProvider` (`https://host/path`) or as
    /// IAM stores and lists it (`host/path`, taken as `https://`), or a loopback `http://` URL.
    pub fn parse(url: &str) -> Result<ProviderUrl, OidcError> {
        let invalid = |reason| OidcError::InvalidProviderUrl { url: clip(url), reason };
        if url.len() > MAX_PROVIDER_URL_LEN {
            return Err(invalid("longer than 255 characters"));
        }
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::LoopbackHttp, rest)
        } else if url.contains("://") {
            return Err(invalid("the scheme must be `https://`"));
        } else {
            (Scheme::Https, url)
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if let Some(reason) = check_path(path) {
            return Err(invalid(reason));
        }
        let Authority { loopback, port } = check_authority(authority).map_err(invalid)?;
        if port && !loopback {
            return Err(invalid("the url must not contain a port"));
        }
        if scheme == Scheme::LoopbackHttp && !loopback {
            return Err(invalid(
                "the scheme must be `https://` (`http://` only for loopback test issuers)",
            ));
        }
        Ok(ProviderUrl {
            scheme,
            host_path: rest.to_owned(),
        })
    }

    /// The provider a token's `iss` names: like [`Self::parse`], but the scheme is required,
    /// as OpenID Connect requires of an issuer.
    pub fn from_issuer(iss: &str) -> Result<ProviderUrl, OidcError> {
        if iss.starts_with("https://") || iss.starts_with("http://") {
            ProviderUrl::parse(iss)
        } else {
            Err(OidcError::InvalidProviderUrl {
                url: clip(iss),
                reason: "an issuer must start with `https://`",
            })
        }
    }

    /// `host/path` as IAM stores it: the provider's name in its ARN and the prefix of its
    /// condition keys.
    pub fn as_str(&self) -> &str {
        &self.host_path
    }

    /// The `iss` a token from this provider carries: `https://host/path` (or `http://` for a
    /// loopback test issuer registered so).
    pub fn issuer(&self) -> String {
        format!("{}{}", self.scheme.prefix(), self.host_path)
    }

    /// Where the provider's OpenID configuration lives (OpenID Connect Discovery 1.0, section 4):
    /// the issuer without a trailing `/`, then `/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        let issuer = self.issuer();
        format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
    }

    /// Whether this is a loopback `http://` test issuer.
    pub fn is_loopback_http(&self) -> bool {
        self.scheme == Scheme::LoopbackHttp
    }

    /// The name of a condition key for one of the provider's claims: `host/path:claim`.
    pub fn condition_key(&self, claim: &str) -> String {
        format!("{}:{claim}", self.host_path)
    }
}

/// The URL with its scheme: the form to persist, since `http://` loopback issuers differ from
/// `https://` ones only there.
impl fmt::Display for ProviderUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.scheme.prefix(), self.host_path)
    }
}

/// What [`check_authority`] learned about a valid `host[:port]`.
pub(crate) struct Authority {
    /// The host is `localhost`, in `127.0.0.0/8` or `[::1]`.
    pub(crate) loopback: bool,
    /// A port is given.
    pub(crate) port: bool,
}

/// Checks `host[:port]`: a DNS name, an IPv4 address or `[::1]`; no user info.
pub(crate) fn check_authority(authority: &str) -> Result<Authority, &'static str> {
    if authority.is_empty() {
        return Err("the url has no host");
    }
    if authority.contains('@') {
        return Err("the url must not contain user information");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((inside, after)) = v6.split_once(']') else {
            return Err("malformed ipv6 host");
        };
        if inside != "::1" {
            return Err("ipv6 hosts other than `[::1]` are not supported");
        }
        match after {
            "" => (&authority[..inside.len() + 2], None),
            _ => match after.strip_prefix(':') {
                Some(port) => (&authority[..inside.len() + 2], Some(port)),
                None => return Err("malformed ipv6 host"),
            },
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p));
        if !valid {
            return Err("malformed port");
        }
    }
    let loopback = host == "[::1]" || host.eq_ignore_ascii_case("localhost") || is_loopback_ipv4(host);
    if !host.starts_with('[') {
        let labels_ok = host.split('.').all(|label| {
            !label.is_empty() && label.len() <= 63 && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if !labels_ok {
            return Err("malformed host name");
        }
    }
    Ok(Authority {
        loopback,
        port: port.is_some(),
    })
}

fn is_loopback_ipv4(host: &str) -> bool {
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.bytes().all(|b| b.is_ascii_digit()) && o.parse::<u8>().is_ok())
}

/// Checks a path: empty or starting with `/`, made of URL path characters; no query or fragment.
pub(crate) fn check_path(path: &str) -> Option<&'static str> {
    if path.contains('?') {
        return Some("the url must not contain a query");
    }
    if path.contains('#') {
        return Some("the url must not contain a fragment");
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@%/".contains(&b);
    if !path.bytes().all(allowed) {
        return Some("the path contains characters that are not allowed in a url");
    }
    None
}

/// What verification needs to know about a registered IAM OIDC provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredProvider {
    url: ProviderUrl,
    client_ids: Vec<String>,
    thumbprints: Vec<String>,
    registered_jwks: Option<Jwks>,
}

impl RegisteredProvider {
    /// Checks a registration against IAM's bounds: at most 100 client ids of 1 to 255
    /// characters; at most 5 thumbprints of 40 hexadecimal digits (kept in lowercase); and, when
    /// given, a key set that parses (see [`Jwks::parse`]).
    ///
    /// Thumbprints are kept for the adapter that fetches the key set (they pin the TLS
    /// certificate of the provider's endpoints); verification itself does not use them.
    pub fn new(
        url: ProviderUrl,
        client_ids: Vec<String>,
        thumbprints: Vec<String>,
        registered_jwks: Option<&str>,
    ) -> Result<RegisteredProvider, OidcError> {
        if client_ids.len() > MAX_CLIENT_IDS {
            return Err(OidcError::TooManyClientIds {
                count: client_ids.len(),
                max: MAX_CLIENT_IDS,
            });
        }
        if let Some(bad) = client_ids
            .iter()
            .find(|id| id.is_empty() || id.chars().count() > MAX_CLIENT_ID_LEN)
        {
            return Err(OidcError::InvalidClientId(clip(bad)));
        }
        if thumbprints.len() > MAX_THUMBPRINTS {
            return Err(OidcError::TooManyThumbprints {
                count: thumbprints.len(),
                max: MAX_THUMBPRINTS,
            });
        }
        let thumbprints = thumbprints
            .into_iter()
            .map(|t| {
                if t.len() == 40 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(t.to_ascii_lowercase())
                } else {
                    Err(OidcError::InvalidThumbprint(clip(&t)))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let registered_jwks = registered_jwks
            .map(Jwks::parse)
            .transpose()
            .map_err(|e| OidcError::InvalidRegisteredJwks(e.to_string()))?;
        Ok(RegisteredProvider {
            url,
            client_ids,
            thumbprints,
            registered_jwks,
        })
    }

    /// The provider's URL.
    pub fn url(&self) -> &ProviderUrl {
        &self.url
    }

    /// The client ids (audiences) a token's `aud` must include one of.
    pub fn client_ids(&self) -> &[String] {
        &self.client_ids
    }

    /// Lowercase hexadecimal SHA-1 thumbprints of the provider's TLS certificates.
    pub fn thumbprints(&self) -> &[String] {
        &self.thumbprints
    }

    /// The key set registered with the provider, if any: use it instead of fetching one.
    pub fn registered_jwks(&self) -> Option<&Jwks> {
        self.registered_jwks.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(url: &str) -> &'static str {
        match ProviderUrl::parse(url) {
            Err(OidcError::InvalidProviderUrl { reason, .. }) => reason,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn https_and_stored_forms_are_the_same_provider() {
        let given = ProviderUrl::parse("https://oidc.eks.us-east-1.amazonaws.com/id/ABC").unwrap();
        let stored = ProviderUrl::parse("oidc.eks.us-east-1.amazonaws.com/id/ABC").unwrap();
        assert_eq!(given, stored);
        assert_eq!(given.as_str(), "oidc.eks.us-east-1.amazonaws.com/id/ABC");
        assert_eq!(given.issuer(), "https://oidc.eks.us-east-1.amazonaws.com/id/ABC");
        assert_eq!(given.to_string(), given.issuer());
        assert_eq!(
            given.condition_key("sub"),
            "oidc.eks.us-east-1.amazonaws.com/id/ABC:sub"
        );
        assert!(!given.is_loopback_http());
    }

    #[test]
    fn a_trailing_slash_is_part_of_the_provider() {
        let url = ProviderUrl::parse("https://tenant.auth0.com/").unwrap();
        assert_eq!(url.as_str(), "tenant.auth0.com/");
        assert_eq!(url.issuer(), "https://tenant.auth0.com/");
        assert_eq!(url.condition_key("aud"), "tenant.auth0.com/:aud");
        assert_eq!(
            url.discovery_url(),
            "https://tenant.auth0.com/.well-known/openid-configuration"
        );
        assert_ne!(url, ProviderUrl::parse("https://tenant.auth0.com").unwrap());
    }

    #[test]
    fn loopback_test_issuers_may_use_http_and_a_port() {
        let url = ProviderUrl::parse("http://127.0.0.1:8080/realms/test").unwrap();
        assert!(url.is_loopback_http());
        assert_eq!(url.as_str(), "127.0.0.1:8080/realms/test");
        assert_eq!(url.issuer(), "http://127.0.0.1:8080/realms/test");
        assert_eq!(url.to_string(), "http://127.0.0.1:8080/realms/test");
        assert_eq!(
            url.discovery_url(),
            "http://127.0.0.1:8080/realms/test/.well-known/openid-configuration"
        );
        for ok in [
            "http://localhost:9000",
            "http://[::1]:1234/x",
            "https://localhost:8443",
            "http://127.1.2.3",
        ] {
            ProviderUrl::parse(ok).unwrap();
        }
        let https = ProviderUrl::parse("https://127.0.0.1:8443").unwrap();
        assert_eq!(
            https.issuer(),
            "https://127.0.0.1:8443",
            "the registered scheme is kept"
        );
    }

    #[test]
    fn iam_rules_are_enforced() {
        assert_eq!(
            reason("http://idp.example.com"),
            "the scheme must be `https://` (`http://` only for loopback test issuers)"
        );
        assert_eq!(reason("ftp://idp.example.com"), "the scheme must be `https://`");
        assert_eq!(reason("https://idp.example.com:443"), "the url must not contain a port");
        assert_eq!(
            reason("https://idp.example.com/path?x=1"),
            "the url must not contain a query"
        );
        assert_eq!(
            reason("https://idp.example.com/#top"),
            "the url must not contain a fragment"
        );
        assert_eq!(
            reason("https://user@idp.example.com"),
            "the url must not contain user information"
        );
        assert_eq!(reason("https://"), "the url has no host");
        assert_eq!(reason("https:///path"), "the url has no host");
        assert_eq!(reason("https://idp..example.com"), "malformed host name");
        assert_eq!(reason("https://idp example.com"), "malformed host name");
        assert_eq!(
            reason("https://[::2]/"),
            "ipv6 hosts other than `[::1]` are not supported"
        );
        assert_eq!(reason("http://localhost:0"), "malformed port");
        assert_eq!(reason("http://localhost:99999"), "malformed port");
        assert_eq!(
            reason("https://idp.example.com/a b"),
            "the path contains characters that are not allowed in a url"
        );
        assert_eq!(
            reason("http://128.0.0.1"),
            "the scheme must be `https://` (`http://` only for loopback test issuers)"
        );
        assert_eq!(
            reason(&format!("https://{}.com", "a".repeat(250))),
            "longer than 255 characters"
        );
    }

    #[test]
    fn an_issuer_needs_its_scheme() {
        assert!(ProviderUrl::from_issuer("https://accounts.google.com").is_ok());
        assert!(ProviderUrl::from_issuer("accounts.google.com").is_err());
    }

    #[test]
    fn registrations_are_bounded() {
        let url = ProviderUrl::parse("https://idp.example.com").unwrap();
        let ok = RegisteredProvider::new(url.clone(), vec!["app".into()], vec!["A".repeat(40)], None).unwrap();
        assert_eq!(ok.thumbprints(), ["a".repeat(40)]);
        assert!(ok.registered_jwks().is_none());
        let too_many = (0..=MAX_CLIENT_IDS).map(|i| i.to_string()).collect();
        assert!(matches!(
            RegisteredProvider::new(url.clone(), too_many, vec![], None),
            Err(OidcError::TooManyClientIds { count: 101, max: 100 })
        ));
        assert!(matches!(
            RegisteredProvider::new(url.clone(), vec![String::new()], vec![], None),
            Err(OidcError::InvalidClientId(_))
        ));
        assert!(matches!(
            RegisteredProvider::new(url.clone(), vec!["x".repeat(256)], vec![], None),
            Err(OidcError::InvalidClientId(_))
        ));
        assert!(matches!(
            RegisteredProvider::new(url.clone(), vec![], vec!["0".repeat(40); 6], None),
            Err(OidcError::TooManyThumbprints { count: 6, max: 5 })
        ));
        assert!(matches!(
            RegisteredProvider::new(url.clone(), vec![], vec!["g".repeat(40)], None),
            Err(OidcError::InvalidThumbprint(_))
        ));
        let bad_jwks = RegisteredProvider::new(url, vec![], vec![], Some(r#"{"keys":[]}"#)).unwrap_err();
        assert_eq!(bad_jwks.code(), crate::ErrorCode::InvalidInput);
    }
}
