//! Deciding whether a claimed signature holds: scope, time window, body hash, then the HMAC itself.

use chrono::{DateTime, TimeDelta, Utc};

use crate::canonical::{canonical_request, CanonicalOptions, UriPathMode, CONTENT_SHA256_HEADER};
use crate::claim::{CredentialScope, SignatureClaim, SignatureLocation};
use crate::error::SigV4Error;
use crate::request::HttpRequest;
use crate::signature::{signature_matches, string_to_sign, SigningKey};

/// `x-amz-content-sha256` value for a body the client chose not to sign.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Prefix of the chunked-signing `x-amz-content-sha256` values, which this crate does not implement.
const STREAMING_PREFIX: &str = "STREAMING-";

/// What a service accepts beyond the signature itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// How far the request time may be from the server's clock (AWS: five minutes). For a
    /// presigned request this only bounds how far in the future `X-Amz-Date` may be.
    pub max_clock_skew: TimeDelta,
    /// Path canonicalization: [`UriPathMode::S3`] for S3-like services only.
    pub uri_path: UriPathMode,
    /// Accept `x-amz-content-sha256: UNSIGNED-PAYLOAD` (S3 does; IAM and STS never need it).
    pub allow_unsigned_payload: bool,
    /// Accept a session token that was added after signing: unsigned `x-amz-security-token`
    /// header, or presigned `X-Amz-Security-Token` left out of the canonical query.
    pub allow_unsigned_session_token: bool,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        VerifyPolicy {
            max_clock_skew: TimeDelta::minutes(5),
            uri_path: UriPathMode::Normalized,
            allow_unsigned_payload: false,
            allow_unsigned_session_token: false,
        }
    }
}

/// Checks that `claim` (from [`crate::parse_authorization`] of the same request) holds: the
/// scope names this region and service and the request day, the time window is respected,
/// `host` is signed, the declared body hash is the body's, and the signature recomputed with
/// `secret_access_key` matches in constant time.
pub fn verify(
    request: &HttpRequest,
    claim: &SignatureClaim,
    secret_access_key: &str,
    expected_region: &str,
    expected_service: &str,
    now: DateTime<Utc>,
    policy: &VerifyPolicy,
) -> Result<(), SigV4Error> {
    verify_with_key(
        request,
        claim,
        |scope| SigningKey::derive(secret_access_key, scope),
        expected_region,
        expected_service,
        now,
        policy,
    )
}

/// [`verify()`] with the signing key of the claim's scope from `signing_key` (a verifier's cache
/// of derived keys), called only once the scope, time window and headers have been checked.
///
/// # Errors
/// As [`verify()`].
pub fn verify_with_key(
    request: &HttpRequest,
    claim: &SignatureClaim,
    signing_key: impl FnOnce(&CredentialScope) -> SigningKey,
    expected_region: &str,
    expected_service: &str,
    now: DateTime<Utc>,
    policy: &VerifyPolicy,
) -> Result<(), SigV4Error> {
    check_scope(claim, expected_region, expected_service)?;
    check_time_window(claim, now, policy.max_clock_skew)?;
    check_signed_headers(claim, policy)?;
    check_declared_payload(request, policy)?;

    let key = signing_key(claim.scope());
    let mut options = CanonicalOptions {
        uri_path: policy.uri_path,
        session_token_unsigned: false,
    };
    let mut mismatch = match signature_holds(request, claim, &key, &options)? {
        None => return Ok(()),
        Some(mismatch) => mismatch,
    };
    // A client that appends the token after presigning left it out of what it signed.
    let token_may_be_unsigned = policy.allow_unsigned_session_token
        && claim.location() == SignatureLocation::Query
        && claim.session_token().is_some();
    if token_may_be_unsigned {
        options.session_token_unsigned = true;
        match signature_holds(request, claim, &key, &options)? {
            None => return Ok(()),
            Some(second) => mismatch = second,
        }
    }
    Err(mismatch)
}

/// `None` when the signature holds, otherwise the mismatch error to report.
fn signature_holds(
    request: &HttpRequest,
    claim: &SignatureClaim,
    key: &SigningKey,
    options: &CanonicalOptions,
) -> Result<Option<SigV4Error>, SigV4Error> {
    let canonical_request = canonical_request(request, claim, options)?;
    let string_to_sign = string_to_sign(claim.request_time(), claim.scope(), &canonical_request);
    if signature_matches(key, &string_to_sign, claim.signature()) {
        return Ok(None);
    }
    Ok(Some(SigV4Error::SignatureDoesNotMatch {
        canonical_request,
        string_to_sign,
    }))
}

fn check_scope(claim: &SignatureClaim, expected_region: &str, expected_service: &str) -> Result<(), SigV4Error> {
    let scope = claim.scope();
    if scope.region() != expected_region {
        return Err(SigV4Error::WrongRegion {
            expected: expected_region.to_owned(),
            actual: scope.region().to_owned(),
        });
    }
    if scope.service() != expected_service {
        return Err(SigV4Error::WrongService {
            expected: expected_service.to_owned(),
            actual: scope.service().to_owned(),
        });
    }
    let request_date = claim.request_time().date_naive();
    if scope.date() != request_date {
        return Err(SigV4Error::ScopeDateMismatch {
            scope_date: scope.date_stamp(),
            request_date: request_date.format("%Y%m%d").to_string(),
        });
    }
    Ok(())
}

fn check_time_window(claim: &SignatureClaim, now: DateTime<Utc>, max_skew: TimeDelta) -> Result<(), SigV4Error> {
    let request_time = claim.request_time();
    let too_skewed = || SigV4Error::RequestTimeTooSkewed {
        request_time,
        server_time: now,
        max_skew_seconds: max_skew.num_seconds(),
    };
    match claim.expires_in_seconds() {
        // Header-signed (or presigned without expiry): the request must be fresh either way.
        None if (now - request_time).abs() > max_skew => Err(too_skewed()),
        None => Ok(()),
        // Presigned: valid from (almost) its date until its date plus the expiry.
        Some(_) if request_time - now > max_skew => Err(too_skewed()),
        Some(seconds) => {
            let lifetime = TimeDelta::seconds(i64::from(seconds));
            let expired_at = request_time
                .checked_add_signed(lifetime)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            if now > expired_at {
                return Err(SigV4Error::RequestExpired {
                    expired_at,
                    server_time: now,
                });
            }
            Ok(())
        }
    }
}

fn check_signed_headers(claim: &SignatureClaim, policy: &VerifyPolicy) -> Result<(), SigV4Error> {
    let is_signed = |name: &str| claim.signed_headers().iter().any(|signed| signed == name);
    if !is_signed("host") {
        return Err(SigV4Error::HostNotSigned);
    }
    // In a presigned request the token is a query parameter, covered by the canonical query.
    let token_in_header = claim.location() == SignatureLocation::Header && claim.session_token().is_some();
    if token_in_header && !policy.allow_unsigned_session_token && !is_signed("x-amz-security-token") {
        return Err(SigV4Error::SessionTokenNotSigned);
    }
    Ok(())
}

/// The `x-amz-content-sha256` header, when present, must be allowed and must be the body's hash.
fn check_declared_payload(request: &HttpRequest, policy: &VerifyPolicy) -> Result<(), SigV4Error> {
    let Some(declared) = request.single_header(CONTENT_SHA256_HEADER)? else {
        return Ok(());
    };
    let declared = declared.trim();
    if declared == UNSIGNED_PAYLOAD {
        return if policy.allow_unsigned_payload {
            Ok(())
        } else {
            Err(SigV4Error::UnsignedPayloadNotAllowed)
        };
    }
    if declared.starts_with(STREAMING_PREFIX) {
        return Err(SigV4Error::StreamingPayloadUnsupported(declared.to_owned()));
    }
    let mut digest = [0u8; 32];
    if hex::decode_to_slice(declared, &mut digest).is_err() {
        return Err(SigV4Error::InvalidContentSha256(declared.to_owned()));
    }
    if digest != request.payload.sha256() {
        return Err(SigV4Error::ContentSha256Mismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::parse_authorization;
    use crate::sign::{sign, Credentials, PayloadSigning, SigningMode, SigningParams};
    use chrono::NaiveDate;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn signing_time() -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2015, 8, 30)
            .unwrap()
            .and_hms_opt(12, 36, 0)
            .unwrap()
            .and_utc()
    }

    fn credentials(session_token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: SECRET.into(),
            session_token: session_token.map(str::to_owned),
        }
    }

    fn params(credentials: &Credentials, mode: SigningMode) -> SigningParams<'_> {
        SigningParams {
            credentials,
            region: "us-east-1",
            service: "iam",
            time: signing_time(),
            mode,
            uri_path: UriPathMode::Normalized,
            sign_session_token: true,
        }
    }

    fn list_users() -> HttpRequest {
        HttpRequest::new("POST", "/", "")
            .with_header("Host", "iam.amazonaws.com")
            .with_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            .with_body("Action=ListUsers&Version=2010-05-08")
    }

    fn header_signed(payload: PayloadSigning) -> HttpRequest {
        let mut request = list_users();
        sign(
            &mut request,
            &params(&credentials(None), SigningMode::Header { payload }),
        )
        .unwrap();
        request
    }

    fn check(request: &HttpRequest, now: DateTime<Utc>, policy: &VerifyPolicy) -> Result<(), SigV4Error> {
        let claim = parse_authorization(request)?;
        verify(request, &claim, SECRET, "us-east-1", "iam", now, policy)
    }

    fn code(result: Result<(), SigV4Error>) -> &'static str {
        match result {
            Ok(()) => "accepted",
            Err(error) => error.aws_code(),
        }
    }

    #[test]
    fn clock_skew_of_five_minutes_either_way_is_accepted_and_no_more() {
        let request = header_signed(PayloadSigning::Hash);
        let policy = VerifyPolicy::default();
        for offset in [-300, 0, 300] {
            let now = signing_time() + TimeDelta::seconds(offset);
            assert_eq!(check(&request, now, &policy), Ok(()), "offset {offset}");
        }
        for offset in [-301, 301, 86_400] {
            let now = signing_time() + TimeDelta::seconds(offset);
            let result = check(&request, now, &policy);
            assert!(
                matches!(result, Err(SigV4Error::RequestTimeTooSkewed { .. })),
                "offset {offset}: {result:?}"
            );
            assert_eq!(code(result), "RequestExpired");
        }
        let lenient = VerifyPolicy {
            max_clock_skew: TimeDelta::minutes(15),
            ..VerifyPolicy::default()
        };
        assert_eq!(
            check(&request, signing_time() + TimeDelta::minutes(15), &lenient),
            Ok(())
        );
    }

    #[test]
    fn presigned_requests_expire_after_x_amz_expires() {
        let mut request = list_users();
        sign(
            &mut request,
            &params(&credentials(None), SigningMode::Presigned { expires_in_seconds: 60 }),
        )
        .unwrap();
        let policy = VerifyPolicy::default();
        assert_eq!(
            check(&request, signing_time() + TimeDelta::seconds(60), &policy),
            Ok(())
        );
        let expired = check(&request, signing_time() + TimeDelta::seconds(61), &policy);
        assert!(matches!(expired, Err(SigV4Error::RequestExpired { .. })), "{expired:?}");
        // Not valid long before its date either.
        let early = check(&request, signing_time() - TimeDelta::seconds(301), &policy);
        assert!(
            matches!(early, Err(SigV4Error::RequestTimeTooSkewed { .. })),
            "{early:?}"
        );
        assert_eq!(
            check(&request, signing_time() - TimeDelta::seconds(300), &policy),
            Ok(())
        );
    }

    #[test]
    fn presigned_expiry_is_capped_at_seven_days() {
        let mut request = list_users();
        let week = SigningMode::Presigned {
            expires_in_seconds: 604_800,
        };
        sign(&mut request, &params(&credentials(None), week)).unwrap();
        assert_eq!(
            check(&request, signing_time() + TimeDelta::days(7), &VerifyPolicy::default()),
            Ok(())
        );
        let mut too_long = list_users();
        let result = sign(
            &mut too_long,
            &params(
                &credentials(None),
                SigningMode::Presigned {
                    expires_in_seconds: 604_801,
                },
            ),
        );
        assert_eq!(result.map(|_| ()), Err(SigV4Error::InvalidExpires("604801".into())));
        let forged = HttpRequest {
            query: request.query.replace("X-Amz-Expires=604800", "X-Amz-Expires=604801"),
            ..request
        };
        assert_eq!(
            code(check(&forged, signing_time(), &VerifyPolicy::default())),
            "IncompleteSignature"
        );
    }

    #[test]
    fn wrong_region_service_or_secret_is_refused() {
        let request = header_signed(PayloadSigning::Hash);
        let claim = parse_authorization(&request).unwrap();
        let policy = VerifyPolicy::default();
        let now = signing_time();
        let result = verify(&request, &claim, SECRET, "eu-west-1", "iam", now, &policy);
        assert_eq!(
            result,
            Err(SigV4Error::WrongRegion {
                expected: "eu-west-1".into(),
                actual: "us-east-1".into()
            })
        );
        let result = verify(&request, &claim, SECRET, "us-east-1", "sts", now, &policy);
        assert_eq!(
            result,
            Err(SigV4Error::WrongService {
                expected: "sts".into(),
                actual: "iam".into()
            })
        );
        let result = verify(&request, &claim, "not-the-secret", "us-east-1", "iam", now, &policy);
        assert_eq!(code(result), "SignatureDoesNotMatch");
    }

    #[test]
    fn scope_date_must_be_the_request_day() {
        let request = header_signed(PayloadSigning::Hash);
        let authorization = request
            .single_header("authorization")
            .unwrap()
            .unwrap()
            .replace("/20150830/", "/20150829/");
        let mut forged = request.clone();
        forged.set_header("Authorization", authorization);
        let result = check(&forged, signing_time(), &VerifyPolicy::default());
        assert_eq!(
            result,
            Err(SigV4Error::ScopeDateMismatch {
                scope_date: "20150829".into(),
                request_date: "20150830".into()
            })
        );
    }

    #[test]
    fn host_must_be_signed() {
        let mut request = list_users();
        request.remove_header("host");
        let signed = sign(
            &mut request,
            &params(
                &credentials(None),
                SigningMode::Header {
                    payload: PayloadSigning::Hash,
                },
            ),
        );
        assert_eq!(signed.map(|_| ()), Err(SigV4Error::SignedHeaderMissing("host".into())));

        // A client that signs without host (here: x-amz-date only) is refused before any HMAC.
        let request = header_signed(PayloadSigning::Hash);
        let authorization = request.single_header("authorization").unwrap().unwrap().to_owned();
        let signed_headers = authorization
            .split("SignedHeaders=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        let mut forged = request.clone();
        forged.set_header("Authorization", authorization.replace(signed_headers, "x-amz-date"));
        assert_eq!(
            check(&forged, signing_time(), &VerifyPolicy::default()),
            Err(SigV4Error::HostNotSigned)
        );
    }

    #[test]
    fn content_sha256_header_must_match_the_body() {
        let request = header_signed(PayloadSigning::HashInHeader);
        let policy = VerifyPolicy::default();
        assert_eq!(check(&request, signing_time(), &policy), Ok(()));
        let tampered = request.clone().with_body("Action=DeleteUser&UserName=alice");
        let result = check(&tampered, signing_time(), &policy);
        assert_eq!(result, Err(SigV4Error::ContentSha256Mismatch));
        assert_eq!(code(result), "XAmzContentSHA256Mismatch");

        let mut garbage = request.clone();
        garbage.set_header("x-amz-content-sha256", "not-a-digest".into());
        assert_eq!(code(check(&garbage, signing_time(), &policy)), "IncompleteSignature");
        let mut streaming = request;
        streaming.set_header("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".into());
        let result = check(&streaming, signing_time(), &policy);
        assert!(
            matches!(result, Err(SigV4Error::StreamingPayloadUnsupported(_))),
            "{result:?}"
        );
    }

    #[test]
    fn unsigned_payload_only_when_the_policy_allows_it() {
        let request = header_signed(PayloadSigning::Unsigned);
        let strict = check(&request, signing_time(), &VerifyPolicy::default());
        assert_eq!(strict, Err(SigV4Error::UnsignedPayloadNotAllowed));
        let s3_like = VerifyPolicy {
            allow_unsigned_payload: true,
            ..VerifyPolicy::default()
        };
        assert_eq!(check(&request, signing_time(), &s3_like), Ok(()));
        // The body is then not covered: any body goes.
        let other_body = request.clone().with_body("anything");
        assert_eq!(check(&other_body, signing_time(), &s3_like), Ok(()));
        // But the declaration itself is: a signed digest cannot be swapped for UNSIGNED-PAYLOAD.
        let mut downgraded = header_signed(PayloadSigning::HashInHeader);
        downgraded.set_header("x-amz-content-sha256", UNSIGNED_PAYLOAD.into());
        assert_eq!(
            code(check(&downgraded, signing_time(), &s3_like)),
            "SignatureDoesNotMatch"
        );
    }

    #[test]
    fn session_token_must_be_signed_unless_the_policy_says_otherwise() {
        let creds = credentials(Some("session-token"));
        let mut unsigned_params = params(
            &creds,
            SigningMode::Header {
                payload: PayloadSigning::Hash,
            },
        );
        unsigned_params.sign_session_token = false;
        let mut request = list_users();
        sign(&mut request, &unsigned_params).unwrap();
        assert_eq!(
            check(&request, signing_time(), &VerifyPolicy::default()),
            Err(SigV4Error::SessionTokenNotSigned)
        );
        let lenient = VerifyPolicy {
            allow_unsigned_session_token: true,
            ..VerifyPolicy::default()
        };
        assert_eq!(check(&request, signing_time(), &lenient), Ok(()));
        let claim = parse_authorization(&request).unwrap();
        assert_eq!(claim.session_token(), Some("session-token"));

        let mut presigned = list_users();
        unsigned_params.mode = SigningMode::Presigned { expires_in_seconds: 60 };
        sign(&mut presigned, &unsigned_params).unwrap();
        assert_eq!(
            code(check(&presigned, signing_time(), &VerifyPolicy::default())),
            "SignatureDoesNotMatch"
        );
        assert_eq!(check(&presigned, signing_time(), &lenient), Ok(()));
    }

    #[test]
    fn malformed_authorization_is_refused_before_any_hmac() {
        let mut request = header_signed(PayloadSigning::Hash);
        request.set_header("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE".into());
        assert_eq!(
            code(check(&request, signing_time(), &VerifyPolicy::default())),
            "IncompleteSignature"
        );
    }
}
