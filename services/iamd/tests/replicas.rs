//! Two `iamd` replicas sharing one event log in PostgreSQL: conflicting commands sent to both at
//! once never both commit, a change made through one is visible through the other, and a
//! consistency token keeps the other from granting a permission just removed.
//!
//! Needs PostgreSQL: `#[ignore]`d so the README's test command runs without a server;
//! `scripts/distributed-test.sh` starts one and runs it with `--ignored` (`GATEHOUSE_DATABASE_URL`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Connection;
use support::{gql, post_path, signed_headers_for, Server};

fn database_url() -> String {
    std::env::var("GATEHOUSE_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("GATEHOUSE_DATABASE_URL is not set: run scripts/distributed-test.sh")
}

#[test]
#[ignore = "needs PostgreSQL: run by .ci/run's distributed suite (scripts/distributed-test.sh)"]
fn two_replicas_share_one_log_without_lost_updates_or_stale_grants() {
    let url = database_url();
    let schema = format!("iamd_{}", uuid::Uuid::now_v7().simple());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .unwrap();
    });
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let shared = ["--database-url", url.as_str(), "--events-schema", schema.as_str()];
    let a = Server::start_with(dir_a.path(), &shared);
    let key = dir_a.path().join("master.key");
    let mut with_key = shared.to_vec();
    with_key.extend(["--master-key-file", key.to_str().unwrap()]);
    let b = Server::start_with(dir_b.path(), &with_key);
    let root = a.root_credentials();

    // The same names created through both replicas at once: exactly one success per name.
    let create = "mutation($n: String!) { createUser(input: {userName: $n}) { sequence } }";
    let (from_a, from_b) = std::thread::scope(|scope| {
        let run = |address: String| {
            let root = root.clone();
            scope.spawn(move || {
                (0..15)
                    .map(|i| gql(&address, &root, create, json!({"n": format!("shared-{i}")})).error_code())
                    .collect::<Vec<_>>()
            })
        };
        let (x, y) = (run(a.address.clone()), run(b.address.clone()));
        (x.join().unwrap(), y.join().unwrap())
    });
    for (i, (x, y)) in from_a.iter().zip(&from_b).enumerate() {
        let wins = usize::from(x.is_none()) + usize::from(y.is_none());
        assert_eq!(wins, 1, "shared-{i}: {x:?} / {y:?}");
        for code in [x, y].into_iter().flatten() {
            assert_eq!(code, "EntityAlreadyExists", "shared-{i}");
        }
    }

    // A change through A is seen through B (B follows the shared log).
    let made = gql(&a.address, &root, create, json!({"n": "alice"}));
    assert!(made.error_code().is_none(), "{:?}", made.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = gql(
            &b.address,
            &root,
            "{ user(userName: \"alice\") { userName } }",
            json!({}),
        );
        if seen.error_code().is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "B never saw alice: {:?}", seen.body);
        std::thread::sleep(Duration::from_millis(50));
    }

    // A query may carry a token too: B answers at least as fresh as A's change, at once.
    let bob = gql(&a.address, &root, create, json!({"n": "bob"}));
    let token = bob.data()["createUser"]["sequence"].as_u64().unwrap();
    let body = json!({"query": "{ user(userName: \"bob\") { userName } }"}).to_string();
    let mut headers = signed_headers_for(&b.address, "/graphql", &root, &body, chrono::Utc::now());
    headers.push(("x-gatehouse-min-sequence".into(), token.to_string()));
    let fresh = post_path(&b.address, "/graphql", &headers, &body);
    assert_eq!(fresh.data()["user"]["userName"], "bob", "{}", fresh.body);

    // The new-enemy problem: a permission removed through A is never granted by B for a caller
    // that passes the removal's token.
    let attach = gql(
        &a.address,
        &root,
        "mutation { attachUserPolicy(input: {userName: \"alice\", policyArn: \"arn:aws:iam::aws:policy/ReadOnlyAccess\"}) { sequence } }",
        json!({}),
    );
    let attached = attach.data()["attachUserPolicy"]["sequence"].as_u64().unwrap();
    let detach = gql(
        &a.address,
        &root,
        "mutation { detachUserPolicy(input: {userName: \"alice\", policyArn: \"arn:aws:iam::aws:policy/ReadOnlyAccess\"}) { sequence } }",
        json!({}),
    );
    let detached = detach.data()["detachUserPolicy"]["sequence"].as_u64().unwrap();
    assert!(detached > attached);
    let account = a.account_id();
    let ask = json!({"principalArn": format!("arn:aws:iam::{account}:user/alice"), "action": "s3:GetObject",
        "resource": "arn:aws:s3:::reports/q3.pdf", "minSequence": detached});
    let body = ask.to_string();
    let headers = signed_headers_for(&b.address, "/v1/authorize", &root, &body, chrono::Utc::now());
    let decided = post_path(&b.address, "/v1/authorize", &headers, &body);
    assert_eq!(decided.status, 200, "{}", decided.body);
    assert_eq!(decided.body["decision"], "ImplicitDeny", "{}", decided.body);
    assert!(decided.body["sequence"].as_u64().unwrap() >= detached);

    // A role session issued by A is honoured by B from its token alone, and a revocation made
    // through A refuses it on B at once for a request carrying the revocation's token.
    let setup = [
        format!(
            "mutation {{ createRole(input: {{roleName: \"app\", assumeRolePolicyDocument: {:?}}}) {{ sequence }} }}",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:user/alice")}, "Action": "sts:AssumeRole"}]})
            .to_string()
        ),
        "mutation { attachRolePolicy(input: {roleName: \"app\", policyArn: \"arn:aws:iam::aws:policy/ReadOnlyAccess\"}) { sequence } }".to_owned(),
        "mutation { createAccessKey(userName: \"alice\") { accessKey { accessKeyId secretAccessKey } } }".to_owned(),
    ];
    let answers: Vec<_> = setup.iter().map(|m| gql(&a.address, &root, m, json!({}))).collect();
    let key = &answers[2].data()["createAccessKey"]["accessKey"];
    let alice = iam_sigv4::Credentials {
        access_key_id: key["accessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: key["secretAccessKey"].as_str().unwrap().to_owned(),
        session_token: None,
    };
    let assumed = gql(
        &a.address,
        &alice,
        "mutation($r: String!) { assumeRole(input: {roleArn: $r, roleSessionName: \"replica\"}) { credentials { accessKeyId secretAccessKey sessionToken } } }",
        json!({"r": format!("arn:aws:iam::{account}:role/app")}),
    );
    let c = &assumed.data()["assumeRole"]["credentials"];
    let session = iam_sigv4::Credentials {
        access_key_id: c["accessKeyId"].as_str().unwrap().to_owned(),
        secret_access_key: c["secretAccessKey"].as_str().unwrap().to_owned(),
        session_token: c["sessionToken"].as_str().map(str::to_owned),
    };
    let read = "{ callerIdentity { arn } users { edges { node { userName } } } }";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let on_b = gql(&b.address, &session, read, json!({}));
        if on_b.error_code().is_none() {
            assert_eq!(
                on_b.data()["callerIdentity"]["arn"],
                format!("arn:aws:sts::{account}:assumed-role/app/replica")
            );
            break;
        }
        assert!(Instant::now() < deadline, "B never honoured the session: {}", on_b.body);
        std::thread::sleep(Duration::from_millis(50));
    }
    let revoked = gql(
        &a.address,
        &root,
        "mutation { revokeRoleSessions(roleName: \"app\") { sequence } }",
        json!({}),
    );
    let revocation = revoked.data()["revokeRoleSessions"]["sequence"].as_u64().unwrap();
    let body = json!({"query": read}).to_string();
    let mut headers = signed_headers_for(&b.address, "/graphql", &session, &body, chrono::Utc::now());
    headers.push(("x-gatehouse-min-sequence".into(), revocation.to_string()));
    let refused = post_path(&b.address, "/graphql", &headers, &body);
    assert_eq!(
        refused.error_code().as_deref(),
        Some("AccessDenied"),
        "{}",
        refused.body
    );

    a.terminate();
    b.terminate();
    runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut admin)
            .await
            .unwrap();
    });
}
