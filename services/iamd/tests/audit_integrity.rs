//! Tamper evidence, end to end: a real iamd writes its audit history with each account's hash
//! chain and signed digests; `iamctl audit verify` finds it intact, then finds what an attacker
//! with the data directory (and the master key) did to copies of it: a record edited, one
//! deleted, two swapped (each with the file's checksums and positions fixed up and the index
//! rebuilt, as a careful attacker would), links recomputed after an edit, and the signing key
//! replaced; a rotation the old key endorsed still verifies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};
use support::{gql, http_get, iamctl_binary, Server};

const FRAME_HEADER: usize = 16;
const LINK: usize = 40;

/// A frame of `audit.log`: its kind (the length field's top four bits) and payload.
#[derive(Clone)]
struct Frame {
    kind: u32,
    payload: Vec<u8>,
}

fn read_frames(path: &Path) -> (u64, Vec<Frame>) {
    let bytes = std::fs::read(path).unwrap();
    let mut frames = Vec::new();
    let mut at = 0;
    let mut first_position = None;
    while at + FRAME_HEADER <= bytes.len() {
        let length = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let position = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
        first_position.get_or_insert(position);
        let size = (length & 0x0FFF_FFFF) as usize;
        let payload = bytes[at + FRAME_HEADER..at + FRAME_HEADER + size].to_vec();
        frames.push(Frame {
            kind: length >> 28,
            payload,
        });
        at += FRAME_HEADER + size;
    }
    (first_position.unwrap(), frames)
}

/// Writes the frames back with consecutive positions and valid checksums, and removes the index
/// so the store rebuilds it from the file: nothing but the chain and the digests can tell.
fn write_frames(dir: &Path, first_position: u64, frames: &[Frame]) {
    let mut bytes = Vec::new();
    for (position, frame) in (first_position..).zip(frames) {
        let length = u32::try_from(frame.payload.len()).unwrap() | (frame.kind << 28);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&position.to_le_bytes());
        crc.update(&frame.payload);
        bytes.extend_from_slice(&length.to_le_bytes());
        bytes.extend_from_slice(&crc.finalize().to_le_bytes());
        bytes.extend_from_slice(&position.to_le_bytes());
        bytes.extend_from_slice(&frame.payload);
    }
    std::fs::write(dir.join("audit.log"), bytes).unwrap();
    for suffix in ["", "-wal", "-shm", ".state"] {
        let _ = std::fs::remove_file(dir.join(format!("audit-index.db{suffix}")));
    }
}

fn json_of(frame: &Frame) -> Value {
    serde_json::from_slice(&frame.payload[LINK..]).unwrap()
}

/// The chained record frames of `account`, as indices into `frames`.
fn records_of(frames: &[Frame], account: &str) -> Vec<usize> {
    (0..frames.len())
        .filter(|&i| frames[i].kind == 1 && json_of(&frames[i])["recipientAccountId"] == account)
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn verify(server: &Server, trusted_key: Option<&Path>) -> (Output, Value) {
    verify_with(server, trusted_key, &[])
}

fn verify_expecting(server: &Server, trusted_key: &Path, kept: &Path) -> (Output, Value) {
    verify_with(server, Some(trusted_key), &["--expect-digest", kept.to_str().unwrap()])
}

fn verify_with(server: &Server, trusted_key: Option<&Path>, extra: &[&str]) -> (Output, Value) {
    let root = server.root_credentials();
    let mut command = std::process::Command::new(iamctl_binary());
    command.args(["audit", "verify", "--endpoint", &format!("http://{}", server.address)]);
    command.args(extra);
    if let Some(path) = trusted_key {
        command.args(["--trusted-key", path.to_str().unwrap()]);
    }
    let output = command
        .env("AWS_ACCESS_KEY_ID", &root.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &root.secret_access_key)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_SHARED_CREDENTIALS_FILE", server.data_dir.join("none"))
        .env("AWS_CONFIG_FILE", server.data_dir.join("none"))
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "iamctl printed no report: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, report)
}

fn digest_now(server: &Server) -> Vec<Value> {
    let reply = gql(
        &server.address,
        &server.root_credentials(),
        "mutation { createAuditDigest }",
        json!({}),
    );
    reply.data()["createAuditDigest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| serde_json::from_str(d.as_str().unwrap()).unwrap())
        .collect()
}

fn some_calls(server: &Server, from: usize, to: usize) {
    let root = server.root_credentials();
    for n in from..to {
        let reply = gql(
            &server.address,
            &root,
            "mutation($name: String!) { createUser(input: {userName: $name}) { user { userName } } }",
            json!({ "name": format!("user-{n}") }),
        );
        assert!(reply.body.get("errors").is_none(), "{}", reply.body);
    }
}

/// Changes the actor of event `sequence` of `account` in the event log in place, as someone with
/// the database's password would: `events.db` in the embedded mode, the PostgreSQL schema of the
/// data directory in the distributed one (dropping or disabling the append-only trigger first).
fn edit_event(dir: &Path, account: &str, sequence: i64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::{ConnectOptions, Connection};
        let update = "UPDATE events SET actor = 'arn:aws:iam::000000000000:user/mallory' \
                      WHERE account_id = $1 AND sequence = $2";
        let changed = match std::env::var("GATEHOUSE_E2E_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            None => {
                let mut db = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(dir.join("events.db"))
                    .connect()
                    .await
                    .unwrap();
                sqlx::query("DROP TRIGGER IF EXISTS events_no_update")
                    .execute(&mut db)
                    .await
                    .unwrap();
                sqlx::query(update)
                    .bind(account)
                    .bind(sequence)
                    .execute(&mut db)
                    .await
                    .unwrap()
                    .rows_affected()
            }
            Some(url) => {
                let schema = std::fs::read_to_string(dir.join(".e2e-schema")).unwrap();
                let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query(&format!("SET search_path TO {schema}"))
                    .execute(&mut db)
                    .await
                    .unwrap();
                sqlx::query("ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete")
                    .execute(&mut db)
                    .await
                    .unwrap();
                sqlx::query(update)
                    .bind(account)
                    .bind(sequence)
                    .execute(&mut db)
                    .await
                    .unwrap()
                    .rows_affected()
            }
        };
        assert_eq!(changed, 1);
    });
}

/// Starts iamd on a tampered copy and verifies it with the original key trusted.
fn verify_copy(pristine: &Path, name: &str, trusted: &Path, tamper: impl FnOnce(&Path)) -> Value {
    let dir = pristine.with_file_name(name);
    copy_dir(pristine, &dir);
    tamper(&dir);
    let server = Server::start(&dir);
    let (output, report) = verify(&server, Some(trusted));
    server.terminate();
    assert!(!output.status.success(), "{name}: tampering went unnoticed: {report}");
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert_eq!(report["intact"], false, "{report}");
    report
}

#[test]
fn the_audit_history_verifies_intact_and_every_kind_of_tampering_is_named() {
    let scratch = tempfile::tempdir().unwrap();
    let pristine = scratch.path().join("pristine");
    std::fs::create_dir_all(&pristine).unwrap();
    let server = Server::start(&pristine);
    let account = server.account_id();

    // The published key, kept apart as an auditor would keep it.
    let (status, body) = http_get(&server.address, "/.well-known/gatehouse/audit-signing-keys");
    assert_eq!(status, 200, "{body}");
    let keys: Value = serde_json::from_str(&body).unwrap();
    let first_key = keys["keys"][0].clone();
    assert_eq!(first_key["algorithm"], "Ed25519");
    assert!(
        !body.contains("sealed") && !body.contains("pkcs8"),
        "only public halves are published"
    );
    let trusted = scratch.path().join("trusted-key.json");
    std::fs::write(&trusted, first_key.to_string()).unwrap();

    some_calls(&server, 0, 6);
    let first = digest_now(&server);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["accountId"], account.as_str());
    assert!(digest_now(&server).is_empty(), "nothing new since: no digest");
    some_calls(&server, 6, 12);
    let second = digest_now(&server);
    assert_eq!(second[0]["previousDigestHash"].as_str().map(str::len), Some(64));

    let (output, report) = verify(&server, Some(&trusted));
    assert!(output.status.success(), "{report}");
    assert_eq!(report["intact"], true);
    assert_eq!(report["unchainedRecords"], 0);
    let covered = second[0]["chainSequence"].as_u64().unwrap();
    assert_eq!(report["lastValidDigest"]["chainSequence"], covered);
    assert!(report["verifiedThrough"].as_u64().unwrap() >= covered);
    // The event log's chain: every digest signed its head too.
    assert_eq!(report["eventLog"]["intact"], true, "{report}");
    let events_signed = second[0]["eventSequence"].as_u64().unwrap();
    assert!(events_signed >= 12, "{second:?}");
    assert_eq!(report["eventLog"]["verifiedThrough"], events_signed, "{report}");
    server.terminate();

    // A clean stop signs what was left: the chain is covered to its end.
    let (_, frames) = read_frames(&pristine.join("audit.log"));
    assert_eq!(
        frames.last().unwrap().kind,
        2,
        "the last frame is the shutdown's digest"
    );
    let chained = records_of(&frames, &account);
    assert!(chained.len() >= 13, "{} records", chained.len());

    // 1. One byte of a record edited (checksum fixed).
    let edited_record = chained[3];
    let edited_event = json_of(&frames[edited_record])["eventID"].as_str().unwrap().to_owned();
    let report = verify_copy(&pristine, "edited", &trusted, |dir| {
        let (first, mut frames) = read_frames(&dir.join("audit.log"));
        let payload = &mut frames[edited_record].payload;
        let at = payload
            .windows(8)
            .position(|w| w == b"user-1\"}".as_slice())
            .map_or(LINK + 20, |p| p + 5);
        payload[at] ^= 0x01;
        write_frames(dir, first, &frames);
    });
    assert_eq!(report["problem"]["kind"], "EDITED", "{report}");
    assert_eq!(report["problem"]["eventId"], edited_event.as_str(), "{report}");
    assert_eq!(report["problem"]["sequence"], 4);

    // 2. One record deleted, later positions renumbered.
    let report = verify_copy(&pristine, "deleted", &trusted, |dir| {
        let (first, mut frames) = read_frames(&dir.join("audit.log"));
        frames.remove(chained[5]);
        write_frames(dir, first, &frames);
    });
    assert_eq!(report["problem"]["kind"], "DELETED", "{report}");
    assert_eq!(report["problem"]["sequence"], 6);

    // 3. Two records swapped.
    let report = verify_copy(&pristine, "swapped", &trusted, |dir| {
        let (first, mut frames) = read_frames(&dir.join("audit.log"));
        frames.swap(chained[7], chained[8]);
        write_frames(dir, first, &frames);
    });
    assert_eq!(report["problem"]["kind"], "REORDERED", "{report}");

    // 4. A record rewritten and every link after it recomputed: only the signed digest knows.
    let report = verify_copy(&pristine, "relinked", &trusted, |dir| {
        let (first, mut frames) = read_frames(&dir.join("audit.log"));
        let mut heads = iam_audit::integrity::ChainHeads::new();
        for &i in &records_of(&frames, &account) {
            let mut json = frames[i].payload[LINK..].to_vec();
            if i == chained[2] {
                let at = json.len() / 2;
                json[at] = b' ';
            }
            let link = heads.append(&account, &json);
            let mut payload = link.sequence.to_le_bytes().to_vec();
            payload.extend_from_slice(&link.hash.0);
            payload.extend_from_slice(&json);
            frames[i].payload = payload;
        }
        write_frames(dir, first, &frames);
    });
    assert_eq!(report["problem"]["kind"], "DIGEST_MISMATCH", "{report}");
    assert_eq!(report["verifiedThrough"], 0, "{report}");

    // 5. The signing key replaced (a new key made where the old one was): what it signs is not
    //    trusted, and the key itself is refused.
    let dir = scratch.path().join("replaced");
    copy_dir(&pristine, &dir);
    std::fs::remove_file(dir.join("audit-signing.key")).unwrap();
    let server = Server::start(&dir);
    some_calls(&server, 100, 102);
    assert_eq!(digest_now(&server).len(), 1);
    let (output, report) = verify(&server, Some(&trusted));
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert_eq!(report["problem"]["kind"], "DIGEST_INVALID", "{report}");
    assert!(
        report["lastValidDigest"]["chainSequence"].as_u64().unwrap() >= covered,
        "{report}"
    );
    assert_eq!(report["keysRefused"].as_array().unwrap().len(), 1, "{report}");
    server.terminate();

    // 6. A rotation the old key endorses is followed.
    let dir = scratch.path().join("rotated");
    copy_dir(&pristine, &dir);
    let server = Server::start_adding(&dir, &["--rotate-audit-signing-key"]);
    some_calls(&server, 200, 202);
    let rotated = digest_now(&server);
    assert_ne!(rotated[0]["signingKeyId"], first_key["keyId"]);
    assert_eq!(rotated[0]["previousSigningKeyId"], first_key["keyId"]);
    let (output, report) = verify(&server, Some(&trusted));
    assert!(output.status.success(), "{report}");
    assert_eq!(report["lastValidDigest"]["signingKeyId"], rotated[0]["signingKeyId"]);
    server.terminate();

    // 8. The record file cut back, the digests after the cut with it: only a digest kept from
    //    before says so.
    let kept = scratch.path().join("kept-digest.json");
    std::fs::write(&kept, second[0].to_string()).unwrap();
    let dir = scratch.path().join("truncated");
    copy_dir(&pristine, &dir);
    {
        let (first_position, frames) = read_frames(&dir.join("audit.log"));
        write_frames(&dir, first_position, &frames[..=chained[8]]);
    }
    let server = Server::start(&dir);
    let (output, report) = verify(&server, Some(&trusted));
    assert!(
        output.status.success(),
        "without the kept digest the cut is invisible: {report}"
    );
    let (output, report) = verify_expecting(&server, &trusted, &kept);
    server.terminate();
    assert_eq!(output.status.code(), Some(1), "{report}");
    // The restarted server has since chained new records (the verifications' own) after the cut:
    // the kept digest's records are then either missing or other ones.
    let kind = report["problem"]["kind"].as_str().unwrap();
    assert!(kind == "TRUNCATED" || kind == "DIGEST_MISMATCH", "{report}");
    assert!(report["verifiedThrough"].as_u64().unwrap() <= 9, "{report}");

    // 7. An event of the log edited in place (the append-only trigger dropped first): the
    //    stream no longer reproduces the event heads the digests signed.
    let dir = scratch.path().join("event-edited");
    copy_dir(&pristine, &dir);
    edit_event(&dir, &account, 3);
    let server = Server::start(&dir);
    let (output, report) = verify(&server, Some(&trusted));
    server.terminate();
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert_eq!(report["eventLog"]["problem"]["kind"], "DIGEST_MISMATCH", "{report}");
    assert_eq!(report["eventLog"]["problem"]["sequence"], 1, "{report}");
    assert_eq!(
        report["problem"],
        Value::Null,
        "the audit records themselves are intact: {report}"
    );
}

fn gunzip(path: &Path) -> Value {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn gzip_to(path: &Path, value: &Value) {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&serde_json::to_vec(value).unwrap()).unwrap();
    std::fs::write(path, encoder.finish().unwrap()).unwrap();
}

fn gz_files(dir: &Path, part: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.to_string_lossy().contains(part) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn verify_dir(dir: &Path, trusted: &Path) -> (Output, Value) {
    let output = std::process::Command::new(iamctl_binary())
        .args([
            "audit",
            "verify",
            "--dir",
            dir.to_str().unwrap(),
            "--trusted-key",
            trusted.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!("no report: {}", String::from_utf8_lossy(&output.stderr));
    });
    (output, report)
}

#[test]
fn an_exported_trail_carries_its_chain_and_verifies_without_the_server() {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(scratch.path().join("data")).unwrap();
    let server = Server::start(&scratch.path().join("data"));
    let (_, body) = http_get(&server.address, "/.well-known/gatehouse/audit-signing-keys");
    let keys: Value = serde_json::from_str(&body).unwrap();
    let trusted = scratch.path().join("trusted-key.json");
    std::fs::write(&trusted, keys["keys"][0].to_string()).unwrap();
    some_calls(&server, 0, 5);
    digest_now(&server);
    some_calls(&server, 5, 8);
    digest_now(&server);

    let out = scratch.path().join("trail");
    let root = server.root_credentials();
    let export = |extra: &[&str]| {
        let from = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
        let output = std::process::Command::new(iamctl_binary())
            .args([
                "audit",
                "export-trail",
                "--dir",
                out.to_str().unwrap(),
                "--from",
                &from,
                "--through-now",
            ])
            .args(extra)
            .args(["--endpoint", &format!("http://{}", server.address)])
            .env("AWS_ACCESS_KEY_ID", &root.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &root.secret_access_key)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_SHARED_CREDENTIALS_FILE", scratch.path().join("none"))
            .env("AWS_CONFIG_FILE", scratch.path().join("none"))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let first = export(&[]);
    assert!(first["chainRecords"].as_u64().unwrap() >= 8, "{first}");
    // A second run adds only what was stored since: a second segment.
    some_calls(&server, 8, 10);
    digest_now(&server);
    let second = export(&[]);
    assert!(second["chainRecords"].as_u64().unwrap() >= 2, "{second}");
    server.terminate();
    assert_eq!(gz_files(&out, "gatehouse-chain").len(), 2);

    let (output, report) = verify_dir(&out, &trusted);
    assert!(output.status.success(), "{report}");
    assert_eq!(report["intact"], true);
    assert!(
        report["accounts"][0]["lastValidDigest"]["chainSequence"]
            .as_u64()
            .unwrap()
            >= 10,
        "{report}"
    );

    let tampered = |name: &str, change: &dyn Fn(&Path)| -> Value {
        let copy = scratch.path().join(name);
        copy_dir_all(&out, &copy);
        change(&copy);
        let (output, report) = verify_dir(&copy, &trusted);
        assert_eq!(output.status.code(), Some(1), "{name}: {report}");
        report["accounts"][0]["problem"].clone()
    };
    // A record of a CloudTrail file edited.
    let problem = tampered("file-edited", &|dir| {
        let path = gz_files(dir, "/CloudTrail/").remove(0);
        let mut file = gunzip(&path);
        file["Records"][1]["sourceIPAddress"] = json!("203.0.113.9");
        gzip_to(&path, &file);
    });
    assert_eq!(problem["kind"], "EDITED", "{problem}");
    // A record removed from a CloudTrail file.
    let problem = tampered("file-deleted", &|dir| {
        let path = gz_files(dir, "/CloudTrail/").remove(0);
        let mut file = gunzip(&path);
        file["Records"].as_array_mut().unwrap().remove(2);
        gzip_to(&path, &file);
    });
    assert_eq!(problem["kind"], "DELETED", "{problem}");
    // The chain segment itself edited to match: the link no longer holds.
    let problem = tampered("chain-edited", &|dir| {
        let path = gz_files(dir, "gatehouse-chain").remove(0);
        let mut file = gunzip(&path);
        let text = file["records"][3]["record"].as_str().unwrap().replace("user-", "usr-");
        file["records"][3]["record"] = json!(text);
        gzip_to(&path, &file);
    });
    assert_eq!(problem["kind"], "EDITED", "{problem}");
    // A whole segment removed.
    let problem = tampered("segment-removed", &|dir| {
        let path = gz_files(dir, "gatehouse-chain").remove(0);
        std::fs::remove_file(path).unwrap();
    });
    assert_eq!(problem["kind"], "DELETED", "{problem}");
}

fn copy_dir_all(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir_all(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
