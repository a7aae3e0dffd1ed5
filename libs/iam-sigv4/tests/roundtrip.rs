//! Laws between signer and verifier on random requests: what is signed verifies, what is changed does not.
#![allow(clippy::unwrap_used, reason = "test harness helpers")]

use chrono::{DateTime, TimeDelta, Utc};
use iam_sigv4::{
    parse_authorization, sign, verify, Credentials, HttpRequest, PayloadSigning, SigV4Error, SigningMode,
    SigningParams, UriPathMode, VerifyPolicy,
};
use proptest::prelude::*;

const REGION: &str = "eu-west-1";
const SERVICE: &str = "iam";

fn credentials() -> Credentials {
    Credentials {
        access_key_id: "AKIAGATEHOUSETEST".into(),
        secret_access_key: "gatehouse/secret+key=with/odd+chars".into(),
        session_token: None,
    }
}

fn signing_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T23:59:30Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn request_strategy() -> impl Strategy<Value = HttpRequest> {
    let method = prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE")];
    let path =
        prop::collection::vec("[a-zA-Z0-9 ._~%+ሴ-]{0,6}", 0..5).prop_map(|segments| format!("/{}", segments.join("/")));
    let query =
        prop::collection::vec(("[A-Za-z0-9%+._~ሴ-]{1,6}", "[A-Za-z0-9%+=._~ -]{0,6}"), 0..5).prop_map(|pairs| {
            pairs
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("&")
        });
    // `x-amz-*` names are the signer's own; the others may repeat and carry odd spacing.
    let headers = prop::collection::vec(("[a-w][a-z0-9-]{0,8}", "[ -~]{0,12}"), 0..5);
    let body = prop::collection::vec(any::<u8>(), 0..64);
    (method, path, query, headers, body).prop_map(|(method, path, query, headers, body)| {
        let mut request = HttpRequest::new(method, path, query).with_header("Host", "iam.gatehouse.test");
        request.headers.extend(
            headers
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned())),
        );
        request.with_body(body)
    })
}

fn mode_strategy() -> impl Strategy<Value = SigningMode> {
    prop_oneof![
        Just(SigningMode::Header {
            payload: PayloadSigning::Hash
        }),
        Just(SigningMode::Header {
            payload: PayloadSigning::HashInHeader
        }),
        (1u32..=604_800).prop_map(|expires_in_seconds| SigningMode::Presigned { expires_in_seconds }),
    ]
}

fn uri_path_strategy() -> impl Strategy<Value = UriPathMode> {
    prop_oneof![Just(UriPathMode::Normalized), Just(UriPathMode::S3)]
}

fn signed(mut request: HttpRequest, mode: SigningMode, uri_path: UriPathMode) -> HttpRequest {
    let credentials = credentials();
    let params = SigningParams {
        credentials: &credentials,
        region: REGION,
        service: SERVICE,
        time: signing_time(),
        mode,
        uri_path,
        sign_session_token: true,
    };
    sign(&mut request, &params).unwrap();
    request
}

fn verified(request: &HttpRequest, uri_path: UriPathMode) -> Result<(), SigV4Error> {
    let claim = parse_authorization(request)?;
    let policy = VerifyPolicy {
        uri_path,
        ..VerifyPolicy::default()
    };
    let secret = credentials().secret_access_key;
    verify(
        request,
        &claim,
        &secret,
        REGION,
        SERVICE,
        signing_time() + TimeDelta::seconds(45),
        &policy,
    )
}

proptest! {
    #[test]
    fn what_is_signed_verifies(request in request_strategy(), mode in mode_strategy(), uri_path in uri_path_strategy()) {
        let request = signed(request, mode, uri_path);
        prop_assert_eq!(verified(&request, uri_path), Ok(()));
    }

    #[test]
    fn a_changed_body_or_method_is_refused(request in request_strategy(), mode in mode_strategy(), uri_path in uri_path_strategy()) {
        let request = signed(request, mode, uri_path);
        let mut other_body = request.clone();
        other_body.payload = iam_sigv4::Payload::Bytes(b"smuggled".to_vec());
        if other_body.payload.sha256() != request.payload.sha256() {
            prop_assert!(verified(&other_body, uri_path).is_err());
        }
        let other_method = HttpRequest { method: format!("{}X", request.method), ..request };
        prop_assert!(verified(&other_method, uri_path).is_err());
    }

    #[test]
    fn query_order_does_not_change_the_signature(request in request_strategy(), seed in any::<u64>()) {
        let mut shuffled = request.clone();
        let mut params: Vec<&str> = request.query.split('&').collect();
        // A deterministic rotation is enough to reorder; the sort inside must undo it.
        if !params.is_empty() {
            let by = (seed as usize) % params.len();
            params.rotate_left(by);
        }
        shuffled.query = params.join("&");
        let mode = SigningMode::Header { payload: PayloadSigning::Hash };
        let original = signed(request, mode, UriPathMode::Normalized);
        let reordered = signed(shuffled, mode, UriPathMode::Normalized);
        prop_assert_eq!(
            original.header_values("authorization").next(),
            reordered.header_values("authorization").next()
        );
    }
}
