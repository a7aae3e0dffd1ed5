//! Compliance, over a real SQLite log and audit history: every decision of a random workload,
//! interleaved with random policy and SCP changes, replays at `RECORDED` to exactly its record, and
//! a record that does not say what was decided fails the check; a state at any sequence equals
//! the log's prefix applied from scratch; an impact preview agrees with applying the change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use iam_app::access::{context_entry, AccessRequest, ApiCaller};
use iam_app::history::AsOf;
use iam_app::management::MemberAccountRequest;
use iam_app::organizations::{OrgOperation, OrgRead, Page};
use iam_app::replay::ReplayPoint;
use iam_app::{Actor, Gatehouse};
use iam_audit::{AuditFilter, AuditRecord};
use iam_domain::organization::{OrgCommand, OrgPolicyType};
use iam_domain::{evolve, AccountState, Command};
use iam_eventlog::EventStore;
use iam_secrets::Sealer;
use iam_store_sqlite::{AuditDurability, SqliteAuditLog, SqliteEventStore, SqliteStoreOptions};
use iam_types::ErrorCode;

struct World {
    gatehouse: Gatehouse,
    store: Arc<SqliteEventStore>,
    audit: Arc<SqliteAuditLog>,
    management: String,
    member: String,
}

fn root_of(account: &str) -> ApiCaller {
    ApiCaller {
        account_id: account.to_owned(),
        principal_arn: format!("arn:aws:iam::{account}:root"),
        access_key_id: None,
        source_ip: None,
        user_agent: None,
        request_id: "r".into(),
        region: "us-east-1".into(),
        api_version: None,
        session: None,
    }
}

/// A deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const ACTIONS: [&str; 6] = [
    "s3:GetObject",
    "s3:PutObject",
    "ec2:RunInstances",
    "dynamodb:GetItem",
    "iam:CreateUser",
    "sqs:SendMessage",
];

fn document(rng: &mut Rng) -> String {
    let effect = if rng.below(4) == 0 { "Deny" } else { "Allow" };
    let action = ["s3:*", "s3:GetObject", "ec2:*", "dynamodb:Get*", "*", "sqs:SendMessage"][rng.below(6)];
    let resource = ["*", "arn:aws:s3:::payroll/*", "arn:aws:s3:::public/*"][rng.below(3)];
    let condition = match rng.below(3) {
        0 => r#","Condition":{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}"#,
        1 => r#","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#,
        _ => "",
    };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Action":"{action}","Resource":"{resource}"{condition}}}]}}"#
    )
}

async fn world(dir: &std::path::Path) -> World {
    let store = Arc::new(
        SqliteEventStore::open(&dir.join("events.db").to_string_lossy(), SqliteStoreOptions::default())
            .await
            .unwrap(),
    );
    let audit = Arc::new(
        SqliteAuditLog::open(&dir.join("audit").to_string_lossy(), AuditDurability::Process)
            .await
            .unwrap(),
    );
    let gatehouse = Gatehouse::load(store.clone(), Sealer::new(&[9; 32]))
        .await
        .unwrap()
        .with_audit(audit.clone());
    let actor = Actor {
        arn: "arn:aws:iam::000000000000:root".into(),
        request_id: "t".into(),
    };
    let (management, _) = gatehouse.create_account(&actor, None).await.unwrap();
    let org = |command| OrgOperation::Change(command);
    gatehouse
        .organizations(
            &root_of(&management),
            org(OrgCommand::CreateOrganization {
                management_account_id: String::new(),
                management_account_email: String::new(),
                feature_set: None,
            }),
            None,
        )
        .await
        .unwrap();
    let roots = gatehouse
        .organizations(
            &root_of(&management),
            OrgOperation::Read(OrgRead::ListRoots(Page::default())),
            None,
        )
        .await
        .unwrap();
    let root_id = roots.response["Roots"][0]["Id"].as_str().unwrap().to_owned();
    gatehouse
        .organizations(
            &root_of(&management),
            org(OrgCommand::EnablePolicyType {
                root_id,
                policy_type: OrgPolicyType::ServiceControlPolicy,
            }),
            None,
        )
        .await
        .unwrap();
    let created = gatehouse
        .organizations(
            &root_of(&management),
            OrgOperation::CreateAccount(MemberAccountRequest {
                account_name: "payroll".into(),
                email: "payroll@example.com".into(),
                role_name: None,
                parent_id: None,
            }),
            None,
        )
        .await
        .unwrap();
    let member = created.response["CreateAccountStatus"]["AccountId"]
        .as_str()
        .unwrap()
        .to_owned();
    World {
        gatehouse,
        store,
        audit,
        management,
        member,
    }
}

/// A random change to the member account's permissions, or to the SCPs on it.
async fn change(w: &World, rng: &mut Rng, scps: &mut Vec<String>) {
    let actor = Actor {
        arn: format!("arn:aws:iam::{}:root", w.member),
        request_id: "c".into(),
    };
    let user = USERS[rng.below(USERS.len())].to_owned();
    let policy_arn = |n: usize| format!("arn:aws:iam::{}:policy/p{n}", w.member);
    let command = match rng.below(9) {
        0 => Command::AttachUserPolicy {
            user_name: user,
            policy_arn: policy_arn(rng.below(3)),
        },
        1 => Command::DetachUserPolicy {
            user_name: user,
            policy_arn: policy_arn(rng.below(3)),
        },
        2 => Command::PutUserPolicy {
            user_name: user,
            policy_name: "inline".into(),
            policy_document: document(rng),
        },
        3 => Command::DeleteUserPolicy {
            user_name: user,
            policy_name: "inline".into(),
        },
        4 => Command::AddUserToGroup {
            group_name: "staff".into(),
            user_name: user,
        },
        5 => Command::RemoveUserFromGroup {
            group_name: "staff".into(),
            user_name: user,
        },
        6 => {
            // A new default version; the oldest goes when five are kept.
            let arn = policy_arn(rng.below(3));
            let state = w.gatehouse.account(&w.member).unwrap().state().clone();
            let parsed = iam_types::IamArn::parse(&arn).unwrap();
            if let Some(policy) = state.managed_policy(&parsed) {
                if policy.versions.len() >= 5 {
                    let oldest = policy
                        .versions
                        .iter()
                        .find(|v| v.version_id != policy.default_version_id)
                        .unwrap();
                    w.gatehouse
                        .execute(
                            &w.member,
                            &actor,
                            &Command::DeletePolicyVersion {
                                policy_arn: arn.clone(),
                                version_id: oldest.version_id.to_string(),
                            },
                        )
                        .await
                        .unwrap();
                }
            }
            Command::CreatePolicyVersion {
                policy_arn: arn,
                policy_document: document(rng),
                set_as_default: true,
            }
        }
        7 if rng.below(2) == 0 => Command::PutUserPermissionsBoundary {
            user_name: user,
            permissions_boundary: policy_arn(rng.below(3)),
        },
        7 => Command::DeleteUserPermissionsBoundary { user_name: user },
        _ => {
            // An SCP on the member account: attach a new one (at most four besides
            // FullAWSAccess), or detach one.
            let management = root_of(&w.management);
            if scps.len() < 4 && rng.below(2) == 0 {
                let made = w
                    .gatehouse
                    .organizations(
                        &management,
                        OrgOperation::Change(OrgCommand::CreatePolicy {
                            name: format!("scp{}", rng.below(1_000_000)),
                            description: String::new(),
                            policy_type: OrgPolicyType::ServiceControlPolicy,
                            content: document(rng),
                        }),
                        None,
                    )
                    .await
                    .unwrap();
                let id = made.response["Policy"]["PolicySummary"]["Id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                w.gatehouse
                    .organizations(
                        &management,
                        OrgOperation::Change(OrgCommand::AttachPolicy {
                            policy_id: id.clone(),
                            target_id: w.member.clone(),
                        }),
                        None,
                    )
                    .await
                    .unwrap();
                scps.push(id);
            } else if !scps.is_empty() {
                let id = scps.swap_remove(rng.below(scps.len()));
                w.gatehouse
                    .organizations(
                        &management,
                        OrgOperation::Change(OrgCommand::DetachPolicy {
                            policy_id: id,
                            target_id: w.member.clone(),
                        }),
                        None,
                    )
                    .await
                    .unwrap();
            }
            return;
        }
    };
    // A change that does not apply (detaching what is not attached) is refused and changes
    // nothing; the workload goes on.
    let _ = w.gatehouse.execute(&w.member, &actor, &command).await;
}

fn request(w: &World, rng: &mut Rng) -> AccessRequest {
    let mut context = vec![context_entry(
        "aws:RequestedRegion".into(),
        vec![["eu-west-1", "us-east-1"][rng.below(2)].into()],
        None,
    )];
    if rng.below(2) == 0 {
        context.push(context_entry(
            "aws:MultiFactorAuthPresent".into(),
            vec!["true".into()],
            Some("boolean".into()),
        ));
    }
    let principal = match rng.below(10) {
        0 => format!("arn:aws:iam::{}:user/nobody", w.member),
        1 => format!("arn:aws:iam::{}:root", w.member),
        _ => format!("arn:aws:iam::{}:user/{}", w.member, USERS[rng.below(USERS.len())]),
    };
    AccessRequest {
        principal_arn: principal,
        action: ACTIONS[rng.below(ACTIONS.len())].into(),
        resource: ["arn:aws:s3:::payroll/march.csv", "arn:aws:s3:::public/a", "*"][rng.below(3)].into(),
        context,
        resource_policy: (rng.below(8) == 0).then(|| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:user/bob"}},"Action":"s3:*","Resource":"*"}}]}}"#,
                w.member
            )
        }),
        ..AccessRequest::default()
    }
}

async fn decisions(w: &World) -> Vec<AuditRecord> {
    let filter = AuditFilter {
        account_id: w.member.clone(),
        event_source: Some(iam_audit::EVENT_SOURCE_AUTHZ.into()),
        ..AuditFilter::default()
    };
    let mut records = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = iam_audit::AuditLog::query(&*w.audit, &filter, 1000, after.as_deref())
            .await
            .unwrap();
        after = page.records.last().map(|(cursor, _)| cursor.clone());
        records.extend(page.records.into_iter().map(|(_, record)| record));
        if !page.has_next_page {
            return records;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_decision_of_a_random_workload_replays_to_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path()).await;
    let actor = Actor {
        arn: format!("arn:aws:iam::{}:root", w.member),
        request_id: "setup".into(),
    };
    let mut setup = vec![Command::CreateGroup {
        group_name: "staff".into(),
        path: None,
    }];
    for user in USERS {
        setup.push(Command::CreateUser {
            user_name: user.into(),
            path: None,
            permissions_boundary: None,
            tags: vec![],
        });
    }
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for n in 0..3 {
        setup.push(Command::CreatePolicy {
            policy_name: format!("p{n}"),
            path: None,
            policy_document: document(&mut rng),
            description: None,
            tags: vec![],
        });
    }
    setup.push(Command::AttachGroupPolicy {
        group_name: "staff".into(),
        policy_arn: format!("arn:aws:iam::{}:policy/p0", w.member),
    });
    for command in setup {
        w.gatehouse.execute(&w.member, &actor, &command).await.unwrap();
    }

    const DECISIONS: usize = 10_000;
    let mut scps = Vec::new();
    let caller = root_of(&w.member);
    let mut allowed = 0;
    for n in 0..DECISIONS {
        if n % 7 == 0 {
            change(&w, &mut rng, &mut scps).await;
        }
        let asked = request(&w, &mut rng);
        if let Ok(decision) = w.gatehouse.decide_access(&caller, &asked).await {
            allowed += usize::from(decision.effect == iam_policy::DecisionEffect::Allowed);
        }
    }
    // The workload is not one-sided: both outcomes occur often.
    assert!(
        allowed > DECISIONS / 20 && allowed < DECISIONS * 19 / 20,
        "{allowed} allowed"
    );

    let records = decisions(&w).await;
    assert_eq!(records.len(), DECISIONS);
    let mut replayer = w.gatehouse.replayer();
    let mut with_scps = 0;
    let mut refused = 0;
    for record in &records {
        let replay = replayer.replay(record, ReplayPoint::Recorded).await.unwrap();
        assert!(
            replay.matches(),
            "{}: recorded {} / replayed {}, added {:?}, removed {:?}",
            record.event_id,
            replay.recorded,
            replay.replayed,
            replay.statements_added,
            replay.statements_removed
        );
        assert!(replay.exact);
        assert_eq!(replay.evaluated_at, record.event_time);
        with_scps += usize::from(
            record.additional_event_data.as_ref().unwrap()["matchedStatements"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["sourcePolicyType"] == "service-control-policy"),
        );
        refused += usize::from(record.error_code.is_some());
    }
    assert!(with_scps > 100, "only {with_scps} decisions rested on SCPs");
    assert!(refused > 100, "only {refused} refused requests (unknown principals)");

    // An evaluator that breaks one rule (an explicit deny no longer wins over an allow) fails
    // the check on the decisions that rule decided, and on no other.
    fn deny_does_not_win(
        model: &iam_authz::AccountModel,
        account: &str,
        request: &AccessRequest,
        guardrails: iam_app::access::OrgGuardrails<'_>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> iam_app::replay::Evaluated {
        let decided = iam_app::replay::decision_api_evaluation(model, account, request, guardrails, now)?;
        if decided.0 != iam_policy::DecisionEffect::ExplicitDeny {
            return Ok(decided);
        }
        // Without the deny statements: allowed if anything else allows.
        let allows = decided
            .1
            .iter()
            .filter(|s| s.effect == iam_policy::Effect::Allow)
            .cloned()
            .collect::<Vec<_>>();
        Ok((
            if allows.is_empty() {
                iam_policy::DecisionEffect::ImplicitDeny
            } else {
                iam_policy::DecisionEffect::Allowed
            },
            allows,
        ))
    }
    let mut broken = w.gatehouse.replayer().with_evaluator(deny_does_not_win);
    let mut caught = 0;
    let mut explicit_denies = 0;
    for record in &records {
        let replay = broken.replay(record, ReplayPoint::Recorded).await.unwrap();
        let was_explicit_deny = record.decision() == Some("ExplicitDeny");
        explicit_denies += usize::from(was_explicit_deny);
        if !replay.matches() {
            assert!(was_explicit_deny, "{}: only explicit denies change", record.event_id);
            caught += 1;
        }
    }
    assert!(explicit_denies > 100, "only {explicit_denies} explicit denies");
    assert_eq!(
        caught, explicit_denies,
        "every explicit deny is a mismatch under the broken rule"
    );

    // A record that is not faithful fails the check: each kind of tampering is caught.
    let allowed_record = records.iter().find(|r| r.decision() == Some("Allow")).unwrap().clone();
    let mut flipped = allowed_record.clone();
    flipped.additional_event_data.as_mut().unwrap()["decision"] = "ImplicitDeny".into();
    let replay = replayer.replay(&flipped, ReplayPoint::Recorded).await.unwrap();
    assert!(!replay.matches());
    assert_eq!(
        (replay.recorded.as_str(), replay.replayed.as_str()),
        ("ImplicitDeny", "Allow")
    );

    let mut dropped = allowed_record.clone();
    dropped.additional_event_data.as_mut().unwrap()["matchedStatements"] = serde_json::json!([]);
    let replay = replayer.replay(&dropped, ReplayPoint::Recorded).await.unwrap();
    assert!(!replay.matches());
    assert!(!replay.statements_added.is_empty());

    // Recorded at a sequence where the principal's permissions were different: the replay on
    // that (wrong) state disagrees with the record for some decision.
    let mut disagreements = 0;
    for record in records.iter().filter(|r| r.error_code.is_none()).take(2_000) {
        let mut moved = record.clone();
        let detail = moved.additional_event_data.as_mut().unwrap();
        let sequence = detail["accountSequence"].as_u64().unwrap();
        detail["accountSequence"] = serde_json::json!(sequence.saturating_sub(40).max(10));
        let replay = replayer.replay(&moved, ReplayPoint::Recorded).await.unwrap();
        disagreements += usize::from(!replay.matches());
    }
    assert!(
        disagreements > 0,
        "moving records 40 events back never changed a decision"
    );

    // NOW and a past instant replay too; NOW on the current state.
    let replay = replayer.replay(&allowed_record, ReplayPoint::Now).await.unwrap();
    assert_eq!(
        replay.account_sequence,
        w.gatehouse.account(&w.member).unwrap().state().version()
    );
    let replay = replayer
        .replay(&allowed_record, ReplayPoint::At(allowed_record.event_time))
        .await
        .unwrap();
    assert!(replay.account_sequence >= record_sequence(&allowed_record));

    // A management call is not a decision.
    let management_calls = iam_audit::AuditLog::query(
        &*w.audit,
        &AuditFilter {
            account_id: w.member.clone(),
            event_source: Some(iam_audit::EVENT_SOURCE_IAM.into()),
            ..AuditFilter::default()
        },
        1,
        None,
    )
    .await
    .unwrap();
    if let Some((_, call)) = management_calls.records.first() {
        let refused = replayer.replay(call, ReplayPoint::Recorded).await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::InvalidInput);
    }
}

fn record_sequence(record: &AuditRecord) -> u64 {
    record.additional_event_data.as_ref().unwrap()["accountSequence"]
        .as_u64()
        .unwrap()
}

/// `account_state_at` equals the log's prefix applied from scratch, at every sequence of a random
/// walk (snapshots included: the walk is longer than several snapshot intervals), and by time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_as_of_any_point_equals_the_log_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path()).await;
    let actor = Actor {
        arn: format!("arn:aws:iam::{}:root", w.member),
        request_id: "setup".into(),
    };
    let mut rng = Rng(0xfeed_0002);
    for command in [
        Command::CreateGroup {
            group_name: "staff".into(),
            path: None,
        },
        Command::CreatePolicy {
            policy_name: "p0".into(),
            path: None,
            policy_document: document(&mut rng),
            description: None,
            tags: vec![],
        },
        Command::CreatePolicy {
            policy_name: "p1".into(),
            path: None,
            policy_document: document(&mut rng),
            description: None,
            tags: vec![],
        },
        Command::CreatePolicy {
            policy_name: "p2".into(),
            path: None,
            policy_document: document(&mut rng),
            description: None,
            tags: vec![],
        },
    ] {
        w.gatehouse.execute(&w.member, &actor, &command).await.unwrap();
    }
    for user in USERS {
        w.gatehouse
            .execute(
                &w.member,
                &actor,
                &Command::CreateUser {
                    user_name: user.into(),
                    path: None,
                    permissions_boundary: None,
                    tags: vec![],
                },
            )
            .await
            .unwrap();
    }
    let mut scps = Vec::new();
    let mut times = Vec::new();
    while w.gatehouse.account(&w.member).unwrap().state().version() < 3 * iam_app::history::SNAPSHOT_INTERVAL + 77 {
        change(&w, &mut rng, &mut scps).await;
        let state = w.gatehouse.account(&w.member).unwrap().state().clone();
        times.push((chrono::Utc::now(), state.version()));
    }
    let head = w.gatehouse.account(&w.member).unwrap().state().version();
    let events = w.store.read_stream(&w.member, 1, u32::MAX).await.unwrap();
    assert_eq!(events.len() as u64, head);
    let mut prefix = AccountState::new();
    let mut checked = 0;
    for envelope in &events {
        let event = iam_domain::decode_event(&envelope.event_type, envelope.schema_version, &envelope.payload).unwrap();
        evolve(&mut prefix, &event);
        // Every sequence near a snapshot boundary, and a random sample of the rest.
        let near = envelope.sequence % iam_app::history::SNAPSHOT_INTERVAL;
        if near <= 1 || near >= iam_app::history::SNAPSHOT_INTERVAL - 1 || rng.below(8) == 0 {
            let at = w
                .gatehouse
                .account_state_at(&w.member, AsOf::Sequence(envelope.sequence))
                .await
                .unwrap();
            assert_eq!(*at, prefix, "sequence {}", envelope.sequence);
            checked += 1;
        }
    }
    assert!(checked > 100);
    // By time: the state after the last event recorded at or before the instant.
    for (at, version) in times.iter().step_by(37) {
        let state = w.gatehouse.account_state_at(&w.member, AsOf::Time(*at)).await.unwrap();
        assert!(state.version() >= *version, "{} < {version}", state.version());
        let at_sequence = w
            .gatehouse
            .account_state_at(&w.member, AsOf::Sequence(state.version()))
            .await
            .unwrap();
        assert_eq!(state, at_sequence);
    }

    // Out of range: clear errors.
    let future = w
        .gatehouse
        .account_state_at(&w.member, AsOf::Time(chrono::Utc::now() + chrono::Duration::hours(1)))
        .await
        .unwrap_err();
    assert_eq!(future.code, ErrorCode::InvalidInput);
    assert!(future.message.contains("future"), "{}", future.message);
    let beyond = w
        .gatehouse
        .account_state_at(&w.member, AsOf::Sequence(head + 1))
        .await
        .unwrap_err();
    assert_eq!(beyond.code, ErrorCode::InvalidInput);
    let before = w
        .gatehouse
        .account_state_at(
            &w.member,
            AsOf::Time(events[0].recorded_at - chrono::Duration::seconds(1)),
        )
        .await
        .unwrap_err();
    assert_eq!(before.code, ErrorCode::NoSuchEntity);
    assert!(before.message.contains("did not exist"), "{}", before.message);
}

/// An impact preview agrees with applying the change and asking the same requests again, and a
/// window read in pages adds up to the window read at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_agrees_with_applying_the_change_and_asking_again() {
    use iam_app::preview::{Flip, PreviewWindow};
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path()).await;
    let actor = Actor {
        arn: format!("arn:aws:iam::{}:root", w.member),
        request_id: "setup".into(),
    };
    let read_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","dynamodb:*","sqs:*"],"Resource":"*"}]}"#;
    let mut setup = vec![
        Command::CreateGroup {
            group_name: "staff".into(),
            path: None,
        },
        Command::CreatePolicy {
            policy_name: "p0".into(),
            path: None,
            policy_document: read_all.into(),
            description: None,
            tags: vec![],
        },
        Command::AttachGroupPolicy {
            group_name: "staff".into(),
            policy_arn: format!("arn:aws:iam::{}:policy/p0", w.member),
        },
    ];
    for user in USERS {
        setup.push(Command::CreateUser {
            user_name: user.into(),
            path: None,
            permissions_boundary: None,
            tags: vec![],
        });
        if user != "dave" {
            setup.push(Command::AddUserToGroup {
                group_name: "staff".into(),
                user_name: user.into(),
            });
        }
    }
    for command in setup {
        w.gatehouse.execute(&w.member, &actor, &command).await.unwrap();
    }
    let caller = root_of(&w.member);
    let mut rng = Rng(0xabad_cafe);
    let mut asked = Vec::new();
    for _ in 0..1_500 {
        let request = request(&w, &mut rng);
        if w.gatehouse.decide_access(&caller, &request).await.is_ok() {
            asked.push(request);
        }
    }
    let window_end = chrono::Utc::now();

    // The change: payroll objects denied to the staff group, and dave given reads.
    let changes = vec![
        Command::PutGroupPolicy {
            group_name: "staff".into(),
            policy_name: "no-payroll".into(),
            policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::payroll/*"}]}"#.into(),
        },
        Command::AttachUserPolicy {
            user_name: "dave".into(),
            policy_arn: format!("arn:aws:iam::{}:policy/p0", w.member),
        },
    ];
    let window = PreviewWindow {
        to: Some(window_end),
        limit: 1_000_000,
        ..PreviewWindow::default()
    };
    let report = w.gatehouse.preview_change(&caller, &changes, &window).await.unwrap();
    assert_eq!(report.decisions as usize, asked.len());
    assert!(report.next_cursor.is_none());
    assert!(report.distinct_requests < report.decisions, "requests repeat");
    assert!(report.allow_to_deny > 0 && report.deny_to_allow > 0, "{report:?}");
    // Nothing was applied.
    let state = w.gatehouse.account(&w.member).unwrap().state().clone();
    assert!(state.user("dave").unwrap().permissions.attached_policies.is_empty());

    // Pages add up to the whole.
    let (mut to_deny, mut to_allow, mut decisions) = (0, 0, 0);
    let mut after = None;
    loop {
        let page = w
            .gatehouse
            .preview_change(
                &caller,
                &changes,
                &PreviewWindow {
                    to: Some(window_end),
                    after: after.clone(),
                    limit: 400,
                    ..PreviewWindow::default()
                },
            )
            .await
            .unwrap();
        to_deny += page.allow_to_deny;
        to_allow += page.deny_to_allow;
        decisions += page.decisions;
        match page.next_cursor {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        (to_deny, to_allow, decisions),
        (report.allow_to_deny, report.deny_to_allow, report.decisions)
    );

    // Ask everything again before and after really applying the change.
    let mut before = Vec::new();
    for request in &asked {
        before.push(w.gatehouse.decide_access(&caller, request).await.unwrap().effect);
    }
    for change in &changes {
        w.gatehouse.execute(&w.member, &actor, change).await.unwrap();
    }
    let (mut really_to_deny, mut really_to_allow) = (0, 0);
    let mut flipped: std::collections::BTreeMap<(String, String, String, bool), u64> = Default::default();
    for (request, before) in asked.iter().zip(before) {
        let after = w.gatehouse.decide_access(&caller, request).await.unwrap().effect;
        let allowed = |e| e == iam_policy::DecisionEffect::Allowed;
        if allowed(before) != allowed(after) {
            if allowed(before) {
                really_to_deny += 1;
            } else {
                really_to_allow += 1;
            }
            *flipped
                .entry((
                    request.principal_arn.clone(),
                    request.action.clone(),
                    request.resource.clone(),
                    allowed(before),
                ))
                .or_default() += 1;
        }
    }
    assert_eq!(
        (report.allow_to_deny, report.deny_to_allow),
        (really_to_deny, really_to_allow)
    );
    let previewed: std::collections::BTreeMap<(String, String, String, bool), u64> = report
        .groups
        .iter()
        .map(|g| {
            (
                (
                    g.principal_arn.clone(),
                    g.action.clone(),
                    g.resource.clone(),
                    g.flip == Flip::AllowToDeny,
                ),
                g.count,
            )
        })
        .collect();
    assert_eq!(previewed, flipped);
    assert!(report
        .groups
        .iter()
        .all(|g| !g.examples.is_empty() && g.examples.len() <= 3));

    // A change that does not apply is refused with its own error, and so is an empty preview.
    let refused = w
        .gatehouse
        .preview_change(
            &caller,
            &[Command::DetachUserPolicy {
                user_name: "nobody".into(),
                policy_arn: format!("arn:aws:iam::{}:policy/p0", w.member),
            }],
            &window,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NoSuchEntity);
    let empty = w.gatehouse.preview_change(&caller, &[], &window).await.unwrap_err();
    assert_eq!(empty.code, ErrorCode::InvalidInput);
}
