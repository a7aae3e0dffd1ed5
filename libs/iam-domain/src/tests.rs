//! Tests of `decide` and `evolve`: one table row per rule and error code, quotas, and replay.

use chrono::{DateTime, Utc};
use iam_types::ErrorCode;

use crate::credentials::PasswordPolicyInput;
use crate::*;

const ACCOUNT: &str = "111122223333";
const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
const DOC_2008: &str =
    r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
const DOC_NO_VERSION: &str = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
const DOC_PRINCIPAL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#;
const DOC_NO_RESOURCE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const TRUST_NO_PRINCIPAL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#;
const TRUST_RESOURCE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole","Resource":"*"}]}"#;
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

fn arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/{name}")
}

/// A document of about `chars` non-white-space characters, padded with `pad` spaces.
fn doc_of_size(chars: usize, pad: usize) -> String {
    let base = DOC.len();
    let filler = "a".repeat(chars.saturating_sub(base + 9));
    let spaces = " ".repeat(pad);
    format!(
        r#"{{"Version":"2012-10-17",{spaces}"Statement":[{{"Sid":"{filler}","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}]}}"#
    )
}

fn time(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
}

fn key_id(n: u8) -> String {
    iam_types::UniqueId::generate(iam_types::IdKind::AccessKey, [n; 16]).to_string()
}

#[derive(Clone)]
struct Harness {
    state: AccountState,
    events: Vec<DomainEvent>,
    counter: u64,
}

impl Harness {
    fn empty() -> Self {
        Harness {
            state: AccountState::new(),
            events: Vec::new(),
            counter: 0,
        }
    }

    fn new() -> Self {
        let mut h = Harness::empty();
        h.ok(Command::CreateAccount {
            account_id: ACCOUNT.into(),
            account_alias: Some("example-corp".into()),
        });
        h
    }

    fn ctx(&mut self) -> DecideContext {
        self.counter += 1;
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.counter.to_be_bytes());
        DecideContext::new(time(self.counter as i64), bytes, format!("arn:aws:iam::{ACCOUNT}:root"))
    }

    fn run(&mut self, command: Command) -> Result<Vec<DomainEvent>, DomainError> {
        let ctx = self.ctx();
        self.run_with(command, &ctx)
    }

    fn run_with(&mut self, command: Command, ctx: &DecideContext) -> Result<Vec<DomainEvent>, DomainError> {
        let events = decide(&self.state, &command, ctx)?;
        for event in &events {
            evolve(&mut self.state, event);
        }
        self.events.extend(events.iter().cloned());
        Ok(events)
    }

    fn ok(&mut self, command: Command) -> Vec<DomainEvent> {
        let label = format!("{command:?}");
        self.run(command).unwrap_or_else(|e| panic!("{label}: {e:?}"))
    }

    fn err(&mut self, command: Command) -> DomainError {
        let label = format!("{command:?}");
        match self.run(command) {
            Ok(events) => panic!("{label}: expected an error, got {events:?}"),
            Err(e) => e,
        }
    }
}

fn create_user(name: &str) -> Command {
    Command::CreateUser {
        user_name: name.into(),
        path: None,
        permissions_boundary: None,
        tags: vec![],
    }
}

fn create_group(name: &str) -> Command {
    Command::CreateGroup {
        group_name: name.into(),
        path: None,
    }
}

fn create_role(name: &str, trust: &str) -> Command {
    Command::CreateRole {
        role_name: name.into(),
        path: None,
        assume_role_policy_document: trust.into(),
        description: None,
        max_session_duration: None,
        permissions_boundary: None,
        tags: vec![],
    }
}

fn create_policy(name: &str, doc: &str) -> Command {
    Command::CreatePolicy {
        policy_name: name.into(),
        path: None,
        policy_document: doc.into(),
        description: None,
        tags: vec![],
    }
}

fn attach_user(user: &str, policy_arn: &str) -> Command {
    Command::AttachUserPolicy {
        user_name: user.into(),
        policy_arn: policy_arn.into(),
    }
}

fn put_user_policy(user: &str, name: &str, doc: &str) -> Command {
    Command::PutUserPolicy {
        user_name: user.into(),
        policy_name: name.into(),
        policy_document: doc.into(),
    }
}

fn create_key(user: Option<&str>, id: &str) -> Command {
    Command::CreateAccessKey {
        user_name: user.map(Into::into),
        access_key_id: id.into(),
        secret_ciphertext: "v1:ciphertext".into(),
    }
}

/// An account with something in every state a rule looks at.
fn fixture() -> Harness {
    let mut h = Harness::new();
    for user in ["alice", "bob", "keyholder", "inliner"] {
        h.ok(create_user(user));
    }
    h.ok(create_group("devs"));
    h.ok(create_group("empty"));
    h.ok(create_group("withpolicy"));
    h.ok(create_role("deployer", TRUST));
    h.ok(create_role("bare", TRUST));
    h.ok(create_policy("ReadReports", DOC));
    h.ok(create_policy("Versions", DOC));
    h.ok(create_policy("Free", DOC));
    h.ok(create_policy("Boundary", DOC));
    h.ok(Command::CreatePolicyVersion {
        policy_arn: arn("Versions"),
        policy_document: DOC.into(),
        set_as_default: false,
    });
    h.ok(Command::AddUserToGroup {
        group_name: "devs".into(),
        user_name: "alice".into(),
    });
    h.ok(attach_user("alice", &arn("ReadReports")));
    h.ok(Command::AttachGroupPolicy {
        group_name: "withpolicy".into(),
        policy_arn: arn("ReadReports"),
    });
    h.ok(Command::AttachRolePolicy {
        role_name: "deployer".into(),
        policy_arn: arn("ReadReports"),
    });
    h.ok(put_user_policy("inliner", "inline", DOC));
    h.ok(create_key(Some("keyholder"), &key_id(1)));
    h.ok(create_key(None, &key_id(2)));
    h.ok(Command::PutRolePermissionsBoundary {
        role_name: "bare".into(),
        permissions_boundary: arn("Boundary"),
    });
    h
}

#[test]
fn decide_errors_table() {
    let other_account = "arn:aws:iam::999988887777:policy/ReadReports".to_string();
    let cases: Vec<(&str, Command, ErrorCode)> = vec![
        // EntityAlreadyExists, case-insensitively per kind
        (
            "account twice",
            Command::CreateAccount {
                account_id: ACCOUNT.into(),
                account_alias: None,
            },
            ErrorCode::EntityAlreadyExists,
        ),
        (
            "user exists, other case",
            create_user("ALICE"),
            ErrorCode::EntityAlreadyExists,
        ),
        ("group exists", create_group("Devs"), ErrorCode::EntityAlreadyExists),
        (
            "role exists",
            create_role("Deployer", TRUST),
            ErrorCode::EntityAlreadyExists,
        ),
        (
            "policy exists",
            create_policy("readreports", DOC),
            ErrorCode::EntityAlreadyExists,
        ),
        (
            "rename user onto another",
            Command::UpdateUser {
                user_name: "bob".into(),
                new_user_name: Some("Alice".into()),
                new_path: None,
            },
            ErrorCode::EntityAlreadyExists,
        ),
        (
            "rename group onto another",
            Command::UpdateGroup {
                group_name: "empty".into(),
                new_group_name: Some("DEVS".into()),
                new_path: None,
            },
            ErrorCode::EntityAlreadyExists,
        ),
        (
            "access key id taken",
            create_key(Some("bob"), &key_id(1)),
            ErrorCode::EntityAlreadyExists,
        ),
        // NoSuchEntity
        (
            "delete missing user",
            Command::DeleteUser {
                user_name: "nobody".into(),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "delete missing group",
            Command::DeleteGroup {
                group_name: "nobody".into(),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "delete missing role",
            Command::DeleteRole {
                role_name: "nobody".into(),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "delete missing policy",
            Command::DeletePolicy {
                policy_arn: arn("Nope"),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "policy of another account",
            attach_user("bob", &other_account),
            ErrorCode::NoSuchEntity,
        ),
        (
            "policy path must match",
            attach_user("bob", &format!("arn:aws:iam::{ACCOUNT}:policy/x/ReadReports")),
            ErrorCode::NoSuchEntity,
        ),
        (
            "attach missing policy",
            attach_user("bob", &arn("Nope")),
            ErrorCode::NoSuchEntity,
        ),
        (
            "attach to missing user",
            attach_user("nobody", &arn("Free")),
            ErrorCode::NoSuchEntity,
        ),
        (
            "detach unattached",
            Command::DetachUserPolicy {
                user_name: "bob".into(),
                policy_arn: arn("Free"),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "detach from missing role",
            Command::DetachRolePolicy {
                role_name: "nobody".into(),
                policy_arn: arn("Free"),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "delete missing inline",
            Command::DeleteUserPolicy {
                user_name: "bob".into(),
                policy_name: "x".into(),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "delete missing version",
            Command::DeletePolicyVersion {
                policy_arn: arn("Versions"),
                version_id: "v9".into(),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "default to missing version",
            Command::SetDefaultPolicyVersion {
                policy_arn: arn("Versions"),
                version_id: "v9".into(),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "remove non-member",
            Command::RemoveUserFromGroup {
                group_name: "devs".into(),
                user_name: "bob".into(),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "add missing user",
            Command::AddUserToGroup {
                group_name: "devs".into(),
                user_name: "nobody".into(),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "add to missing group",
            Command::AddUserToGroup {
                group_name: "nobody".into(),
                user_name: "bob".into(),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "update missing key",
            Command::UpdateAccessKey {
                user_name: Some("bob".into()),
                access_key_id: key_id(9),
                status: AccessKeyStatus::Inactive,
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "someone else's key",
            Command::DeleteAccessKey {
                user_name: Some("bob".into()),
                access_key_id: key_id(1),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "root's key as user's",
            Command::DeleteAccessKey {
                user_name: Some("keyholder".into()),
                access_key_id: key_id(2),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "use of missing key",
            Command::RecordAccessKeyUse {
                access_key_id: key_id(9),
                service_name: "iam".into(),
                region: "us-east-1".into(),
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "boundary that does not exist",
            Command::CreateUser {
                user_name: "new".into(),
                path: None,
                permissions_boundary: Some(arn("Nope")),
                tags: vec![],
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "tag missing role",
            Command::TagRole {
                role_name: "nobody".into(),
                tags: vec![TagInput::new("a", "b")],
            },
            ErrorCode::NoSuchEntity,
        ),
        (
            "update missing role",
            Command::UpdateRole {
                role_name: "nobody".into(),
                description: None,
                max_session_duration: None,
            },
            ErrorCode::NoSuchEntity,
        ),
        // MalformedPolicyDocument
        (
            "invalid json",
            create_policy("p", "{"),
            ErrorCode::MalformedPolicyDocument,
        ),
        (
            "managed 2008",
            create_policy("p", DOC_2008),
            ErrorCode::MalformedPolicyDocument,
        ),
        (
            "managed no version",
            create_policy("p", DOC_NO_VERSION),
            ErrorCode::MalformedPolicyDocument,
        ),
        (
            "identity with principal",
            create_policy("p", DOC_PRINCIPAL),
            ErrorCode::MalformedPolicyDocument,
        ),
        (
            "identity without resource",
            create_policy("p", DOC_NO_RESOURCE),
            ErrorCode::MalformedPolicyDocument,
        ),
        (
            "inline 2008",
            put_user_policy("bob", "p", DOC_2008),
            ErrorCode::MalformedPolicyDocument,
        ),
        (
            "new version invalid",
            Command::CreatePolicyVersion {
                policy_arn: arn("Free"),
                policy_document: "[]".into(),
                set_as_default: true,
            },
            ErrorCode::MalformedPolicyDocument,
        ),
        (
            "trust without principal",
            create_role("r", TRUST_NO_PRINCIPAL),
            ErrorCode::MalformedPolicyDocument,
        ),
        (
            "trust with resource",
            create_role("r", TRUST_RESOURCE),
            ErrorCode::MalformedPolicyDocument,
        ),
        (
            "trust update invalid",
            Command::UpdateAssumeRolePolicy {
                role_name: "bare".into(),
                policy_document: "nope".into(),
            },
            ErrorCode::MalformedPolicyDocument,
        ),
        // DeleteConflict
        (
            "user in a group",
            Command::DeleteUser {
                user_name: "alice".into(),
            },
            ErrorCode::DeleteConflict,
        ),
        (
            "user with inline",
            Command::DeleteUser {
                user_name: "inliner".into(),
            },
            ErrorCode::DeleteConflict,
        ),
        (
            "user with keys",
            Command::DeleteUser {
                user_name: "keyholder".into(),
            },
            ErrorCode::DeleteConflict,
        ),
        (
            "group with members",
            Command::DeleteGroup {
                group_name: "devs".into(),
            },
            ErrorCode::DeleteConflict,
        ),
        (
            "group with policies",
            Command::DeleteGroup {
                group_name: "withpolicy".into(),
            },
            ErrorCode::DeleteConflict,
        ),
        (
            "role with policies",
            Command::DeleteRole {
                role_name: "deployer".into(),
            },
            ErrorCode::DeleteConflict,
        ),
        (
            "policy attached",
            Command::DeletePolicy {
                policy_arn: arn("ReadReports"),
            },
            ErrorCode::DeleteConflict,
        ),
        (
            "policy with versions",
            Command::DeletePolicy {
                policy_arn: arn("Versions"),
            },
            ErrorCode::DeleteConflict,
        ),
        (
            "policy as boundary",
            Command::DeletePolicy {
                policy_arn: arn("Boundary"),
            },
            ErrorCode::DeleteConflict,
        ),
        (
            "default version",
            Command::DeletePolicyVersion {
                policy_arn: arn("Versions"),
                version_id: "v1".into(),
            },
            ErrorCode::DeleteConflict,
        ),
        // ValidationError
        ("bad user name", create_user("a b"), ErrorCode::ValidationError),
        ("user name 65", create_user(&"u".repeat(65)), ErrorCode::ValidationError),
        ("empty user name", create_user(""), ErrorCode::ValidationError),
        (
            "group name 129",
            create_group(&"g".repeat(129)),
            ErrorCode::ValidationError,
        ),
        (
            "role name 65",
            create_role(&"r".repeat(65), TRUST),
            ErrorCode::ValidationError,
        ),
        (
            "policy name 129",
            create_policy(&"p".repeat(129), DOC),
            ErrorCode::ValidationError,
        ),
        (
            "bad path",
            Command::CreateUser {
                user_name: "p".into(),
                path: Some("no-slash".into()),
                permissions_boundary: None,
                tags: vec![],
            },
            ErrorCode::ValidationError,
        ),
        (
            "policy path with *",
            Command::CreatePolicy {
                policy_name: "p".into(),
                path: Some("/a*/".into()),
                policy_document: DOC.into(),
                description: None,
                tags: vec![],
            },
            ErrorCode::ValidationError,
        ),
        (
            "session too short",
            Command::CreateRole {
                role_name: "r".into(),
                path: None,
                assume_role_policy_document: TRUST.into(),
                description: None,
                max_session_duration: Some(3599),
                permissions_boundary: None,
                tags: vec![],
            },
            ErrorCode::ValidationError,
        ),
        (
            "session too long",
            Command::UpdateRole {
                role_name: "bare".into(),
                description: None,
                max_session_duration: Some(43201),
            },
            ErrorCode::ValidationError,
        ),
        (
            "description too long",
            Command::UpdateRole {
                role_name: "bare".into(),
                description: Some("d".repeat(1001)),
                max_session_duration: None,
            },
            ErrorCode::ValidationError,
        ),
        (
            "bad tag key",
            Command::TagUser {
                user_name: "bob".into(),
                tags: vec![TagInput::new("bad*", "v")],
            },
            ErrorCode::ValidationError,
        ),
        (
            "reserved tag key",
            Command::CreateUser {
                user_name: "t".into(),
                path: None,
                permissions_boundary: None,
                tags: vec![TagInput::new("aws:x", "v")],
            },
            ErrorCode::ValidationError,
        ),
        (
            "bad inline name",
            put_user_policy("bob", "no/slash", DOC),
            ErrorCode::ValidationError,
        ),
        // InvalidInput
        ("not an arn", attach_user("bob", "not-an-arn"), ErrorCode::InvalidInput),
        (
            "a user arn as policy",
            attach_user("bob", &format!("arn:aws:iam::{ACCOUNT}:user/alice")),
            ErrorCode::InvalidInput,
        ),
        (
            "aws managed is read-only",
            Command::DeletePolicy {
                policy_arn: ADMIN.into(),
            },
            ErrorCode::InvalidInput,
        ),
        (
            "temporary key id",
            create_key(Some("bob"), "ASIAAAAAAAAAAAAAAAAA"),
            ErrorCode::InvalidInput,
        ),
        (
            "empty ciphertext",
            Command::CreateAccessKey {
                user_name: Some("bob".into()),
                access_key_id: key_id(7),
                secret_ciphertext: String::new(),
            },
            ErrorCode::InvalidInput,
        ),
    ];
    let base = fixture();
    for (label, command, code) in cases {
        let mut h = base.clone();
        let result = h.run(command);
        match result {
            Err(e) => assert_eq!(e.code(), code, "{label}: {e}"),
            Ok(events) => panic!("{label}: expected {code}, got {events:?}"),
        }
        assert_eq!(h.state, base.state, "{label}: a refused command changed nothing");
    }
}

#[test]
fn messages_name_the_entity_like_aws() {
    let mut h = fixture();
    let e = h.err(Command::DeleteUser {
        user_name: "nobody".into(),
    });
    assert_eq!(e.message(), "The user with name nobody cannot be found.");
    let e = h.err(Command::DeleteRole {
        role_name: "ghost".into(),
    });
    assert_eq!(e.message(), "The role with name ghost cannot be found.");
    let e = h.err(create_policy("p", DOC_2008));
    assert_eq!(e.message(), "Policy document must be version 2012-10-17 or greater.");
    let e = h.err(create_policy("p", "{"));
    assert!(!e.message().is_empty());
}

#[test]
fn commands_need_an_account() {
    let mut h = Harness::empty();
    assert_eq!(h.err(create_user("a")).code(), ErrorCode::NoSuchEntity);
    let e = h.err(Command::CreateAccount {
        account_id: "12".into(),
        account_alias: None,
    });
    assert_eq!(e.code(), ErrorCode::ValidationError);
    let e = h.err(Command::CreateAccount {
        account_id: ACCOUNT.into(),
        account_alias: Some("Bad--Alias".into()),
    });
    assert_eq!(e.code(), ErrorCode::ValidationError);
}

#[test]
fn recreated_entity_gets_new_id_and_ids_are_never_reused() {
    let mut h = Harness::new();
    let ctx = h.ctx();
    h.run_with(create_user("dana"), &ctx).unwrap();
    let first = h.state.user("dana").unwrap().user_id.clone();
    assert!(first.as_str().starts_with("AIDA") && first.as_str().len() == 21);
    h.ok(Command::DeleteUser {
        user_name: "dana".into(),
    });
    // The same random bytes again would reissue the deleted id: refused, the caller retries.
    let e = h.run_with(create_user("dana"), &ctx).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ServiceFailure);
    h.ok(create_user("Dana"));
    let second = &h.state.user("dana").unwrap().user_id;
    assert_ne!(&first, second);
    assert_eq!(h.state.user("DANA").unwrap().user_name.as_str(), "Dana");
}

#[test]
fn attach_is_idempotent_and_detach_removes() {
    let mut h = fixture();
    assert!(h.ok(attach_user("alice", &arn("ReadReports"))).is_empty());
    assert_eq!(h.ok(attach_user("bob", ADMIN)).len(), 1);
    assert_eq!(h.state.attached_policies(PrincipalKind::User, "bob").unwrap().len(), 1);
    h.ok(Command::DetachUserPolicy {
        user_name: "bob".into(),
        policy_arn: ADMIN.into(),
    });
    assert!(h
        .state
        .attached_policies(PrincipalKind::User, "bob")
        .unwrap()
        .is_empty());
    // Adding a member twice is also a no-op.
    assert!(h
        .ok(Command::AddUserToGroup {
            group_name: "devs".into(),
            user_name: "ALICE".into()
        })
        .is_empty());
}

#[test]
fn quota_managed_policies_per_principal() {
    for kind in [PrincipalKind::User, PrincipalKind::Group, PrincipalKind::Role] {
        let mut h = Harness::new();
        h.ok(create_user("u"));
        h.ok(create_group("u"));
        h.ok(create_role("u", TRUST));
        let attach = |policy_arn: String| match kind {
            PrincipalKind::User => attach_user("u", &policy_arn),
            PrincipalKind::Group => Command::AttachGroupPolicy {
                group_name: "u".into(),
                policy_arn,
            },
            PrincipalKind::Role => Command::AttachRolePolicy {
                role_name: "u".into(),
                policy_arn,
            },
        };
        for i in 0..11 {
            h.ok(create_policy(&format!("p{i}"), DOC));
        }
        for i in 0..10 {
            h.ok(attach(arn(&format!("p{i}"))));
        }
        let e = h.err(attach(arn("p10")));
        assert_eq!(e.code(), ErrorCode::LimitExceeded, "{kind:?}");
    }
}

#[test]
fn quota_groups_per_user() {
    let mut h = Harness::new();
    h.ok(create_user("u"));
    for i in 0..11 {
        h.ok(create_group(&format!("g{i}")));
    }
    for i in 0..10 {
        h.ok(Command::AddUserToGroup {
            group_name: format!("g{i}"),
            user_name: "u".into(),
        });
    }
    let e = h.err(Command::AddUserToGroup {
        group_name: "g10".into(),
        user_name: "u".into(),
    });
    assert_eq!(e.code(), ErrorCode::LimitExceeded);
    assert_eq!(h.state.groups_for_user("u").len(), 10);
}

#[test]
fn quota_access_keys_for_users_and_root() {
    let mut h = Harness::new();
    h.ok(create_user("u"));
    h.ok(create_key(Some("u"), &key_id(1)));
    h.ok(create_key(Some("u"), &key_id(2)));
    assert_eq!(
        h.err(create_key(Some("u"), &key_id(3))).code(),
        ErrorCode::LimitExceeded
    );
    h.ok(create_key(None, &key_id(4)));
    h.ok(create_key(None, &key_id(5)));
    assert_eq!(h.err(create_key(None, &key_id(6))).code(), ErrorCode::LimitExceeded);
    assert_eq!(h.state.root_access_keys().len(), 2);
    assert_eq!(h.state.access_keys_for_user("U").len(), 2);
    // A deleted key frees a slot, but its id is not reissued.
    h.ok(Command::DeleteAccessKey {
        user_name: Some("u".into()),
        access_key_id: key_id(1),
    });
    assert_eq!(
        h.err(create_key(Some("u"), &key_id(1))).code(),
        ErrorCode::EntityAlreadyExists
    );
    h.ok(create_key(Some("u"), &key_id(3)));
}

#[test]
fn quota_tags() {
    let mut h = Harness::new();
    let tags: Vec<TagInput> = (0..50).map(|i| TagInput::new(format!("k{i}"), "v")).collect();
    h.ok(Command::CreateUser {
        user_name: "u".into(),
        path: None,
        permissions_boundary: None,
        tags: tags.clone(),
    });
    // Overwriting an existing key is not an extra tag.
    h.ok(Command::TagUser {
        user_name: "u".into(),
        tags: vec![TagInput::new("k0", "new")],
    });
    assert_eq!(h.state.user("u").unwrap().tags[0].value(), "new");
    let e = h.err(Command::TagUser {
        user_name: "u".into(),
        tags: vec![TagInput::new("k50", "v")],
    });
    assert_eq!(e.code(), ErrorCode::LimitExceeded);
    let mut too_many = tags;
    too_many.push(TagInput::new("k50", "v"));
    let e = h.err(Command::CreateRole {
        role_name: "r".into(),
        path: None,
        assume_role_policy_document: TRUST.into(),
        description: None,
        max_session_duration: None,
        permissions_boundary: None,
        tags: too_many,
    });
    assert_eq!(e.code(), ErrorCode::LimitExceeded);
    h.ok(Command::UntagUser {
        user_name: "u".into(),
        tag_keys: vec!["k1".into(), "absent".into()],
    });
    assert_eq!(h.state.user("u").unwrap().tags.len(), 49);
    assert!(h
        .ok(Command::UntagUser {
            user_name: "u".into(),
            tag_keys: vec!["absent".into()]
        })
        .is_empty());
}

#[test]
fn quota_policy_versions_and_version_ids_are_never_reused() {
    let mut h = Harness::new();
    h.ok(create_policy("p", DOC));
    for _ in 2..=5 {
        h.ok(Command::CreatePolicyVersion {
            policy_arn: arn("p"),
            policy_document: DOC.into(),
            set_as_default: false,
        });
    }
    let e = h.err(Command::CreatePolicyVersion {
        policy_arn: arn("p"),
        policy_document: DOC.into(),
        set_as_default: true,
    });
    assert_eq!(e.code(), ErrorCode::LimitExceeded);
    h.ok(Command::DeletePolicyVersion {
        policy_arn: arn("p"),
        version_id: "v2".into(),
    });
    let events = h.ok(Command::CreatePolicyVersion {
        policy_arn: arn("p"),
        policy_document: DOC.into(),
        set_as_default: true,
    });
    match &events[0] {
        DomainEvent::PolicyVersionCreated(e) => assert_eq!(e.version_id, "v6"),
        other => panic!("{other:?}"),
    }
    let policy = h
        .state
        .managed_policy(&iam_types::IamArn::parse(&arn("p")).unwrap())
        .unwrap();
    assert_eq!(policy.default_version_id, "v6");
    assert_eq!(
        policy
            .versions
            .iter()
            .filter(|v| v.version_id == policy.default_version_id)
            .count(),
        1
    );
    h.ok(Command::SetDefaultPolicyVersion {
        policy_arn: arn("p"),
        version_id: "v1".into(),
    });
    assert_eq!(
        h.err(Command::DeletePolicyVersion {
            policy_arn: arn("p"),
            version_id: "v1".into()
        })
        .code(),
        ErrorCode::DeleteConflict
    );
    // Delete the non-default versions, then the policy.
    for v in ["v3", "v4", "v5", "v6"] {
        h.ok(Command::DeletePolicyVersion {
            policy_arn: arn("p"),
            version_id: v.into(),
        });
    }
    h.ok(Command::DeletePolicy { policy_arn: arn("p") });
    assert_eq!(h.state.customer_policies().count(), 0);
}

#[test]
fn size_limits_inline_and_managed_ignore_white_space() {
    for (kind, limit) in [
        (PrincipalKind::User, 2048),
        (PrincipalKind::Group, 5120),
        (PrincipalKind::Role, 10240),
    ] {
        let mut h = Harness::new();
        h.ok(create_user("p"));
        h.ok(create_group("p"));
        h.ok(create_role("p", TRUST));
        let put = |name: &str, doc: String| match kind {
            PrincipalKind::User => put_user_policy("p", name, &doc),
            PrincipalKind::Group => Command::PutGroupPolicy {
                group_name: "p".into(),
                policy_name: name.into(),
                policy_document: doc,
            },
            PrincipalKind::Role => Command::PutRolePolicy {
                role_name: "p".into(),
                policy_name: name.into(),
                policy_document: doc,
            },
        };
        let half = doc_of_size(limit / 2, 5000);
        h.ok(put("a", half.clone()));
        h.ok(put("b", half.clone()));
        assert_eq!(h.err(put("c", DOC.into())).code(), ErrorCode::LimitExceeded, "{kind:?}");
        // Replacing a policy counts the new document instead of the old one.
        h.ok(put("b", DOC.into()));
        h.ok(put("c", DOC.into()));
        assert_eq!(h.state.inline_policies(kind, "p").unwrap().len(), 3);
    }
    let mut h = Harness::new();
    h.ok(create_policy("big", &doc_of_size(6100, 20000)));
    assert_eq!(
        h.err(create_policy("bigger", &doc_of_size(6200, 0))).code(),
        ErrorCode::LimitExceeded
    );
    let big_trust = TRUST.replace("ec2.amazonaws.com", &format!("{}.amazonaws.com", "s".repeat(2048)));
    assert_eq!(h.err(create_role("r", &big_trust)).code(), ErrorCode::LimitExceeded);
}

#[test]
fn update_user_renames_and_keeps_memberships() {
    let mut h = fixture();
    h.ok(Command::UpdateUser {
        user_name: "alice".into(),
        new_user_name: Some("alicia".into()),
        new_path: Some("/eng/".into()),
    });
    assert!(h.state.user("alice").is_none());
    let user = h.state.user("alicia").unwrap();
    assert_eq!(user.arn.to_string(), format!("arn:aws:iam::{ACCOUNT}:user/eng/alicia"));
    assert_eq!(h.state.groups_for_user("alicia")[0].group_name.as_str(), "devs");
    assert_eq!(h.state.users_in_group("devs")[0].user_name.as_str(), "alicia");
    // Same-name, different-case rename of itself is allowed.
    h.ok(Command::UpdateUser {
        user_name: "alicia".into(),
        new_user_name: Some("Alicia".into()),
        new_path: None,
    });
    assert_eq!(h.state.user("alicia").unwrap().user_name.as_str(), "Alicia");
    h.ok(Command::UpdateGroup {
        group_name: "devs".into(),
        new_group_name: Some("engineers".into()),
        new_path: None,
    });
    assert_eq!(h.state.groups_for_user("alicia")[0].group_name.as_str(), "engineers");
}

#[test]
fn effective_policies_of_user_and_role() {
    let mut h = fixture();
    h.ok(Command::PutGroupPolicy {
        group_name: "devs".into(),
        policy_name: "group-inline".into(),
        policy_document: DOC.into(),
    });
    h.ok(put_user_policy("alice", "own", DOC));
    h.ok(Command::AttachGroupPolicy {
        group_name: "devs".into(),
        policy_arn: ADMIN.into(),
    });
    h.ok(Command::PutUserPermissionsBoundary {
        user_name: "alice".into(),
        permissions_boundary: ADMIN.into(),
    });
    let eff = h.state.effective_policies_of_user("Alice").unwrap();
    let kinds: Vec<_> = eff
        .identity
        .iter()
        .map(|p| (p.policy_type, p.source_id.clone()))
        .collect();
    use iam_policy::PolicyType;
    assert_eq!(
        kinds,
        vec![
            (PolicyType::User, format!("arn:aws:iam::{ACCOUNT}:user/alice#own")),
            (PolicyType::UserManaged, arn("ReadReports")),
            (
                PolicyType::Group,
                format!("arn:aws:iam::{ACCOUNT}:group/devs#group-inline")
            ),
            (PolicyType::AwsManaged, ADMIN.to_string()),
        ]
    );
    let boundary = eff.permissions_boundary.unwrap();
    assert_eq!(boundary.policy_type, PolicyType::AwsManaged);
    assert!(boundary.document.contains("\"*\""));
    let role = h.state.effective_policies_of_role("bare").unwrap();
    assert!(role.identity.is_empty());
    assert_eq!(role.permissions_boundary.unwrap().source_id, arn("Boundary"));
    assert!(h.state.effective_policies_of_user("nobody").is_none());
    h.ok(Command::DeleteUserPermissionsBoundary {
        user_name: "alice".into(),
    });
    assert!(h
        .state
        .effective_policies_of_user("alice")
        .unwrap()
        .permissions_boundary
        .is_none());
}

#[test]
fn access_key_lifecycle_keeps_only_ciphertext() {
    let mut h = fixture();
    let events = h.ok(create_key(Some("bob"), &key_id(5)));
    let json = serde_json::to_string(&events[0]).unwrap();
    assert!(json.contains("v1:ciphertext"));
    h.ok(Command::UpdateAccessKey {
        user_name: Some("bob".into()),
        access_key_id: key_id(5),
        status: AccessKeyStatus::Inactive,
    });
    assert!(h
        .ok(Command::UpdateAccessKey {
            user_name: Some("bob".into()),
            access_key_id: key_id(5),
            status: AccessKeyStatus::Inactive,
        })
        .is_empty());
    h.ok(Command::RecordAccessKeyUse {
        access_key_id: key_id(5),
        service_name: "iam".into(),
        region: "us-east-1".into(),
    });
    let key = h.state.access_key(&key_id(5)).unwrap();
    assert_eq!(key.status, AccessKeyStatus::Inactive);
    assert_eq!(key.last_used.as_ref().unwrap().service_name, "iam");
    h.ok(Command::DeleteAccessKey {
        user_name: None,
        access_key_id: key_id(2),
    });
    assert!(h.state.root_access_keys().is_empty());
}

#[test]
fn role_updates_and_defaults() {
    let mut h = fixture();
    assert_eq!(h.state.role("bare").unwrap().max_session_duration, 3600);
    h.ok(Command::UpdateRole {
        role_name: "bare".into(),
        description: Some("ci".into()),
        max_session_duration: Some(43200),
    });
    h.ok(Command::UpdateRole {
        role_name: "bare".into(),
        description: None,
        max_session_duration: None,
    });
    let role = h.state.role("bare").unwrap();
    assert_eq!(
        (role.description.as_deref(), role.max_session_duration),
        (Some("ci"), 43200)
    );
    h.ok(Command::UpdateAssumeRolePolicy {
        role_name: "bare".into(),
        policy_document: TRUST_RESOURCE.replace(r#","Resource":"*""#, ""),
    });
    assert!(h
        .state
        .role("bare")
        .unwrap()
        .assume_role_policy_document
        .contains("AWS"));
}

/// Runs every kind of command once, so every event type is produced.
fn full_scenario() -> Harness {
    let mut h = fixture();
    let steps = vec![
        Command::UpdateUser {
            user_name: "bob".into(),
            new_user_name: Some("robert".into()),
            new_path: None,
        },
        Command::TagUser {
            user_name: "robert".into(),
            tags: vec![TagInput::new("team", "a"), TagInput::new("x", "")],
        },
        Command::UntagUser {
            user_name: "robert".into(),
            tag_keys: vec!["x".into()],
        },
        Command::PutUserPermissionsBoundary {
            user_name: "robert".into(),
            permissions_boundary: ADMIN.into(),
        },
        Command::DeleteUserPermissionsBoundary {
            user_name: "robert".into(),
        },
        attach_user("robert", ADMIN),
        Command::DetachUserPolicy {
            user_name: "robert".into(),
            policy_arn: ADMIN.into(),
        },
        put_user_policy("robert", "p", DOC),
        Command::DeleteUserPolicy {
            user_name: "robert".into(),
            policy_name: "p".into(),
        },
        Command::UpdateGroup {
            group_name: "empty".into(),
            new_group_name: None,
            new_path: Some("/x/".into()),
        },
        Command::AddUserToGroup {
            group_name: "empty".into(),
            user_name: "robert".into(),
        },
        Command::RemoveUserFromGroup {
            group_name: "empty".into(),
            user_name: "robert".into(),
        },
        Command::AttachGroupPolicy {
            group_name: "empty".into(),
            policy_arn: ADMIN.into(),
        },
        Command::DetachGroupPolicy {
            group_name: "empty".into(),
            policy_arn: ADMIN.into(),
        },
        Command::PutGroupPolicy {
            group_name: "empty".into(),
            policy_name: "p".into(),
            policy_document: DOC.into(),
        },
        Command::DeleteGroupPolicy {
            group_name: "empty".into(),
            policy_name: "p".into(),
        },
        Command::DeleteGroup {
            group_name: "empty".into(),
        },
        Command::UpdateRole {
            role_name: "bare".into(),
            description: Some("d".into()),
            max_session_duration: Some(7200),
        },
        Command::UpdateAssumeRolePolicy {
            role_name: "bare".into(),
            policy_document: TRUST.into(),
        },
        Command::TagRole {
            role_name: "bare".into(),
            tags: vec![TagInput::new("a", "b")],
        },
        Command::UntagRole {
            role_name: "bare".into(),
            tag_keys: vec!["a".into()],
        },
        Command::DeleteRolePermissionsBoundary {
            role_name: "bare".into(),
        },
        Command::PutRolePermissionsBoundary {
            role_name: "bare".into(),
            permissions_boundary: arn("Boundary"),
        },
        Command::AttachRolePolicy {
            role_name: "bare".into(),
            policy_arn: ADMIN.into(),
        },
        Command::DetachRolePolicy {
            role_name: "bare".into(),
            policy_arn: ADMIN.into(),
        },
        Command::PutRolePolicy {
            role_name: "bare".into(),
            policy_name: "p".into(),
            policy_document: DOC.into(),
        },
        Command::DeleteRolePolicy {
            role_name: "bare".into(),
            policy_name: "p".into(),
        },
        Command::DeleteRole {
            role_name: "bare".into(),
        },
        Command::TagPolicy {
            policy_arn: arn("Free"),
            tags: vec![TagInput::new("a", "b")],
        },
        Command::UntagPolicy {
            policy_arn: arn("Free"),
            tag_keys: vec!["a".into()],
        },
        Command::SetDefaultPolicyVersion {
            policy_arn: arn("Versions"),
            version_id: "v2".into(),
        },
        Command::DeletePolicyVersion {
            policy_arn: arn("Versions"),
            version_id: "v1".into(),
        },
        Command::DeletePolicy {
            policy_arn: arn("Free"),
        },
        Command::UpdateAccessKey {
            user_name: Some("keyholder".into()),
            access_key_id: key_id(1),
            status: AccessKeyStatus::Inactive,
        },
        Command::RecordAccessKeyUse {
            access_key_id: key_id(1),
            service_name: "s3".into(),
            region: "eu-west-1".into(),
        },
        Command::DeleteAccessKey {
            user_name: Some("keyholder".into()),
            access_key_id: key_id(1),
        },
        Command::DeleteUser {
            user_name: "keyholder".into(),
        },
        create_role("ec2-app", TRUST),
        Command::CreateInstanceProfile {
            instance_profile_name: "web".into(),
            path: Some("/app/".into()),
            tags: vec![TagInput::new("tier", "front")],
        },
        Command::TagInstanceProfile {
            instance_profile_name: "web".into(),
            tags: vec![TagInput::new("owner", "ops")],
        },
        Command::UntagInstanceProfile {
            instance_profile_name: "web".into(),
            tag_keys: vec!["tier".into()],
        },
        Command::AddRoleToInstanceProfile {
            instance_profile_name: "web".into(),
            role_name: "ec2-app".into(),
        },
        Command::RemoveRoleFromInstanceProfile {
            instance_profile_name: "WEB".into(),
            role_name: "ec2-app".into(),
        },
        Command::DeleteInstanceProfile {
            instance_profile_name: "web".into(),
        },
    ];
    for step in steps {
        h.ok(step);
    }
    for step in credential_steps() {
        h.ok(step);
    }
    h
}

const MFA: &str = "arn:aws:iam::111122223333:mfa/ops/alice-phone";

/// Every credential event: a login profile's life, the password policy, an MFA device's.
fn credential_steps() -> Vec<Command> {
    vec![
        Command::UpdateAccountPasswordPolicy(PasswordPolicyInput {
            minimum_password_length: Some(10),
            password_reuse_prevention: Some(2),
            ..PasswordPolicyInput::default()
        }),
        Command::CreateLoginProfile {
            user_name: "alice".into(),
            password_reset_required: true,
            password_ciphertext: "v1:first".into(),
        },
        Command::ChangePassword {
            user_name: "alice".into(),
            password_ciphertext: "v1:second".into(),
        },
        Command::RecordSignIn {
            user_name: "alice".into(),
        },
        Command::CreateVirtualMFADevice {
            virtual_mfa_device_name: "alice-phone".into(),
            path: Some("/ops/".into()),
            tags: vec![TagInput::new("kind", "phone")],
            seed_ciphertext: "v1:seed".into(),
        },
        Command::TagMFADevice {
            serial_number: MFA.into(),
            tags: vec![TagInput::new("owner", "alice")],
        },
        Command::UntagMFADevice {
            serial_number: MFA.into(),
            tag_keys: vec!["kind".into()],
        },
        Command::EnableMFADevice {
            user_name: "alice".into(),
            serial_number: MFA.into(),
            step: 100,
        },
        Command::RecordMfaCodeUse {
            serial_number: MFA.into(),
            step: 101,
        },
        Command::ResyncMFADevice {
            user_name: "alice".into(),
            serial_number: MFA.into(),
            step: 110,
            drift_steps: 2,
        },
        Command::DeactivateMFADevice {
            user_name: "alice".into(),
            serial_number: MFA.into(),
        },
        Command::DeleteVirtualMFADevice {
            serial_number: MFA.into(),
        },
        Command::DeleteLoginProfile {
            user_name: "alice".into(),
        },
        Command::DeleteAccountPasswordPolicy {},
        Command::CreateOpenIDConnectProvider {
            url: "https://token.actions.githubusercontent.com".into(),
            client_id_list: vec!["sts.amazonaws.com".into()],
            thumbprint_list: vec![],
            tags: vec![TagInput::new("ci", "github")],
            jwks: None,
        },
        Command::AddClientIDToOpenIDConnectProvider {
            open_id_connect_provider_arn: GITHUB.into(),
            client_id: "gatehouse".into(),
        },
        Command::TagOpenIDConnectProvider {
            open_id_connect_provider_arn: GITHUB.into(),
            tags: vec![TagInput::new("owner", "platform")],
        },
        Command::UntagOpenIDConnectProvider {
            open_id_connect_provider_arn: GITHUB.into(),
            tag_keys: vec!["ci".into()],
        },
        Command::DeleteOpenIDConnectProvider {
            open_id_connect_provider_arn: GITHUB.into(),
        },
    ]
}

const GITHUB: &str = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com";

#[test]
fn oidc_providers_are_checked_unique_and_updated_as_iam_does() {
    let mut h = fixture();
    let create = |url: &str, ids: &[&str], thumbprints: &[&str]| Command::CreateOpenIDConnectProvider {
        url: url.into(),
        client_id_list: ids.iter().map(|s| (*s).to_owned()).collect(),
        thumbprint_list: thumbprints.iter().map(|s| (*s).to_owned()).collect(),
        tags: vec![],
        jwks: None,
    };
    for (bad, why) in [
        (create("ftp://example.com", &["a"], &[]), "scheme"),
        (create("https://example.com:8443", &["a"], &[]), "port"),
        (create("https://example.com", &["a"], &["not-hex"]), "thumbprint"),
        (
            Command::CreateOpenIDConnectProvider {
                url: "https://example.com".into(),
                client_id_list: vec!["a".into()],
                thumbprint_list: vec![],
                tags: vec![],
                jwks: Some("{\"keys\": 7}".into()),
            },
            "key set",
        ),
    ] {
        assert_eq!(h.err(bad).code(), ErrorCode::InvalidInput, "{why}");
    }
    h.ok(create(
        "https://token.actions.githubusercontent.com",
        &["sts.amazonaws.com", "sts.amazonaws.com"],
        &[],
    ));
    let provider = h.state.oidc_provider(GITHUB).unwrap();
    assert_eq!(provider.client_ids, ["sts.amazonaws.com"], "duplicates dropped");
    assert_eq!(provider.name(), "token.actions.githubusercontent.com");
    assert_eq!(
        h.err(create("token.actions.githubusercontent.com", &["x"], &[])).code(),
        ErrorCode::EntityAlreadyExists,
        "the stored form names the same provider"
    );
    // Adding a client id twice changes nothing the second time.
    let add = || Command::AddClientIDToOpenIDConnectProvider {
        open_id_connect_provider_arn: GITHUB.into(),
        client_id: "extra".into(),
    };
    assert_eq!(h.run(add()).unwrap().len(), 1);
    assert!(h.run(add()).unwrap().is_empty());
    let missing = Command::DeleteOpenIDConnectProvider {
        open_id_connect_provider_arn: "arn:aws:iam::111122223333:oidc-provider/nowhere.example".into(),
    };
    assert_eq!(h.err(missing).code(), ErrorCode::NoSuchEntity);
    assert_eq!(replay(&h.events), h.state);
}

#[test]
fn instance_profiles_hold_one_role_and_keep_it_from_being_deleted() {
    let mut h = fixture();
    let create = |name: &str| Command::CreateInstanceProfile {
        instance_profile_name: name.into(),
        path: None,
        tags: vec![],
    };
    let add = |profile: &str, role: &str| Command::AddRoleToInstanceProfile {
        instance_profile_name: profile.into(),
        role_name: role.into(),
    };
    let events = h.ok(create("web"));
    let DomainEvent::InstanceProfileCreated(created) = &events[0] else {
        panic!("{events:?}")
    };
    assert!(created.instance_profile_id.as_str().starts_with("AIPA"));
    assert_eq!(
        created.arn.to_string(),
        format!("arn:aws:iam::{ACCOUNT}:instance-profile/web")
    );
    assert_eq!(h.err(create("WEB")).code(), ErrorCode::EntityAlreadyExists);
    assert_eq!(h.err(add("web", "nobody")).code(), ErrorCode::NoSuchEntity);
    assert_eq!(h.err(add("nothing", "bare")).code(), ErrorCode::NoSuchEntity);
    h.ok(add("web", "bare"));
    // AWS allows one role per instance profile, the same one included.
    assert_eq!(h.err(add("web", "deployer")).code(), ErrorCode::LimitExceeded);
    assert_eq!(h.err(add("web", "bare")).code(), ErrorCode::LimitExceeded);
    let roles: Vec<&str> = h
        .state
        .instance_profiles_for_role("BARE")
        .iter()
        .map(|p| p.instance_profile_name.as_str())
        .collect();
    assert_eq!(roles, ["web"]);
    // Neither the role nor the profile can go while one holds the other.
    assert_eq!(
        h.err(Command::DeleteRole {
            role_name: "bare".into()
        })
        .code(),
        ErrorCode::DeleteConflict
    );
    assert_eq!(
        h.err(Command::DeleteInstanceProfile {
            instance_profile_name: "web".into()
        })
        .code(),
        ErrorCode::DeleteConflict
    );
    let remove = Command::RemoveRoleFromInstanceProfile {
        instance_profile_name: "web".into(),
        role_name: "deployer".into(),
    };
    assert_eq!(h.err(remove).code(), ErrorCode::NoSuchEntity);
    h.ok(Command::RemoveRoleFromInstanceProfile {
        instance_profile_name: "web".into(),
        role_name: "bare".into(),
    });
    h.ok(Command::DeleteRole {
        role_name: "bare".into(),
    });
    h.ok(Command::DeleteInstanceProfile {
        instance_profile_name: "web".into(),
    });
    assert!(h.state.instance_profile("web").is_none());
    assert_eq!(replay(&h.events), h.state);
}

#[test]
fn login_profiles_live_and_die_with_aws_rules() {
    let mut h = fixture();
    let delete = |user: &str| Command::DeleteLoginProfile { user_name: user.into() };
    let error = h.err(delete("alice"));
    assert_eq!(error.code(), ErrorCode::NoSuchEntity);
    assert_eq!(error.to_string(), "Login Profile for User alice cannot be found.");
    assert_eq!(h.err(delete("nobody")).code(), ErrorCode::NoSuchEntity);
    let create = |ciphertext: &str| Command::CreateLoginProfile {
        user_name: "inliner".into(),
        password_reset_required: true,
        password_ciphertext: ciphertext.into(),
    };
    assert_eq!(
        h.err(create("")).code(),
        ErrorCode::ServiceFailure,
        "never an unsealed password"
    );
    h.ok(create("v1:a"));
    assert_eq!(h.err(create("v1:b")).code(), ErrorCode::EntityAlreadyExists);
    for next in ["v1:b", "v1:c"] {
        h.ok(Command::ChangePassword {
            user_name: "inliner".into(),
            password_ciphertext: next.into(),
        });
    }
    let profile = h.state.user("inliner").unwrap().login_profile.clone().unwrap();
    assert!(!profile.password_reset_required, "a change clears the reset flag");
    assert_eq!(profile.password_ciphertext, "v1:c");
    assert_eq!(profile.previous_passwords, ["v1:b", "v1:a"]);
    // A user with a password cannot be deleted before it is.
    assert_eq!(
        h.err(Command::DeleteUser {
            user_name: "inliner".into()
        })
        .code(),
        ErrorCode::DeleteConflict
    );
    h.ok(delete("inliner"));
    assert!(h.state.user("inliner").unwrap().login_profile.is_none());
    assert_eq!(replay(&h.events), h.state);
}

#[test]
fn mfa_devices_refuse_reuse_of_a_step_and_double_assignment() {
    let mut h = fixture();
    for step in credential_steps().into_iter().take(8) {
        h.ok(step);
    }
    let device = h.state.mfa_device(MFA).unwrap();
    assert_eq!(device.last_step, 100);
    let used = |step| Command::RecordMfaCodeUse {
        serial_number: MFA.into(),
        step,
    };
    assert_eq!(
        h.err(used(100)).code(),
        ErrorCode::InvalidAuthenticationCode,
        "the enabling code"
    );
    h.ok(used(101));
    assert_eq!(
        h.err(used(101)).code(),
        ErrorCode::InvalidAuthenticationCode,
        "replayed"
    );
    assert_eq!(h.err(used(99)).code(), ErrorCode::InvalidAuthenticationCode, "older");
    let again = Command::EnableMFADevice {
        user_name: "bob".into(),
        serial_number: MFA.into(),
        step: 500,
    };
    assert_eq!(h.err(again).code(), ErrorCode::EntityAlreadyExists);
    assert_eq!(
        h.err(Command::DeleteVirtualMFADevice {
            serial_number: MFA.into()
        })
        .code(),
        ErrorCode::DeleteConflict
    );
    assert_eq!(
        h.err(Command::DeleteUser {
            user_name: "alice".into()
        })
        .code(),
        ErrorCode::DeleteConflict
    );
    let unknown = "arn:aws:iam::111122223333:mfa/nothing";
    assert_eq!(
        h.err(Command::DeleteVirtualMFADevice {
            serial_number: unknown.into()
        })
        .code(),
        ErrorCode::NoSuchEntity
    );
    assert_eq!(replay(&h.events), h.state);
}

/// `name_claims` as it was first written: the difference of the two states' whole name sets.
fn name_claims_by_sets(before: &AccountState, after: &AccountState) -> Vec<NameClaim> {
    let (old, new) = (unique_names(before), unique_names(after));
    let release = old
        .difference(&new)
        .map(|(scope, key)| NameClaim::Release(scope, key.clone()));
    let claim = new
        .difference(&old)
        .map(|(scope, key)| NameClaim::Claim(scope, key.clone()));
    release.chain(claim).collect()
}

#[test]
fn name_claims_walk_the_keys_and_agree_with_the_set_difference() {
    let h = full_scenario();
    let mut states = vec![AccountState::new()];
    for event in &h.events {
        let mut next = states.last().unwrap().clone();
        evolve(&mut next, event);
        states.push(next);
    }
    let mut changed = 0;
    for pair in states.windows(2) {
        let claims = name_claims(&pair[0], &pair[1]);
        assert_eq!(claims, name_claims_by_sets(&pair[0], &pair[1]));
        changed += usize::from(!claims.is_empty());
    }
    assert!(changed > 10, "the scenario creates, renames and deletes names");
    // Far apart too: everything the scenario left, claimed from nothing and released again.
    let last = states.last().unwrap();
    assert_eq!(name_claims(&states[0], last), name_claims_by_sets(&states[0], last));
    assert_eq!(name_claims(last, &states[0]), name_claims_by_sets(last, &states[0]));
}

#[test]
fn every_event_type_round_trips_through_json() {
    let h = full_scenario();
    let produced: std::collections::BTreeSet<&str> = h.events.iter().map(DomainEvent::event_type).collect();
    // `organizations.*` events belong to an organization's stream, which account commands never
    // write: `organization::tests` produces every one of them through `decide_organization`.
    for name in DomainEvent::TYPES.iter().filter(|t| !t.starts_with("organizations.")) {
        assert!(produced.contains(name), "scenario never produced {name}");
    }
    for event in &h.events {
        let json = serde_json::to_value(event).unwrap();
        assert_eq!(json["type"], event.event_type());
        let back: DomainEvent = serde_json::from_value(json).unwrap();
        assert_eq!(&back, event);
    }
    assert_eq!(SCHEMA_VERSION, 1);
}

#[test]
fn replay_reproduces_state() {
    let h = full_scenario();
    assert_eq!(h.state.version(), h.events.len() as u64);
    assert_eq!(replay(&h.events), h.state);
}

/// A deterministic pseudo-random walk over a small universe of names: after every step, replaying
/// the events from an empty account gives the same state as applying them one by one.
#[test]
fn replay_matches_incremental_state_on_random_walks() {
    for seed in 1..=8u64 {
        let mut rng = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut next = |n: u64| {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (rng >> 33) % n
        };
        let mut h = Harness::new();
        let names = ["a", "B", "c"];
        let policies = [arn("pa"), arn("pb"), ADMIN.to_string()];
        for _ in 0..300 {
            let n = names[next(3) as usize].to_string();
            let m = names[next(3) as usize].to_string();
            let p = policies[next(3) as usize].clone();
            let command = match next(22) {
                0 => create_user(&n),
                1 => Command::DeleteUser { user_name: n },
                2 => create_group(&n),
                3 => Command::DeleteGroup { group_name: n },
                4 => Command::AddUserToGroup {
                    group_name: n,
                    user_name: m,
                },
                5 => Command::RemoveUserFromGroup {
                    group_name: n,
                    user_name: m,
                },
                6 => create_role(&n, TRUST),
                7 => Command::DeleteRole { role_name: n },
                8 => create_policy(&format!("p{}", n.to_lowercase()), DOC),
                9 => Command::DeletePolicy { policy_arn: p },
                10 => attach_user(&n, &p),
                11 => Command::DetachUserPolicy {
                    user_name: n,
                    policy_arn: p,
                },
                12 => Command::AttachRolePolicy {
                    role_name: n,
                    policy_arn: p,
                },
                13 => Command::DetachGroupPolicy {
                    group_name: n,
                    policy_arn: p,
                },
                14 => put_user_policy(&n, &m, DOC),
                15 => Command::DeleteUserPolicy {
                    user_name: n,
                    policy_name: m,
                },
                16 => Command::CreatePolicyVersion {
                    policy_arn: p,
                    policy_document: DOC.into(),
                    set_as_default: next(2) == 0,
                },
                17 => Command::DeletePolicyVersion {
                    policy_arn: p,
                    version_id: format!("v{}", next(4) + 1),
                },
                18 => create_key(Some(&n), &key_id(next(6) as u8)),
                19 => Command::DeleteAccessKey {
                    user_name: Some(n),
                    access_key_id: key_id(next(6) as u8),
                },
                20 => Command::UpdateUser {
                    user_name: n,
                    new_user_name: Some(m),
                    new_path: None,
                },
                _ => Command::TagUser {
                    user_name: n,
                    tags: vec![TagInput::new(m, "v")],
                },
            };
            let _ = h.run(command);
            assert_eq!(replay(&h.events), h.state, "seed {seed}");
        }
        assert!(
            h.events.len() > 50,
            "seed {seed}: the walk should mostly succeed, got {}",
            h.events.len()
        );
    }
}
