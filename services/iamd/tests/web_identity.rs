//! `AssumeRoleWithWebIdentity` against a real `iamd`, with a real OpenID Connect issuer on
//! 127.0.0.1 (`oidc_issuer.py`: discovery document, key set, tokens signed by Python's
//! `cryptography`), through botocore's own STS and IAM clients: OIDC providers as IAM entities,
//! tokens verified against fetched and registered keys, claims as trust-policy condition keys,
//! and every forged or misdirected token refused with AWS's codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use iam_sigv4::Credentials;
use serde_json::{json, Value};
use support::{botocore_calls, gql, Server};

/// The local issuer: its URL and published keys, and a pipe to mint tokens.
struct Issuer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    url: String,
    jwks: Value,
}

impl Issuer {
    fn start() -> Issuer {
        let python = std::env::var("GATEHOUSE_PYTHON").unwrap_or_else(|_| "python3".to_owned());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc_issuer.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let hello: Value = serde_json::from_str(&line).unwrap();
        Issuer {
            child,
            stdin,
            stdout,
            url: hello["issuer"].as_str().unwrap().to_owned(),
            jwks: hello["jwks"].clone(),
        }
    }

    fn mint(&mut self, claims: Value, alg: &str, kid: Option<&str>, key: Option<&str>) -> String {
        let mut request = json!({"claims": claims, "alg": alg, "kid": kid});
        if let Some(key) = key {
            request["key"] = json!(key);
        }
        writeln!(self.stdin, "{request}").unwrap();
        let mut token = String::new();
        self.stdout.read_line(&mut token).unwrap();
        token.trim().to_owned()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok(results: &[Value], i: usize) -> &Value {
    assert!(results[i].get("response").is_some(), "call {i}: {}", results[i]);
    &results[i]["response"]
}

fn error(results: &[Value], i: usize) -> &str {
    results[i]["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("call {i} should have failed: {}", results[i]))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[test]
fn web_identity_tokens_become_role_sessions_only_when_verified_and_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.root_credentials();
    let account = server.account_id();
    let mut issuer = Issuer::start();
    let host = issuer.url.trim_start_matches("http://").to_owned();
    let provider_arn = format!("arn:aws:iam::{account}:oidc-provider/{host}");
    // The same keys, registered with a second provider (its issuer name is `localhost`, which
    // Gatehouse never fetches from): the registered-keys path.
    let localhost = issuer.url.replace("127.0.0.1", "localhost");
    let second_arn = format!(
        "arn:aws:iam::{account}:oidc-provider/{}",
        localhost.trim_start_matches("http://")
    );
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {format!("{host}:aud"): "gatehouse-ci"},
            "StringLike": {format!("{host}:sub"): "repo:acme/*"},
        },
    }]});
    let results = botocore_calls(
        &server,
        &root,
        &[
            (
                "iam",
                "create_open_id_connect_provider",
                json!({"Url": issuer.url, "ClientIDList": ["gatehouse-ci"],
                       "Tags": [{"Key": "ci", "Value": "local"}]}),
            ),
            (
                "iam",
                "create_role",
                json!({"RoleName": "ci-deployer", "AssumeRolePolicyDocument": trust.to_string()}),
            ),
            (
                "iam",
                "put_role_policy",
                json!({"RoleName": "ci-deployer", "PolicyName": "list",
                       "PolicyDocument": json!({"Version": "2012-10-17", "Statement": [
                           {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}]}).to_string()}),
            ),
            (
                "iam",
                "get_open_id_connect_provider",
                json!({"OpenIDConnectProviderArn": provider_arn}),
            ),
            ("iam", "list_open_id_connect_providers", json!({})),
            (
                "iam",
                "add_client_id_to_open_id_connect_provider",
                json!({"OpenIDConnectProviderArn": provider_arn, "ClientID": "second-audience"}),
            ),
            (
                "iam",
                "update_open_id_connect_provider_thumbprint",
                json!({"OpenIDConnectProviderArn": provider_arn,
                       "ThumbprintList": ["6938fd4d98bab03faadb97b34396831e3780aea1"]}),
            ),
            (
                "iam",
                "list_open_id_connect_provider_tags",
                json!({"OpenIDConnectProviderArn": provider_arn}),
            ),
            (
                "iam",
                "create_open_id_connect_provider",
                json!({"Url": issuer.url, "ClientIDList": ["x"]}),
            ),
            (
                "iam",
                "create_open_id_connect_provider",
                json!({"Url": "https://example.com:8443", "ClientIDList": ["x"]}),
            ),
        ],
    );
    assert_eq!(ok(&results, 0)["OpenIDConnectProviderArn"], provider_arn.as_str());
    let got = ok(&results, 3);
    assert_eq!(got["Url"], host.as_str());
    assert_eq!(got["ClientIDList"], json!(["gatehouse-ci"]));
    assert_eq!(
        ok(&results, 4)["OpenIDConnectProviderList"][0]["Arn"],
        provider_arn.as_str()
    );
    assert_eq!(ok(&results, 7)["Tags"][0]["Key"], "ci");
    assert_eq!(error(&results, 8), "EntityAlreadyExists");
    assert_eq!(error(&results, 9), "InvalidInput", "IAM refuses a port");

    // The second provider, with its keys registered through GraphQL.
    let registered = gql(
        &server.address,
        &root,
        "mutation($url: String!, $jwks: String!) { createOpenIDConnectProvider(url: $url, clientIdList: [\"gatehouse-ci\"], jwks: $jwks) { arn hasRegisteredKeys } }",
        json!({"url": localhost, "jwks": issuer.jwks.to_string()}),
    );
    assert_eq!(
        registered.data()["createOpenIDConnectProvider"]["arn"],
        second_arn.as_str()
    );
    assert_eq!(
        registered.data()["createOpenIDConnectProvider"]["hasRegisteredKeys"],
        true
    );

    let role_arn = format!("arn:aws:iam::{account}:role/ci-deployer");
    let claims = |iss: &str, aud: &str, sub: &str, exp: i64, nbf: i64| {
        json!({"iss": iss, "aud": aud, "sub": sub, "exp": exp, "nbf": nbf, "iat": now() - 10,
               "amr": ["pwd"]})
    };
    let good = claims(
        &issuer.url,
        "gatehouse-ci",
        "repo:acme/app:ref:main",
        now() + 600,
        now() - 10,
    );
    let tokens = vec![
        ("RS256", issuer.mint(good.clone(), "RS256", Some("rsa-1"), None)),
        ("ES256", issuer.mint(good.clone(), "ES256", Some("ec-1"), None)),
        ("alg none", issuer.mint(good.clone(), "none", Some("rsa-1"), None)),
        (
            "HS256 keyed with the RSA public key",
            issuer.mint(good.clone(), "HS256", Some("rsa-1"), None),
        ),
        (
            "unknown kid",
            issuer.mint(good.clone(), "RS256", Some("rotated-away"), None),
        ),
        (
            "signed by another key",
            issuer.mint(good.clone(), "RS256", Some("rsa-1"), Some("other")),
        ),
        (
            "wrong audience",
            issuer.mint(
                claims(
                    &issuer.url,
                    "someone-else",
                    "repo:acme/app:ref:main",
                    now() + 600,
                    now() - 10,
                ),
                "RS256",
                Some("rsa-1"),
                None,
            ),
        ),
        (
            "unknown issuer",
            issuer.mint(
                claims(
                    "http://127.0.0.1:9",
                    "gatehouse-ci",
                    "repo:acme/app:ref:main",
                    now() + 600,
                    now() - 10,
                ),
                "RS256",
                Some("rsa-1"),
                None,
            ),
        ),
        (
            "expired",
            issuer.mint(
                claims(
                    &issuer.url,
                    "gatehouse-ci",
                    "repo:acme/app:ref:main",
                    now() - 120,
                    now() - 600,
                ),
                "RS256",
                Some("rsa-1"),
                None,
            ),
        ),
        (
            "not yet valid",
            issuer.mint(
                claims(
                    &issuer.url,
                    "gatehouse-ci",
                    "repo:acme/app:ref:main",
                    now() + 1200,
                    now() + 600,
                ),
                "RS256",
                Some("rsa-1"),
                None,
            ),
        ),
        (
            "a subject the trust policy does not name",
            issuer.mint(
                claims(
                    &issuer.url,
                    "gatehouse-ci",
                    "repo:evil/app:ref:main",
                    now() + 600,
                    now() - 10,
                ),
                "RS256",
                Some("rsa-1"),
                None,
            ),
        ),
        (
            "a token of another provider",
            issuer.mint(
                claims(
                    &localhost,
                    "gatehouse-ci",
                    "repo:acme/app:ref:main",
                    now() + 600,
                    now() - 10,
                ),
                "RS256",
                Some("rsa-1"),
                None,
            ),
        ),
    ];
    let calls: Vec<(&str, &str, Value)> = tokens
        .iter()
        .map(|(_, token)| {
            (
                "sts",
                "assume_role_with_web_identity",
                json!({"RoleArn": role_arn, "RoleSessionName": "ci-run-42", "WebIdentityToken": token}),
            )
        })
        .collect();
    let results = botocore_calls(&server, &root, &calls);
    let expected = [
        None,
        None,
        Some("InvalidIdentityToken"),
        Some("InvalidIdentityToken"),
        Some("InvalidIdentityToken"),
        Some("InvalidIdentityToken"),
        Some("InvalidIdentityToken"),
        Some("InvalidIdentityToken"),
        Some("ExpiredTokenException"),
        Some("InvalidIdentityToken"),
        Some("AccessDenied"),
        Some("AccessDenied"),
    ];
    for (i, ((case, _), expected)) in tokens.iter().zip(expected).enumerate() {
        match expected {
            None => {
                let response = ok(&results, i);
                assert_eq!(
                    response["SubjectFromWebIdentityToken"], "repo:acme/app:ref:main",
                    "{case}"
                );
                assert_eq!(response["Audience"], "gatehouse-ci", "{case}");
                assert_eq!(response["Provider"], host.as_str(), "{case}");
                assert_eq!(
                    response["AssumedRoleUser"]["Arn"],
                    format!("arn:aws:sts::{account}:assumed-role/ci-deployer/ci-run-42"),
                    "{case}"
                );
            }
            Some(code) => assert_eq!(error(&results, i), code, "{case}: {}", results[i]),
        }
    }

    // The session acts as the role, and its calls say whose token it came from.
    let c = &ok(&results, 0)["Credentials"];
    let session = Credentials {
        access_key_id: c["AccessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: c["SecretAccessKey"].as_str().unwrap().to_owned(),
        session_token: Some(c["SessionToken"].as_str().unwrap().to_owned()),
    };
    let results = botocore_calls(
        &server,
        &session,
        &[
            ("sts", "get_caller_identity", json!({})),
            ("iam", "list_users", json!({})),
        ],
    );
    assert_eq!(
        ok(&results, 0)["Arn"],
        format!("arn:aws:sts::{account}:assumed-role/ci-deployer/ci-run-42")
    );
    ok(&results, 1);

    let records = gql(
        &server.address,
        &root,
        "{ auditEvents(filter: {eventName: \"AssumeRoleWithWebIdentity\"}, first: 50) { edges { node { cloudTrailRecord } } } }",
        json!({}),
    );
    let records: Vec<Value> = records.data()["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["cloudTrailRecord"].clone())
        .collect();
    assert_eq!(
        records.len(),
        tokens.len(),
        "every attempt is recorded in the role's account"
    );
    let success = records
        .iter()
        .find(|r| r["userIdentity"]["type"] == "WebIdentityUser")
        .expect("a WebIdentityUser record");
    assert_eq!(success["userIdentity"]["identityProvider"], host.as_str());
    assert_eq!(success["userIdentity"]["userName"], "repo:acme/app:ref:main");
    let listed = gql(
        &server.address,
        &root,
        "{ auditEvents(filter: {eventName: \"ListUsers\"}, first: 5) { edges { node { cloudTrailRecord } } } }",
        json!({}),
    );
    let context =
        &listed.data()["auditEvents"]["edges"][0]["node"]["cloudTrailRecord"]["userIdentity"]["sessionContext"];
    assert_eq!(
        context["webIdFederationData"]["federatedProvider"],
        provider_arn.as_str()
    );

    // No token is kept anywhere: not in the log, the records or the read model.
    let mut written = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            written.extend(std::fs::read(&path).unwrap());
        }
    }
    let signature = tokens[0].1.rsplit('.').next().unwrap();
    assert!(
        !written.windows(signature.len()).any(|w| w == signature.as_bytes()),
        "a token was stored"
    );

    // The provider leaves: then its tokens are refused.
    let results = botocore_calls(
        &server,
        &root,
        &[
            (
                "iam",
                "delete_open_id_connect_provider",
                json!({"OpenIDConnectProviderArn": provider_arn}),
            ),
            (
                "sts",
                "assume_role_with_web_identity",
                json!({"RoleArn": role_arn, "RoleSessionName": "after", "WebIdentityToken": tokens[0].1}),
            ),
        ],
    );
    ok(&results, 0);
    assert_eq!(error(&results, 1), "InvalidIdentityToken");
}
