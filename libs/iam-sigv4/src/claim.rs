//! Reading who claims to have signed a request, and how: the `Authorization` header or the presigned query.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::encoding::{percent_decode, raw_query_pairs};
use crate::error::SigV4Error;
use crate::request::HttpRequest;

/// The only algorithm this crate implements.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Last element of every SigV4 credential scope.
const SCOPE_TERMINATOR: &str = "aws4_request";
/// AWS's limit for `X-Amz-Expires`: seven days.
pub const MAX_PRESIGNED_EXPIRY_SECONDS: u32 = 604_800;
/// `yyyymmddThhmmssZ`, the ISO 8601 basic format of `X-Amz-Date`.
const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// `yyyymmdd` of the credential scope.
const SCOPE_DATE_FORMAT: &str = "%Y%m%d";

/// Where the signature travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureLocation {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
    Header,
    /// Presigned URL: `X-Amz-Algorithm`, `X-Amz-Credential`, ... in the query string.
    Query,
}

/// The `<date>/<region>/<service>/aws4_request` part of a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    date: NaiveDate,
    region: String,
    service: String,
}

impl CredentialScope {
    /// A scope for signing.
    pub fn new(date: NaiveDate, region: impl Into<String>, service: impl Into<String>) -> Self {
        CredentialScope {
            date,
            region: region.into(),
            service: service.into(),
        }
    }

    /// The day the signing key is derived for.
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// Region, for example `us-east-1`.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Service signing name, for example `iam` or `sts`.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// `yyyymmdd` as it appears in the scope.
    pub(crate) fn date_stamp(&self) -> String {
        self.date.format(SCOPE_DATE_FORMAT).to_string()
    }
}

impl std::fmt::Display for CredentialScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}/{SCOPE_TERMINATOR}",
            self.date_stamp(),
            self.region,
            self.service
        )
    }
}

/// What a request claims about its signature, read but not yet checked.
///
/// Only [`parse_authorization`] builds one; [`crate::verify()`] decides whether the claim holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureClaim {
    location: SignatureLocation,
    access_key_id: String,
    scope: CredentialScope,
    signed_headers: Vec<String>,
    request_time: DateTime<Utc>,
    expires_in_seconds: Option<u32>,
    session_token: Option<String>,
    signature: [u8; 32],
}

impl SignatureClaim {
    /// Header or presigned query.
    pub fn location(&self) -> SignatureLocation {
        self.location
    }

    /// The access key the client says it signed with; the caller looks up its secret.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// Date, region and service of the credential.
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }

    /// Lowercase header names, sorted, as the client listed them.
    pub fn signed_headers(&self) -> &[String] {
        &self.signed_headers
    }

    /// `X-Amz-Date` (or the `Date` header) as a point in time.
    pub fn request_time(&self) -> DateTime<Utc> {
        self.request_time
    }

    /// `X-Amz-Expires` of a presigned request.
    pub fn expires_in_seconds(&self) -> Option<u32> {
        self.expires_in_seconds
    }

    /// `X-Amz-Security-Token` (header or query), for temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// The signature sent by the client.
    pub(crate) fn signature(&self) -> &[u8; 32] {
        &self.signature
    }
}

/// Reads the SigV4 claim of a request, from its `Authorization` header or its presigned query.
///
/// Checks only the shape; [`crate::verify()`] checks the signature, scope and time.
pub fn parse_authorization(request: &HttpRequest) -> Result<SignatureClaim, SigV4Error> {
    let authorization = request
        .single_header("authorization")
        .map_err(|_| SigV4Error::AmbiguousAuthentication("the authorization header appears more than once"))?;
    let presigned = raw_query_pairs(&request.query).any(|(name, _)| percent_decode(name) == b"X-Amz-Algorithm");
    match (authorization, presigned) {
        (Some(_), true) => Err(SigV4Error::AmbiguousAuthentication(
            "only one of the authorization header and the x-amz-algorithm query parameter may be present",
        )),
        (Some(header), false) => parse_header_claim(request, header),
        (None, true) => parse_query_claim(request),
        (None, false) => Err(SigV4Error::MissingAuthentication),
    }
}

fn parse_header_claim(request: &HttpRequest, header: &str) -> Result<SignatureClaim, SigV4Error> {
    let header = header.trim();
    let (algorithm, components) = header.split_once(' ').unwrap_or((header, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in components.split(',') {
        let component = component.trim();
        let (key, value) = component
            .split_once('=')
            .ok_or_else(|| SigV4Error::MalformedAuthorization(format!("expected `key=value`, found `{component}`")))?;
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(SigV4Error::MalformedAuthorization(format!("unknown component `{key}`"))),
        };
        if slot.replace(value).is_some() {
            return Err(SigV4Error::Duplicate(key.to_owned()));
        }
    }
    let (access_key_id, scope) = parse_credential(required_component(credential, "Credential")?)?;
    let signed_headers = parse_signed_headers(required_component(signed_headers, "SignedHeaders")?)?;
    let signature = parse_signature(required_component(signature, "Signature")?)?;
    let request_time = match request.single_header("x-amz-date")? {
        Some(amz_date) => parse_amz_date(amz_date.trim())?,
        None => match request.single_header("date")? {
            Some(http_date) => parse_http_date(http_date.trim())?,
            None => return Err(SigV4Error::MissingDate),
        },
    };
    let session_token = request
        .single_header("x-amz-security-token")?
        .map(|token| token.trim().to_owned());
    Ok(SignatureClaim {
        location: SignatureLocation::Header,
        access_key_id,
        scope,
        signed_headers,
        request_time,
        expires_in_seconds: None,
        session_token,
        signature,
    })
}

fn required_component<'a>(value: Option<&'a str>, key: &str) -> Result<&'a str, SigV4Error> {
    value.ok_or_else(|| SigV4Error::MalformedAuthorization(format!("the `{key}` component is missing")))
}

fn parse_query_claim(request: &HttpRequest) -> Result<SignatureClaim, SigV4Error> {
    let params: Vec<(Vec<u8>, String)> = raw_query_pairs(&request.query)
        .map(|(name, value)| {
            (
                percent_decode(name),
                String::from_utf8_lossy(&percent_decode(value)).into_owned(),
            )
        })
        .collect();
    let optional = |name: &'static str| -> Result<Option<&str>, SigV4Error> {
        let mut values = params
            .iter()
            .filter(|(key, _)| key == name.as_bytes())
            .map(|(_, value)| value.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(SigV4Error::Duplicate(name.to_owned()));
        }
        Ok(first)
    };
    let required = |name: &'static str| optional(name)?.ok_or(SigV4Error::MissingQueryParameter(name));

    let algorithm = required("X-Amz-Algorithm")?;
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(algorithm.to_owned()));
    }
    let (access_key_id, scope) = parse_credential(required("X-Amz-Credential")?)?;
    let request_time = parse_amz_date(required("X-Amz-Date")?)?;
    let signed_headers = parse_signed_headers(required("X-Amz-SignedHeaders")?)?;
    let signature = parse_signature(required("X-Amz-Signature")?)?;
    // Optional as in the IAM and STS query APIs; without it the header-signing time window applies.
    let expires_in_seconds = optional("X-Amz-Expires")?.map(parse_expires).transpose()?;
    let session_token = optional("X-Amz-Security-Token")?.map(str::to_owned);
    Ok(SignatureClaim {
        location: SignatureLocation::Query,
        access_key_id,
        scope,
        signed_headers,
        request_time,
        expires_in_seconds,
        session_token,
        signature,
    })
}

/// `<access key id>/<yyyymmdd>/<region>/<service>/aws4_request`.
fn parse_credential(credential: &str) -> Result<(String, CredentialScope), SigV4Error> {
    let malformed = || SigV4Error::MalformedCredential(credential.to_owned());
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
        return Err(malformed());
    };
    let all_present = [access_key_id, region, service].iter().all(|part| !part.is_empty());
    if !all_present || *terminator != SCOPE_TERMINATOR || date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let date = NaiveDate::parse_from_str(date, SCOPE_DATE_FORMAT).map_err(|_| malformed())?;
    Ok((
        (*access_key_id).to_owned(),
        CredentialScope::new(date, *region, *service),
    ))
}

/// `host;x-amz-date`: lowercase names, strictly ascending, as AWS requires.
fn parse_signed_headers(list: &str) -> Result<Vec<String>, SigV4Error> {
    let malformed = || SigV4Error::MalformedSignedHeaders(list.to_owned());
    let names: Vec<String> = list.split(';').map(str::to_owned).collect();
    let well_formed = names.iter().all(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase() && b != b':')
    });
    let strictly_sorted = names.windows(2).all(|pair| pair[0] < pair[1]);
    if !well_formed || !strictly_sorted {
        return Err(malformed());
    }
    Ok(names)
}

fn parse_signature(signature: &str) -> Result<[u8; 32], SigV4Error> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(signature, &mut bytes).map_err(|_| SigV4Error::MalformedSignature)?;
    Ok(bytes)
}

/// Strictly `yyyymmddThhmmssZ`, so that formatting the parsed time gives the same text back.
pub(crate) fn parse_amz_date(value: &str) -> Result<DateTime<Utc>, SigV4Error> {
    let malformed = || SigV4Error::MalformedDate(value.to_owned());
    let shape_ok = value.len() == 16
        && value.bytes().enumerate().all(|(index, byte)| match index {
            8 => byte == b'T',
            15 => byte == b'Z',
            _ => byte.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(malformed());
    }
    let time = NaiveDateTime::parse_from_str(value, AMZ_DATE_FORMAT).map_err(|_| malformed())?;
    Ok(time.and_utc())
}

/// The `Date` header in RFC 7231 IMF-fixdate form, e.g. `Sun, 30 Aug 2015 12:36:00 GMT`.
fn parse_http_date(value: &str) -> Result<DateTime<Utc>, SigV4Error> {
    DateTime::parse_from_rfc2822(value)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| SigV4Error::MalformedDate(value.to_owned()))
}

fn parse_expires(value: &str) -> Result<u32, SigV4Error> {
    match value.parse::<u32>() {
        Ok(seconds)
            if value.bytes().all(|b| b.is_ascii_digit()) && (1..=MAX_PRESIGNED_EXPIRY_SECONDS).contains(&seconds) =>
        {
            Ok(seconds)
        }
        _ => Err(SigV4Error::InvalidExpires(value.to_owned())),
    }
}

/// `yyyymmddThhmmssZ` of a time, as the string to sign and `X-Amz-Date` carry it.
pub(crate) fn format_amz_date(time: DateTime<Utc>) -> String {
    time.format(AMZ_DATE_FORMAT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date, \
         Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    fn header_signed(authorization: &str) -> HttpRequest {
        HttpRequest::new("GET", "/", "")
            .with_header("Host", "example.amazonaws.com")
            .with_header("X-Amz-Date", "20150830T123600Z")
            .with_header("Authorization", authorization)
    }

    #[test]
    fn header_claim_exposes_its_parts() {
        let claim = parse_authorization(&header_signed(AUTHORIZATION));
        let Ok(claim) = claim else {
            panic!("not parsed: {claim:?}")
        };
        assert_eq!(claim.location(), SignatureLocation::Header);
        assert_eq!(claim.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(claim.scope().to_string(), "20150830/us-east-1/service/aws4_request");
        assert_eq!(claim.signed_headers(), ["host", "x-amz-date"]);
        assert_eq!(format_amz_date(claim.request_time()), "20150830T123600Z");
        assert_eq!(claim.session_token(), None);
        assert_eq!(claim.expires_in_seconds(), None);
    }

    #[test]
    fn header_components_may_come_in_any_order_without_spaces() {
        let reordered = "AWS4-HMAC-SHA256 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31,\
             SignedHeaders=host;x-amz-date,Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
        assert_eq!(
            parse_authorization(&header_signed(reordered)),
            parse_authorization(&header_signed(AUTHORIZATION))
        );
    }

    #[test]
    fn malformed_authorization_headers_are_refused() {
        let signature = "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let credential = "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
        let cases: Vec<(String, &str)> = vec![
            ("AWS AKIDEXAMPLE:c2lnbmF0dXJl".into(), "IncompleteSignature"),
            ("AWS4-ECDSA-P256-SHA256 Credential=x".into(), "IncompleteSignature"),
            ("AWS4-HMAC-SHA256".into(), "IncompleteSignature"),
            (format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=host"), "IncompleteSignature"),
            (format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=host, {signature}, Extra=1"), "IncompleteSignature"),
            (format!("AWS4-HMAC-SHA256 {credential}, {credential}, SignedHeaders=host, {signature}"), "IncompleteSignature"),
            (format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=Host, {signature}"), "IncompleteSignature"),
            (format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=x-amz-date;host, {signature}"), "IncompleteSignature"),
            (format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=host;;x, {signature}"), "IncompleteSignature"),
            (format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=host, Signature=abc"), "IncompleteSignature"),
            (
                format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service, SignedHeaders=host, {signature}"),
                "IncompleteSignature",
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20151330/us-east-1/service/aws4_request, SignedHeaders=host, {signature}"),
                "IncompleteSignature",
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/service/aws4_request, SignedHeaders=host, {signature}"),
                "IncompleteSignature",
            ),
            (
                format!("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws5_request, SignedHeaders=host, {signature}"),
                "IncompleteSignature",
            ),
        ];
        for (authorization, code) in cases {
            match parse_authorization(&header_signed(&authorization)) {
                Ok(claim) => panic!("`{authorization}` was accepted as {claim:?}"),
                Err(error) => assert_eq!(error.aws_code(), code, "`{authorization}` gave {error}"),
            }
        }
    }

    #[test]
    fn request_time_comes_from_x_amz_date_or_else_date() {
        let without_amz_date = HttpRequest::new("GET", "/", "")
            .with_header("Date", "Sun, 30 Aug 2015 12:36:00 GMT")
            .with_header("Authorization", AUTHORIZATION);
        let claim = parse_authorization(&without_amz_date).map(|claim| format_amz_date(claim.request_time()));
        assert_eq!(claim, Ok("20150830T123600Z".to_owned()));

        let no_date = HttpRequest::new("GET", "/", "").with_header("Authorization", AUTHORIZATION);
        assert_eq!(parse_authorization(&no_date), Err(SigV4Error::MissingDate));

        for bad in [
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "20150830T126000Z",
            "+0150830T123600Z",
        ] {
            let request = HttpRequest::new("GET", "/", "")
                .with_header("X-Amz-Date", bad)
                .with_header("Authorization", AUTHORIZATION);
            assert_eq!(
                parse_authorization(&request),
                Err(SigV4Error::MalformedDate(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn anonymous_and_ambiguous_requests_are_told_apart() {
        let anonymous = HttpRequest::new("GET", "/", "Action=ListUsers");
        assert_eq!(parse_authorization(&anonymous), Err(SigV4Error::MissingAuthentication));
        let both = HttpRequest::new("GET", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256")
            .with_header("Authorization", AUTHORIZATION);
        assert!(matches!(
            parse_authorization(&both),
            Err(SigV4Error::AmbiguousAuthentication(_))
        ));
        let twice = header_signed(AUTHORIZATION).with_header("authorization", AUTHORIZATION);
        assert!(matches!(
            parse_authorization(&twice),
            Err(SigV4Error::AmbiguousAuthentication(_))
        ));
    }

    const PRESIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request\
        &X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600\
        &X-Amz-Security-Token=tok%2Fen%3D\
        &X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d";

    #[test]
    fn presigned_claim_exposes_its_parts() {
        let claim = parse_authorization(&HttpRequest::new("GET", "/", PRESIGNED));
        let Ok(claim) = claim else {
            panic!("not parsed: {claim:?}")
        };
        assert_eq!(claim.location(), SignatureLocation::Query);
        assert_eq!(claim.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(claim.scope().region(), "us-east-1");
        assert_eq!(claim.scope().service(), "service");
        assert_eq!(claim.signed_headers(), ["host"]);
        assert_eq!(claim.expires_in_seconds(), Some(3600));
        assert_eq!(claim.session_token(), Some("tok/en="));
    }

    #[test]
    fn presigned_parameters_are_checked() {
        let without = |name: &str| {
            PRESIGNED
                .split('&')
                .filter(|param| !param.starts_with(name))
                .collect::<Vec<_>>()
                .join("&")
        };
        for name in [
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
        ] {
            let request = HttpRequest::new("GET", "/", without(name));
            assert!(matches!(parse_authorization(&request), Err(SigV4Error::MissingQueryParameter(n)) if n == name));
        }
        let no_expiry = HttpRequest::new("GET", "/", without("X-Amz-Expires"));
        assert_eq!(
            parse_authorization(&no_expiry).map(|claim| claim.expires_in_seconds()),
            Ok(None)
        );

        for expires in ["0", "604801", "-1", "+5", "1.5", ""] {
            let query = PRESIGNED.replace("X-Amz-Expires=3600", &format!("X-Amz-Expires={expires}"));
            let request = HttpRequest::new("GET", "/", query);
            assert_eq!(
                parse_authorization(&request),
                Err(SigV4Error::InvalidExpires(expires.into()))
            );
        }
        let query = PRESIGNED.replace("X-Amz-Expires=3600", "X-Amz-Expires=604800");
        assert!(parse_authorization(&HttpRequest::new("GET", "/", query)).is_ok());

        let query = PRESIGNED.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1");
        assert_eq!(
            parse_authorization(&HttpRequest::new("GET", "/", query)),
            Err(SigV4Error::UnsupportedAlgorithm("AWS4-HMAC-SHA1".into()))
        );
        let query = format!("{PRESIGNED}&X-Amz-Date=20150830T123600Z");
        assert_eq!(
            parse_authorization(&HttpRequest::new("GET", "/", query)),
            Err(SigV4Error::Duplicate("X-Amz-Date".into()))
        );
    }
}
