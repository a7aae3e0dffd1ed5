//! Conformance with AWS's SigV4 test suites in `shared/vectors/sigv4`: every case, header and presigned.
//!
//! Per case: the canonical request, string to sign and signature are recomputed exactly from the
//! signed request; the verifier accepts it; it refuses it once any signed part changes; and the
//! signer, given the unsigned request, produces the same steps and the same signed request.
//! All failures of a suite are reported together.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness helpers"
)]

mod http_text;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use iam_sigv4::{
    canonical_request, parse_authorization, sign, signature, string_to_sign, verify, CanonicalOptions, Credentials,
    HttpRequest, Payload, PayloadSigning, SignatureClaim, SigningMode, SigningParams, UriPathMode, VerifyPolicy,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use http_text::{parse_http, ObsFold};

/// Both suites sign at this instant.
const SIGNING_TIME: &str = "20150830T123600Z";
/// One second later, for the "date changed" tampering.
const SHIFTED_TIME: &str = "20150830T123601Z";

/// The vectors folder: `GATEHOUSE_SIGV4_VECTORS`, else `shared/` beside the checkout. Missing is a failure.
fn vectors_dir() -> PathBuf {
    let dir = match std::env::var_os("GATEHOUSE_SIGV4_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/sigv4"),
    };
    assert!(
        dir.join("aws-sig-v4-test-suite").is_dir() && dir.join("aws-c-auth-v4").is_dir(),
        "sigv4 test vectors not found at `{}`; set GATEHOUSE_SIGV4_VECTORS to the shared/vectors/sigv4 folder",
        dir.display()
    );
    dir
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read `{}`: {error}", path.display()))
}

fn index_case_names(index: &Path) -> BTreeSet<String> {
    let index: Value = serde_json::from_str(&read(index)).expect("suite index is JSON");
    index["cases"]
        .as_array()
        .expect("index lists cases")
        .iter()
        .map(|case| case["name"].as_str().unwrap().to_owned())
        .collect()
}

/// One signed request to check, with everything needed to recompute it.
struct Case {
    id: String,
    /// As the server receives it.
    signed: HttpRequest,
    /// Before signing, for the signer.
    unsigned: HttpRequest,
    expected_canonical_request: String,
    expected_string_to_sign: String,
    expected_signature: String,
    /// The `Authorization` value (header signing) or the request query (presigning) the signer must produce.
    expected_signer_result: String,
    credentials: Credentials,
    region: String,
    service: String,
    now: DateTime<Utc>,
    policy: VerifyPolicy,
    canonical_options: CanonicalOptions,
    signing_mode: SigningMode,
    sign_session_token: bool,
}

/// Outcome of a suite: how many cases passed each check, and every failure.
#[derive(Default)]
struct Report {
    cases: usize,
    passed: usize,
    tampered_variants: usize,
    failures: Vec<String>,
}

impl Report {
    fn run(&mut self, case: &Case) {
        self.cases += 1;
        let failures_before = self.failures.len();
        let (tampered_variants, tampering_failures) = check_tampering(case);
        self.tampered_variants += tampered_variants;
        for failure in check_recomputation(case)
            .into_iter()
            .chain(tampering_failures)
            .chain(check_signer(case))
        {
            self.failures.push(format!("{}: {failure}", case.id));
        }
        if self.failures.len() == failures_before {
            self.passed += 1;
        }
    }

    fn assert_all_pass(&self, suite: &str) {
        println!(
            "{suite}: {} of {} signed requests pass every check ({} tampered copies tried)",
            self.passed, self.cases, self.tampered_variants
        );
        assert!(
            self.failures.is_empty(),
            "{suite}: {} failures\n{}",
            self.failures.len(),
            self.failures.join("\n\n")
        );
    }
}

fn differs(what: &str, expected: &str, actual: &str) -> String {
    format!("{what} differs\n--- expected\n{expected}\n--- actual\n{actual}")
}

fn verify_request(case: &Case, request: &HttpRequest) -> Result<(), String> {
    let claim = parse_authorization(request).map_err(|error| error.to_string())?;
    verify(
        request,
        &claim,
        &case.credentials.secret_access_key,
        &case.region,
        &case.service,
        case.now,
        &case.policy,
    )
    .map_err(|error| format!("{} ({error})", error.aws_code()))
}

/// Canonical request, string to sign and signature recomputed from the signed request; verifier accepts.
fn check_recomputation(case: &Case) -> Vec<String> {
    let claim: SignatureClaim = match parse_authorization(&case.signed) {
        Ok(claim) => claim,
        Err(error) => return vec![format!("authorization not parsed: {error}")],
    };
    let mut failures = Vec::new();
    match canonical_request(&case.signed, &claim, &case.canonical_options) {
        Ok(canonical) if canonical == case.expected_canonical_request => {}
        Ok(canonical) => failures.push(differs(
            "canonical request",
            &case.expected_canonical_request,
            &canonical,
        )),
        Err(error) => failures.push(format!("canonical request not built: {error}")),
    }
    let to_sign = string_to_sign(claim.request_time(), claim.scope(), &case.expected_canonical_request);
    if to_sign != case.expected_string_to_sign {
        failures.push(differs("string to sign", &case.expected_string_to_sign, &to_sign));
    }
    let signed = signature(
        &case.credentials.secret_access_key,
        claim.scope(),
        &case.expected_string_to_sign,
    );
    if signed != case.expected_signature {
        failures.push(differs("signature", &case.expected_signature, &signed));
    }
    if let Err(error) = verify_request(case, &case.signed) {
        failures.push(format!("signed request refused: {error}"));
    }
    failures
}

/// Changing any signed part (method, path, query, each signed header, body, date) must be refused.
fn check_tampering(case: &Case) -> (usize, Vec<String>) {
    let Ok(claim) = parse_authorization(&case.signed) else {
        return (0, Vec::new()); // Already reported by the recomputation check.
    };
    let original = &case.signed;
    let mut tampered: Vec<(String, HttpRequest)> = Vec::new();
    let with = |change: &dyn Fn(&mut HttpRequest)| {
        let mut request = original.clone();
        change(&mut request);
        request
    };

    tampered.push((
        "method".into(),
        with(&|r| r.method = if r.method == "GET" { "POST".into() } else { "GET".into() }),
    ));
    tampered.push(("path".into(), with(&|r| r.path.push_str("tampered"))));
    tampered.push((
        "query".into(),
        with(&|r| r.query = [r.query.as_str(), "tampered=1"].join(if r.query.is_empty() { "" } else { "&" })),
    ));
    tampered.push((
        "body".into(),
        with(&|r| {
            let mut body = match &r.payload {
                Payload::Bytes(bytes) => bytes.clone(),
                Payload::Sha256(_) => unreachable!("the harness reads whole bodies"),
            };
            body.push(b'x');
            r.payload = Payload::Bytes(body);
        }),
    ));
    tampered.push(("date".into(), with(&|r| shift_request_time(r))));
    for name in claim.signed_headers() {
        let request = with(&|r| {
            let position = r
                .headers
                .iter()
                .position(|(header, _)| header.eq_ignore_ascii_case(name))
                .unwrap();
            let value = &mut r.headers[position].1;
            *value = if value.contains(SIGNING_TIME) {
                value.replace(SIGNING_TIME, SHIFTED_TIME)
            } else {
                format!("{value}x")
            };
        });
        tampered.push((format!("signed header `{name}`"), request));
    }

    let failures: Vec<String> = tampered
        .iter()
        .filter(|(_, request)| verify_request(case, request).is_ok())
        .map(|(part, _)| format!("still accepted after changing the {part}"))
        .collect();
    (tampered.len(), failures)
}

/// Moves `X-Amz-Date` (header or presigned parameter) one second later.
fn shift_request_time(request: &mut HttpRequest) {
    if request.query.contains("X-Amz-Date=") {
        request.query = request.query.replace(
            &format!("X-Amz-Date={SIGNING_TIME}"),
            &format!("X-Amz-Date={SHIFTED_TIME}"),
        );
    } else {
        for (name, value) in &mut request.headers {
            if name.eq_ignore_ascii_case("x-amz-date") {
                *value = value.replace(SIGNING_TIME, SHIFTED_TIME);
            }
        }
    }
}

/// The signer reproduces every step from the unsigned request, and the verifier accepts its output.
fn check_signer(case: &Case) -> Vec<String> {
    let mut request = case.unsigned.clone();
    let params = SigningParams {
        credentials: &case.credentials,
        region: &case.region,
        service: &case.service,
        time: case.now,
        mode: case.signing_mode,
        uri_path: case.canonical_options.uri_path,
        sign_session_token: case.sign_session_token,
    };
    let output = match sign(&mut request, &params) {
        Ok(output) => output,
        Err(error) => return vec![format!("signer failed: {error}")],
    };
    let mut failures = Vec::new();
    if output.canonical_request != case.expected_canonical_request {
        failures.push(differs(
            "signer's canonical request",
            &case.expected_canonical_request,
            &output.canonical_request,
        ));
    }
    if output.string_to_sign != case.expected_string_to_sign {
        failures.push(differs(
            "signer's string to sign",
            &case.expected_string_to_sign,
            &output.string_to_sign,
        ));
    }
    if output.signature != case.expected_signature {
        failures.push(differs(
            "signer's signature",
            &case.expected_signature,
            &output.signature,
        ));
    }
    let result = match case.signing_mode {
        SigningMode::Header { .. } => request.header_values("authorization").collect::<Vec<_>>().join("\n"),
        SigningMode::Presigned { .. } => request.query.clone(),
    };
    if result != case.expected_signer_result {
        failures.push(differs("signed request", &case.expected_signer_result, &result));
    }
    if let Err(error) = verify_request(case, &request) {
        failures.push(format!("signer's request refused: {error}"));
    }
    failures
}

fn signing_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2015-08-30T12:36:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn authorization_of(request: &HttpRequest) -> String {
    request
        .header_values("authorization")
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn signature_in(authorization: &str) -> String {
    authorization
        .rsplit("Signature=")
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// AWS's classic suite: `.req`, `.creq`, `.sts`, `.authz`, `.sreq`; header signing only.

/// Directories holding a case: the ones with `<name>/<name>.req`.
fn classic_case_dirs(dir: &Path, found: &mut Vec<PathBuf>) {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    if dir.join(format!("{name}.req")).is_file() {
        found.push(dir.to_owned());
    }
    let mut children: Vec<PathBuf> = fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    children.sort();
    for child in children.into_iter().filter(|child| child.is_dir()) {
        classic_case_dirs(&child, found);
    }
}

fn classic_case(dir: &Path) -> Case {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let file = |extension: &str| read(&dir.join(format!("{name}.{extension}")));
    let parse = |text: &str| parse_http(text, ObsFold::SeparateValue).unwrap_or_else(|error| panic!("{name}: {error}"));
    let mut signed = parse(&file("sreq"));
    let mut unsigned = parse(&file("req"));
    let mut expected_canonical_request = file("creq");
    let expected_string_to_sign = file("sts");
    let authorization = file("authz").trim().to_owned();

    // Errata of the classic suite, known to every implementation that runs it. Each correction
    // is the one the suite's own string to sign and signature prove right.
    match name.as_str() {
        "post-x-www-form-urlencoded" => {
            // `.sreq` dropped the signed Content-Type header and `.creq` lists `host;x-amz-date`
            // instead of the signed `content-type;host;x-amz-date`: use `.req` plus `.authz`, and
            // the canonical request whose hash the published `.sts` carries.
            signed = unsigned.clone().with_header("Authorization", authorization.clone());
            expected_canonical_request =
                expected_canonical_request.replace("\n\nhost;x-amz-date\n", "\n\ncontent-type;host;x-amz-date\n");
            let published_hash = expected_string_to_sign.rsplit('\n').next().unwrap();
            assert_eq!(
                hex::encode(Sha256::digest(&expected_canonical_request)),
                published_hash,
                "{name}: erratum"
            );
        }
        "post-x-www-form-urlencoded-parameters" => {
            // `.creq`, `.sts` and `.authz` sign `Param1=value1` as the query with an empty body,
            // while `.req` and `.sreq` carry it as the body: send it the way it was signed.
            for request in [&mut signed, &mut unsigned] {
                let Payload::Bytes(body) = &request.payload else {
                    unreachable!()
                };
                request.query = String::from_utf8(body.clone()).unwrap();
                request.payload = Payload::default();
            }
        }
        _ => {}
    }

    // `post-sts-header-after` adds the token after signing, which only a lenient policy accepts.
    let token_added_after_signing = name == "post-sts-header-after";
    Case {
        id: format!("aws-sig-v4-test-suite/{name}"),
        expected_signature: signature_in(&authorization),
        expected_signer_result: authorization,
        signed,
        unsigned,
        expected_canonical_request,
        expected_string_to_sign,
        credentials: Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            // The `.req` of `post-sts-header-before` already carries the token header, which the
            // signer signs like any other; `post-sts-header-after` adds it after signing.
            session_token: None,
        },
        region: "us-east-1".into(),
        service: "service".into(),
        now: signing_time(),
        policy: VerifyPolicy {
            allow_unsigned_session_token: token_added_after_signing,
            ..VerifyPolicy::default()
        },
        canonical_options: CanonicalOptions::default(),
        signing_mode: SigningMode::Header {
            payload: PayloadSigning::Hash,
        },
        sign_session_token: true,
    }
}

#[test]
fn classic_aws_suite_every_case() {
    let suite = vectors_dir().join("aws-sig-v4-test-suite");
    let mut dirs = Vec::new();
    classic_case_dirs(&suite, &mut dirs);
    let found: BTreeSet<String> = dirs
        .iter()
        .map(|dir| dir.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let indexed = index_case_names(&suite.with_extension("json"));
    assert_eq!(found, indexed, "case folders and the suite index disagree");
    assert_eq!(found.len(), 31, "the classic suite has 31 cases");

    let mut report = Report::default();
    for dir in &dirs {
        report.run(&classic_case(dir));
    }
    report.assert_all_pass("aws-sig-v4-test-suite");
}

// ---------------------------------------------------------------------------------------------
// aws-c-auth's suite: `context.json`, `request.txt` and, per variant, the four expected files.

fn aws_c_auth_case(dir: &Path, variant: &str) -> Case {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let file = |file_name: &str| read(&dir.join(file_name));
    let parse = |text: &str| parse_http(text, ObsFold::JoinWithSpace).unwrap_or_else(|error| panic!("{name}: {error}"));
    let context: Value = serde_json::from_str(&file("context.json")).unwrap();
    let text = |key: &str| {
        context[key]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: context lacks `{key}`"))
            .to_owned()
    };
    let flag = |key: &str| context[key].as_bool().unwrap_or(false);

    let presigned = variant == "query";
    let normalize = context["normalize"].as_bool().unwrap_or(true);
    let token_added_after_signing = flag("omit_session_token");
    let expires_in_seconds = u32::try_from(context["expiration_in_seconds"].as_u64().unwrap()).unwrap();
    let uri_path = if normalize {
        UriPathMode::Normalized
    } else {
        UriPathMode::S3
    };

    let signed = parse(&file(&format!("{variant}-signed-request.txt")));
    let expected_signer_result = if presigned {
        signed.query.clone()
    } else {
        authorization_of(&signed)
    };
    let credentials = &context["credentials"];
    Case {
        id: format!("aws-c-auth-v4/{name} [{variant}]"),
        unsigned: parse(&file("request.txt")),
        expected_canonical_request: file(&format!("{variant}-canonical-request.txt")),
        expected_string_to_sign: file(&format!("{variant}-string-to-sign.txt")),
        expected_signature: file(&format!("{variant}-signature.txt")).trim().to_owned(),
        expected_signer_result,
        signed,
        credentials: Credentials {
            access_key_id: credentials["access_key_id"].as_str().unwrap().to_owned(),
            secret_access_key: credentials["secret_access_key"].as_str().unwrap().to_owned(),
            session_token: credentials["token"].as_str().map(str::to_owned),
        },
        region: text("region"),
        service: text("service"),
        now: DateTime::parse_from_rfc3339(&text("timestamp"))
            .unwrap()
            .with_timezone(&Utc),
        policy: VerifyPolicy {
            uri_path,
            allow_unsigned_session_token: token_added_after_signing,
            ..VerifyPolicy::default()
        },
        canonical_options: CanonicalOptions {
            uri_path,
            session_token_unsigned: token_added_after_signing && presigned,
        },
        signing_mode: if presigned {
            SigningMode::Presigned { expires_in_seconds }
        } else if flag("sign_body") {
            SigningMode::Header {
                payload: PayloadSigning::HashInHeader,
            }
        } else {
            SigningMode::Header {
                payload: PayloadSigning::Hash,
            }
        },
        sign_session_token: !token_added_after_signing,
    }
}

#[test]
fn aws_c_auth_suite_every_case_header_and_presigned() {
    let suite = vectors_dir().join("aws-c-auth-v4");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&suite)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("context.json").is_file())
        .collect();
    dirs.sort();
    let found: BTreeSet<String> = dirs
        .iter()
        .map(|dir| dir.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let indexed = index_case_names(&suite.with_extension("json"));
    assert_eq!(found, indexed, "case folders and the suite index disagree");
    assert_eq!(found.len(), 38, "the aws-c-auth v4 suite has 38 cases");

    let mut report = Report::default();
    for dir in &dirs {
        for variant in ["header", "query"] {
            report.run(&aws_c_auth_case(dir, variant));
        }
    }
    report.assert_all_pass("aws-c-auth-v4");
}

#[test]
fn presigned_vectors_expire_an_hour_after_signing() {
    let dir = vectors_dir().join("aws-c-auth-v4/get-vanilla");
    let case = aws_c_auth_case(&dir, "query");
    let later = |seconds| Case {
        now: signing_time() + TimeDelta::seconds(seconds),
        ..aws_c_auth_case(&dir, "query")
    };
    assert_eq!(verify_request(&case, &case.signed), Ok(()));
    assert_eq!(verify_request(&later(3600), &case.signed), Ok(()));
    let expired = verify_request(&later(3601), &case.signed);
    assert!(
        expired.as_ref().is_err_and(|error| error.starts_with("RequestExpired")),
        "{expired:?}"
    );
}
