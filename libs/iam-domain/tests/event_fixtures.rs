//! Frozen event schemas: `schema/events/v<N>/<event type>.json` holds one hand-written payload per
//! event type and schema version. Stored events are read back for ever, so a change to a payload's
//! JSON shape must fail here instead of slipping into the log. The rule is in
//! `schema/events/README.md`; there is deliberately no mode that rewrites the fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use iam_domain::credentials::{
    LoginProfileCreated, LoginProfileUpdated, LoginProfileUsed, MfaDeviceAssignment, MfaDeviceCreated,
    MfaDeviceDeleted, MfaDeviceStep, MfaDeviceTagged, MfaDeviceUntagged, PasswordPolicy, PasswordPolicyDeleted,
};
use iam_domain::oidc::{
    OidcProviderCreated, OidcProviderDeleted, OidcProviderTagged, OidcProviderUntagged, OidcProviderUpdated,
};
use iam_domain::organization::{
    AccountClosed, AccountCreationFailed, AccountCreationStarted, AccountJoined, AccountMoved, AccountRemoved,
    CreateAccountRequest, DelegatedAdministratorChanged, Handshake, HandshakeClosed, HandshakeOpened, HandshakeState,
    JoinedMethod, MemberAccount, MemberStatus, OrgPolicy, OrgPolicyAttachment, OrgPolicyChanged, OrgPolicyDeleted,
    OrgPolicyType, OrganizationCreated, OrganizationDeleted, OrganizationInfo, OrganizationalUnit, PolicyTypeChanged,
    UnitChanged, UnitDeleted,
};
use iam_domain::{
    decode_event, AccessKeyCreated, AccessKeyDeleted, AccessKeyOwner, AccessKeyStatus, AccessKeyStatusUpdated,
    AccessKeyUsed, AccountCreated, BoundaryPut, DefaultVersionSet, DomainEvent, EntityRef, EntityRenamed, GroupCreated,
    GroupMembership, InlinePolicyDeleted, InlinePolicyPut, InstanceProfileCreated, InstanceProfileRole,
    PolicyAttachment, PolicyCreated, PolicyDeleted, PolicyVersionCreated, PolicyVersionDeleted, RoleCreated,
    RoleUpdated, Tagged, TrustPolicyUpdated, Untagged, UserCreated, SCHEMA_VERSION,
};
use iam_types::{AccountId, EntityName, IamArn, IamPath, NameKind, Tag, UniqueId};
use serde_json::Value;

const VERSIONING_RULE: &str = "A stored event's JSON shape is a contract and its fixture is never edited: undo the \
     change, or bump SCHEMA_VERSION, add an upcast step in libs/iam-domain/src/upcast.rs and write fixtures of the new \
     version next to the old ones (schema/events/README.md).";

/// One file found under a version folder.
struct Fixture {
    /// The schema version its folder names.
    version: u32,
    /// Its file name without `.json`: the event type it claims to be.
    event_type: String,
    /// `schema/events/v<N>/<file name>`, for messages.
    shown: String,
    text: String,
}

impl Fixture {
    fn json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.text).map_err(|e| format!("{} is not JSON: {e}", self.shown))
    }

    fn names_a_known_type(&self) -> bool {
        DomainEvent::TYPES.contains(&self.event_type.as_str())
    }
}

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/events")
}

/// Every fixture under `schema/events/` (by version, then name) and a message for every entry
/// that should be a fixture or a version folder but is not.
fn load() -> (Vec<Fixture>, Vec<String>) {
    let root = events_dir();
    let mut fixtures = Vec::new();
    let mut strays = Vec::new();
    let entries = fs::read_dir(&root).unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()));
    for entry in entries {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_dir() {
            continue; // README.md
        }
        let folder = entry.file_name().to_string_lossy().into_owned();
        let version = folder.strip_prefix('v').and_then(|n| n.parse::<u32>().ok());
        let Some(version) = version.filter(|v| *v > 0 && format!("v{v}") == folder) else {
            strays.push(format!(
                "schema/events/{folder}/ is not a schema version folder (`v1`, `v2`, ...)"
            ));
            continue;
        };
        for file in fs::read_dir(entry.path()).unwrap() {
            let file = file.unwrap();
            let file_name = file.file_name().to_string_lossy().into_owned();
            let shown = format!("schema/events/{folder}/{file_name}");
            match file_name.strip_suffix(".json") {
                Some(stem) if file.file_type().unwrap().is_file() => fixtures.push(Fixture {
                    version,
                    event_type: stem.to_owned(),
                    text: fs::read_to_string(file.path()).unwrap(),
                    shown,
                }),
                _ => strays.push(format!("{shown} is not an `<event type>.json` fixture")),
            }
        }
    }
    fixtures.sort_by(|a, b| (a.version, &a.event_type).cmp(&(b.version, &b.event_type)));
    (fixtures, strays)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

fn report(problems: &[String], footer: &str) {
    assert!(problems.is_empty(), "{}\n\n{footer}", problems.join("\n\n"));
}

#[test]
fn every_event_type_has_a_fixture_of_the_current_version() {
    let (fixtures, _) = load();
    let problems: Vec<String> = DomainEvent::TYPES
        .iter()
        .filter(|t| {
            !fixtures
                .iter()
                .any(|f| f.version == SCHEMA_VERSION && f.event_type == **t)
        })
        .map(|t| missing_fixture(t, &fixtures))
        .collect();
    report(
        &problems,
        "Fixtures are written by hand once and then frozen: never generate them over existing ones.",
    );
}

/// What to tell a developer whose event type has no fixture: where it goes, and a starting point.
fn missing_fixture(event_type: &str, fixtures: &[Fixture]) -> String {
    let path = format!("schema/events/v{SCHEMA_VERSION}/{event_type}.json");
    match suggestion(event_type, fixtures) {
        Some((source, event)) => format!(
            "{path} is missing. A starting point built from {source} follows; make its values realistic \
             (AWS-style ids, ARNs in account 123456789012, real policy documents, sealed secrets only), fill in \
             every optional field, and save it as {path}:\n{}",
            pretty(&serde_json::to_value(&event).unwrap())
        ),
        None => format!(
            "{path} is missing, and `samples()` in libs/iam-domain/tests/event_fixtures.rs has no {event_type} \
             event to suggest one from: add a sample there and rerun for a suggested fixture."
        ),
    }
}

/// The newest older fixture of the type upcast to the current version, else the sample event.
fn suggestion(event_type: &str, fixtures: &[Fixture]) -> Option<(String, DomainEvent)> {
    let upcast = fixtures
        .iter()
        .rev()
        .filter(|f| f.event_type == event_type && f.version < SCHEMA_VERSION)
        .find_map(|f| {
            let event = decode_event(event_type, f.version, &f.json().ok()?).ok()?;
            Some((format!("{} upcast to version {SCHEMA_VERSION}", f.shown), event))
        });
    upcast.or_else(|| {
        let sample = samples().into_iter().find(|e| e.event_type() == event_type)?;
        Some(("a sample event".to_owned(), sample))
    })
}

#[test]
fn every_fixture_is_of_a_known_type_named_by_its_file() {
    let (fixtures, mut problems) = load();
    for fixture in &fixtures {
        if !fixture.names_a_known_type() {
            problems.push(format!(
                "{} names no type in `DomainEvent::TYPES`: events of a type that was stored once must stay readable",
                fixture.shown
            ));
        }
        let value = match fixture.json() {
            Ok(value) => value,
            Err(message) => {
                problems.push(message);
                continue;
            }
        };
        match value.get("type").and_then(Value::as_str) {
            None => problems.push(format!("{} has no string `type` field", fixture.shown)),
            Some(t) if t != fixture.event_type => problems.push(format!(
                "{} says its type is `{t}`, but a fixture's `type` must be its file name",
                fixture.shown
            )),
            Some(_) => {}
        }
    }
    report(
        &problems,
        "schema/events/ holds `v<N>/<event type>.json` files and README.md, nothing else.",
    );
}

#[test]
fn current_fixtures_decode_and_serialize_back_unchanged() {
    let (fixtures, _) = load();
    let mut problems = Vec::new();
    let current = fixtures
        .iter()
        .filter(|f| f.version == SCHEMA_VERSION && f.names_a_known_type());
    for fixture in current {
        let frozen = match fixture.json() {
            Ok(value) => value,
            Err(message) => {
                problems.push(message);
                continue;
            }
        };
        match decode_event(&fixture.event_type, fixture.version, &frozen) {
            Err(e) => problems.push(format!("{} no longer decodes: {e}", fixture.shown)),
            Ok(event) => {
                let now = serde_json::to_value(&event).unwrap();
                if now != frozen {
                    problems.push(format!(
                        "{} changed shape ({}); the code now writes:\n{}",
                        fixture.shown,
                        difference(&frozen, &now),
                        pretty(&now)
                    ));
                }
            }
        }
    }
    report(&problems, VERSIONING_RULE);
}

#[test]
fn empty_values_of_current_fixtures_are_written_out_too() {
    // The fixtures fill every optional field; this freezes how `null` and `[]` are written, so a
    // `skip_serializing_if` cannot drop them from new events unnoticed.
    let (fixtures, _) = load();
    let mut problems = Vec::new();
    let current = fixtures
        .iter()
        .filter(|f| f.version == SCHEMA_VERSION && f.names_a_known_type());
    for fixture in current {
        let Ok(Value::Object(fields)) = fixture.json() else {
            continue;
        };
        for (key, value) in fields.iter().filter(|(key, _)| *key != "type") {
            let empty = if value.is_array() {
                Value::Array(Vec::new())
            } else {
                Value::Null
            };
            let mut variant = fields.clone();
            variant.insert(key.clone(), empty.clone());
            let variant = Value::Object(variant);
            // Only variants the schema accepts: `null` for an optional field, `[]` for a list.
            let Ok(event) = decode_event(&fixture.event_type, fixture.version, &variant) else {
                continue;
            };
            let now = serde_json::to_value(&event).unwrap();
            if now != variant {
                problems.push(format!(
                    "{} with `{key}` set to {empty} changed shape ({})",
                    fixture.shown,
                    difference(&variant, &now)
                ));
            }
        }
    }
    report(&problems, VERSIONING_RULE);
}

/// The top-level fields that differ between the frozen payload and what the code writes now.
fn difference(frozen: &Value, now: &Value) -> String {
    let (Some(frozen), Some(now)) = (frozen.as_object(), now.as_object()) else {
        return "not an object".to_owned();
    };
    let mut parts = Vec::new();
    for (key, value) in frozen {
        match now.get(key) {
            None => parts.push(format!("`{key}` is gone")),
            Some(other) if other != value => parts.push(format!("`{key}` is now {other}")),
            Some(_) => {}
        }
    }
    parts.extend(
        now.keys()
            .filter(|key| !frozen.contains_key(*key))
            .map(|key| format!("`{key}` is new")),
    );
    parts.join(", ")
}

#[test]
fn every_schema_version_keeps_fixtures_and_older_ones_still_decode() {
    let (fixtures, _) = load();
    let mut problems: Vec<String> = (1..=SCHEMA_VERSION)
        .filter(|v| !fixtures.iter().any(|f| f.version == *v))
        .map(|v| format!("schema/events/v{v}/ has no fixtures: fixtures of every schema version are kept"))
        .collect();
    for fixture in fixtures
        .iter()
        .filter(|f| f.version != SCHEMA_VERSION && f.names_a_known_type())
    {
        let decoded = fixture
            .json()
            .and_then(|value| decode_event(&fixture.event_type, fixture.version, &value).map_err(|e| e.to_string()));
        if let Err(message) = decoded {
            problems.push(format!(
                "{} (schema version {} of {SCHEMA_VERSION}) no longer decodes: {message}",
                fixture.shown, fixture.version
            ));
        }
    }
    report(
        &problems,
        "Events of every schema version stay in the log: each must upcast to the current one (upcast.rs).",
    );
}

#[test]
fn fixtures_are_pretty_printed() {
    let (fixtures, _) = load();
    let problems: Vec<String> = fixtures
        .iter()
        .filter(|f| f.json().is_ok_and(|value| pretty(&value) != f.text))
        .map(|f| format!("{} is not in the canonical layout", f.shown))
        .collect();
    report(
        &problems,
        "Fixtures are pretty-printed as serde_json does it: two-space indents, one trailing newline.",
    );
}

#[test]
fn fixtures_carry_only_sealed_secrets() {
    let (fixtures, _) = load();
    let mut problems = Vec::new();
    for fixture in &fixtures {
        let Ok(Value::Object(fields)) = fixture.json() else {
            continue;
        };
        // Access-key secrets, password hashes and MFA seeds.
        let sensitive = |key: &str| key.contains("secret") || key.contains("ciphertext");
        for (key, value) in fields.iter().filter(|(key, _)| sensitive(key)) {
            if !value.as_str().is_some_and(looks_sealed) {
                problems.push(format!("{}: `{key}` does not look like a sealed secret", fixture.shown));
            }
        }
    }
    report(
        &problems,
        "Secrets appear in events only as `v1:` + base64 of nonce || AES-256-GCM ciphertext || tag (iam-secrets).",
    );
}

/// `v1:` and base64 long enough for a 12-byte nonce, a 16-byte tag and something in between.
fn looks_sealed(text: &str) -> bool {
    let Some(body) = text.strip_prefix("v1:") else {
        return false;
    };
    let digits = body.trim_end_matches('=');
    let padding = body.len() - digits.len();
    let alphabet = digits
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    alphabet && padding <= 2 && body.len() % 4 == 0 && body.len() / 4 * 3 - padding > 12 + 16
}

#[test]
fn every_event_type_has_one_sample() {
    let samples = samples();
    let problems: Vec<String> = DomainEvent::TYPES
        .iter()
        .filter_map(|t| match samples.iter().filter(|e| e.event_type() == *t).count() {
            1 => None,
            n => Some(format!("`samples()` has {n} {t} events instead of one")),
        })
        .chain(samples.iter().filter_map(|sample| {
            // A suggestion must itself pass as a fixture of the current version.
            let value = serde_json::to_value(sample).unwrap();
            match decode_event(sample.event_type(), SCHEMA_VERSION, &value) {
                Ok(back) if back == *sample => None,
                _ => Some(format!(
                    "the {} sample does not read back as itself",
                    sample.event_type()
                )),
            }
        }))
        .collect();
    report(
        &problems,
        "The samples are where a missing fixture's suggestion comes from.",
    );
}

// The samples: one plain event per type, only to suggest the JSON of a missing fixture. The ids
// are the AWS documentation's examples.

const USER_ID: &str = "AIDACKCEVSQ6C2EXAMPLE";
const GROUP_ID: &str = "AGPACKCEVSQ6C2EXAMPLE";
const ROLE_ID: &str = "AROADBQP57FF2AEXAMPLE";
const POLICY_ID: &str = "ANPAJ2UCCR6DPCEXAMPLE";
const INSTANCE_PROFILE_ID: &str = "AIPAJQABLZS4A3QDU576Q";
const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const POLICY_ARN: &str = "arn:aws:iam::123456789012:policy/ExamplePolicy";
const DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn id(text: &str) -> UniqueId {
    UniqueId::parse(text).unwrap()
}

fn name(text: &str) -> EntityName {
    EntityName::parse(NameKind::Group, text).unwrap()
}

fn path(text: &str) -> IamPath {
    IamPath::parse(text).unwrap()
}

fn arn(text: &str) -> IamArn {
    IamArn::parse(text).unwrap()
}

fn tags() -> Vec<Tag> {
    vec![Tag::new("team", "example").unwrap()]
}

fn when() -> DateTime<Utc> {
    "2024-01-15T12:00:00Z".parse().unwrap()
}

fn entity(id_text: &str, name_text: &str) -> EntityRef {
    EntityRef {
        id: id(id_text),
        name: name(name_text),
    }
}

fn renamed(id_text: &str, name_text: &str, new_arn: &str) -> EntityRenamed {
    EntityRenamed {
        id: id(id_text),
        name: name(name_text),
        new_name: arn(new_arn).name().unwrap().clone(),
        new_path: arn(new_arn).path().unwrap().clone(),
        new_arn: arn(new_arn),
    }
}

fn tagged(id_text: &str, name_text: &str) -> Tagged {
    Tagged {
        id: id(id_text),
        name: name(name_text),
        tags: tags(),
    }
}

fn untagged(id_text: &str, name_text: &str) -> Untagged {
    Untagged {
        id: id(id_text),
        name: name(name_text),
        tag_keys: vec!["team".to_owned()],
    }
}

fn boundary(id_text: &str, name_text: &str) -> BoundaryPut {
    BoundaryPut {
        id: id(id_text),
        name: name(name_text),
        permissions_boundary: arn(POLICY_ARN),
    }
}

fn attachment(id_text: &str, name_text: &str) -> PolicyAttachment {
    PolicyAttachment {
        principal_id: id(id_text),
        principal_name: name(name_text),
        policy_arn: arn(POLICY_ARN),
    }
}

fn inline_put(id_text: &str, name_text: &str) -> InlinePolicyPut {
    InlinePolicyPut {
        principal_id: id(id_text),
        principal_name: name(name_text),
        policy_name: name("ExampleInline"),
        policy_document: DOCUMENT.to_owned(),
    }
}

fn inline_deleted(id_text: &str, name_text: &str) -> InlinePolicyDeleted {
    InlinePolicyDeleted {
        principal_id: id(id_text),
        principal_name: name(name_text),
        policy_name: name("ExampleInline"),
    }
}

fn membership() -> GroupMembership {
    GroupMembership {
        group_id: id(GROUP_ID),
        group_name: name("developers"),
        user_id: id(USER_ID),
        user_name: name("alice"),
    }
}

fn samples() -> Vec<DomainEvent> {
    let (user, group, role) = ("alice", "developers", "example-role");
    let mut events = vec![
        DomainEvent::AccountCreated(AccountCreated {
            account_id: AccountId::parse("123456789012").unwrap(),
            account_alias: Some("example".to_owned()),
            create_date: when(),
        }),
        DomainEvent::UserCreated(UserCreated {
            user_id: id(USER_ID),
            user_name: name(user),
            path: path("/"),
            arn: arn("arn:aws:iam::123456789012:user/alice"),
            create_date: when(),
            permissions_boundary: Some(arn(POLICY_ARN)),
            tags: tags(),
        }),
        DomainEvent::UserUpdated(renamed(USER_ID, user, "arn:aws:iam::123456789012:user/staff/alice2")),
        DomainEvent::UserDeleted(entity(USER_ID, user)),
        DomainEvent::UserTagged(tagged(USER_ID, user)),
        DomainEvent::UserUntagged(untagged(USER_ID, user)),
        DomainEvent::UserPermissionsBoundaryPut(boundary(USER_ID, user)),
        DomainEvent::UserPermissionsBoundaryDeleted(entity(USER_ID, user)),
        DomainEvent::UserPolicyAttached(attachment(USER_ID, user)),
        DomainEvent::UserPolicyDetached(attachment(USER_ID, user)),
        DomainEvent::UserInlinePolicyPut(inline_put(USER_ID, user)),
        DomainEvent::UserInlinePolicyDeleted(inline_deleted(USER_ID, user)),
        DomainEvent::GroupCreated(GroupCreated {
            group_id: id(GROUP_ID),
            group_name: name(group),
            path: path("/"),
            arn: arn("arn:aws:iam::123456789012:group/developers"),
            create_date: when(),
        }),
        DomainEvent::GroupUpdated(renamed(GROUP_ID, group, "arn:aws:iam::123456789012:group/staff/devs")),
        DomainEvent::GroupDeleted(entity(GROUP_ID, group)),
        DomainEvent::GroupMemberAdded(membership()),
        DomainEvent::GroupMemberRemoved(membership()),
        DomainEvent::GroupPolicyAttached(attachment(GROUP_ID, group)),
        DomainEvent::GroupPolicyDetached(attachment(GROUP_ID, group)),
        DomainEvent::GroupInlinePolicyPut(inline_put(GROUP_ID, group)),
        DomainEvent::GroupInlinePolicyDeleted(inline_deleted(GROUP_ID, group)),
        DomainEvent::RoleCreated(RoleCreated {
            role_id: id(ROLE_ID),
            role_name: name(role),
            path: path("/"),
            arn: arn("arn:aws:iam::123456789012:role/example-role"),
            create_date: when(),
            assume_role_policy_document: TRUST.to_owned(),
            description: Some("An example role".to_owned()),
            max_session_duration: 3600,
            permissions_boundary: Some(arn(POLICY_ARN)),
            tags: tags(),
        }),
        DomainEvent::RoleUpdated(RoleUpdated {
            role_id: id(ROLE_ID),
            role_name: name(role),
            description: Some("An example role".to_owned()),
            max_session_duration: 7200,
        }),
        DomainEvent::RoleTrustPolicyUpdated(TrustPolicyUpdated {
            role_id: id(ROLE_ID),
            role_name: name(role),
            policy_document: TRUST.to_owned(),
        }),
        DomainEvent::RoleDeleted(entity(ROLE_ID, role)),
        DomainEvent::RoleTagged(tagged(ROLE_ID, role)),
        DomainEvent::RoleUntagged(untagged(ROLE_ID, role)),
        DomainEvent::RolePermissionsBoundaryPut(boundary(ROLE_ID, role)),
        DomainEvent::RolePermissionsBoundaryDeleted(entity(ROLE_ID, role)),
        DomainEvent::RolePolicyAttached(attachment(ROLE_ID, role)),
        DomainEvent::RolePolicyDetached(attachment(ROLE_ID, role)),
        DomainEvent::RoleInlinePolicyPut(inline_put(ROLE_ID, role)),
        DomainEvent::RoleInlinePolicyDeleted(inline_deleted(ROLE_ID, role)),
        DomainEvent::PolicyCreated(PolicyCreated {
            policy_id: id(POLICY_ID),
            policy_name: name("ExamplePolicy"),
            path: path("/"),
            arn: arn(POLICY_ARN),
            description: Some("An example policy".to_owned()),
            create_date: when(),
            default_version_id: "v1".to_owned(),
            policy_document: DOCUMENT.to_owned(),
            tags: tags(),
        }),
        DomainEvent::PolicyDeleted(PolicyDeleted {
            policy_id: id(POLICY_ID),
            policy_name: name("ExamplePolicy"),
            arn: arn(POLICY_ARN),
        }),
        DomainEvent::PolicyVersionCreated(PolicyVersionCreated {
            policy_id: id(POLICY_ID),
            policy_name: name("ExamplePolicy"),
            version_id: "v2".to_owned(),
            policy_document: DOCUMENT.to_owned(),
            set_as_default: true,
            create_date: when(),
        }),
        DomainEvent::PolicyVersionDeleted(PolicyVersionDeleted {
            policy_id: id(POLICY_ID),
            policy_name: name("ExamplePolicy"),
            version_id: "v1".to_owned(),
        }),
        DomainEvent::PolicyDefaultVersionSet(DefaultVersionSet {
            policy_id: id(POLICY_ID),
            policy_name: name("ExamplePolicy"),
            version_id: "v2".to_owned(),
            update_date: when(),
        }),
        DomainEvent::PolicyTagged(tagged(POLICY_ID, "ExamplePolicy")),
        DomainEvent::PolicyUntagged(untagged(POLICY_ID, "ExamplePolicy")),
        DomainEvent::InstanceProfileCreated(InstanceProfileCreated {
            instance_profile_id: id(INSTANCE_PROFILE_ID),
            instance_profile_name: name("Webserver"),
            path: path("/application_abc/component_xyz/"),
            arn: arn("arn:aws:iam::123456789012:instance-profile/application_abc/component_xyz/Webserver"),
            create_date: when(),
            tags: tags(),
        }),
        DomainEvent::InstanceProfileDeleted(entity(INSTANCE_PROFILE_ID, "Webserver")),
        DomainEvent::InstanceProfileRoleAdded(InstanceProfileRole {
            instance_profile_id: id(INSTANCE_PROFILE_ID),
            instance_profile_name: name("Webserver"),
            role_id: id(ROLE_ID),
            role_name: name("S3Access"),
        }),
        DomainEvent::InstanceProfileRoleRemoved(InstanceProfileRole {
            instance_profile_id: id(INSTANCE_PROFILE_ID),
            instance_profile_name: name("Webserver"),
            role_id: id(ROLE_ID),
            role_name: name("S3Access"),
        }),
        DomainEvent::InstanceProfileTagged(tagged(INSTANCE_PROFILE_ID, "Webserver")),
        DomainEvent::InstanceProfileUntagged(untagged(INSTANCE_PROFILE_ID, "Webserver")),
        DomainEvent::AccessKeyCreated(AccessKeyCreated {
            access_key_id: id(ACCESS_KEY_ID),
            owner: AccessKeyOwner::User { user_id: id(USER_ID) },
            user_name: Some(name(user)),
            // Not a real sealed secret: only its shape matters here.
            secret_ciphertext: "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            status: AccessKeyStatus::Active,
            create_date: when(),
        }),
        DomainEvent::AccessKeyStatusUpdated(AccessKeyStatusUpdated {
            access_key_id: id(ACCESS_KEY_ID),
            owner: AccessKeyOwner::Root,
            status: AccessKeyStatus::Inactive,
        }),
        DomainEvent::AccessKeyDeleted(AccessKeyDeleted {
            access_key_id: id(ACCESS_KEY_ID),
            owner: AccessKeyOwner::User { user_id: id(USER_ID) },
        }),
        DomainEvent::AccessKeyUsed(AccessKeyUsed {
            access_key_id: id(ACCESS_KEY_ID),
            last_used_date: when(),
            service_name: "iam".to_owned(),
            region: "us-east-1".to_owned(),
        }),
        DomainEvent::LoginProfileCreated(LoginProfileCreated {
            user_id: id(USER_ID),
            user_name: name(user),
            password_ciphertext: SEALED_HASH.to_owned(),
            password_reset_required: true,
            create_date: when(),
        }),
        DomainEvent::LoginProfileUpdated(LoginProfileUpdated {
            user_id: id(USER_ID),
            user_name: name(user),
            password_ciphertext: Some(SEALED_HASH.to_owned()),
            password_reset_required: Some(false),
            update_date: when(),
        }),
        DomainEvent::LoginProfileDeleted(entity(USER_ID, user)),
        DomainEvent::LoginProfileUsed(LoginProfileUsed {
            user_id: id(USER_ID),
            user_name: name(user),
            date: when(),
        }),
        DomainEvent::PasswordPolicyUpdated(PasswordPolicy {
            minimum_password_length: 14,
            require_symbols: true,
            require_numbers: true,
            require_uppercase_characters: true,
            require_lowercase_characters: true,
            allow_users_to_change_password: true,
            max_password_age: 90,
            password_reuse_prevention: 24,
            hard_expiry: false,
        }),
        DomainEvent::PasswordPolicyDeleted(PasswordPolicyDeleted {}),
        DomainEvent::MfaDeviceCreated(MfaDeviceCreated {
            serial_number: arn(MFA_SERIAL),
            name: EntityName::parse(NameKind::MfaDevice, "alice-phone").unwrap(),
            path: path("/ops/"),
            seed_ciphertext: SEALED_SEED.to_owned(),
            create_date: when(),
            tags: tags(),
        }),
        DomainEvent::MfaDeviceEnabled(mfa_assignment(59_000_001)),
        DomainEvent::MfaDeviceDeactivated(mfa_assignment(0)),
        DomainEvent::MfaDeviceResynced(mfa_step(59_000_020, -3)),
        DomainEvent::MfaCodeUsed(mfa_step(59_000_021, -3)),
        DomainEvent::MfaDeviceDeleted(MfaDeviceDeleted {
            serial_number: arn(MFA_SERIAL),
        }),
        DomainEvent::MfaDeviceTagged(MfaDeviceTagged {
            serial_number: arn(MFA_SERIAL),
            tags: tags(),
        }),
        DomainEvent::MfaDeviceUntagged(MfaDeviceUntagged {
            serial_number: arn(MFA_SERIAL),
            tag_keys: vec!["team".to_owned()],
        }),
        DomainEvent::OidcProviderCreated(OidcProviderCreated {
            arn: OIDC_ARN.to_owned(),
            url: "https://token.actions.githubusercontent.com".to_owned(),
            client_ids: vec!["sts.amazonaws.com".to_owned()],
            thumbprints: vec!["6938fd4d98bab03faadb97b34396831e3780aea1".to_owned()],
            jwks: Some(
                r#"{"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":"sXch","e":"AQAB"}]}"#.to_owned(),
            ),
            create_date: when(),
            tags: tags(),
        }),
        DomainEvent::OidcProviderUpdated(OidcProviderUpdated {
            arn: OIDC_ARN.to_owned(),
            client_ids: vec!["sts.amazonaws.com".to_owned(), "gatehouse".to_owned()],
            thumbprints: vec![],
        }),
        DomainEvent::OidcProviderDeleted(OidcProviderDeleted {
            arn: OIDC_ARN.to_owned(),
        }),
        DomainEvent::OidcProviderTagged(OidcProviderTagged {
            arn: OIDC_ARN.to_owned(),
            tags: tags(),
        }),
        DomainEvent::OidcProviderUntagged(OidcProviderUntagged {
            arn: OIDC_ARN.to_owned(),
            tag_keys: vec!["team".to_owned()],
        }),
    ];
    events.extend(organization_samples());
    events
}

// An organization's stream: organization `o-a1b2c3d4e5` with root `r-ab12`, managed by
// 111111111111, with member 222222222222 in OU `ou-ab12-cd34ef56`.
const ORG_ID: &str = "o-a1b2c3d4e5";
const ORG_ROOT: &str = "r-ab12";
const ORG_MANAGEMENT: &str = "111111111111";
const ORG_MEMBER: &str = "222222222222";
const ORG_OU: &str = "ou-ab12-cd34ef56";
const ORG_POLICY: &str = "p-a1b2c3d4";
const ORG_HANDSHAKE: &str = "h-a1b2c3d4e5";
const SCP_DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#;

/// `arn:aws:organizations::111111111111:<kind>/o-a1b2c3d4e5/<rest>`.
fn org_arn(kind: &str, rest: &str) -> String {
    format!("arn:aws:organizations::{ORG_MANAGEMENT}:{kind}/{ORG_ID}/{rest}")
}

fn org_member(id: &str, name: &str, parent_id: &str, joined_method: JoinedMethod) -> MemberAccount {
    MemberAccount {
        id: id.to_owned(),
        arn: org_arn("account", id),
        name: name.to_owned(),
        email: format!("aws+{name}@example.com"),
        parent_id: parent_id.to_owned(),
        status: MemberStatus::Active,
        joined_method,
        joined: when(),
    }
}

fn org_unit(name: &str) -> UnitChanged {
    UnitChanged {
        unit: OrganizationalUnit {
            id: ORG_OU.to_owned(),
            arn: org_arn("ou", ORG_OU),
            name: name.to_owned(),
            parent_id: ORG_ROOT.to_owned(),
        },
    }
}

fn org_policy(revision: u32) -> OrgPolicyChanged {
    OrgPolicyChanged {
        policy: OrgPolicy {
            id: ORG_POLICY.to_owned(),
            arn: org_arn("policy", &format!("service_control_policy/{ORG_POLICY}")),
            name: "DenyBucketDeletion".to_owned(),
            description: "Keeps S3 buckets from being deleted".to_owned(),
            policy_type: OrgPolicyType::ServiceControlPolicy,
            content: SCP_DOCUMENT.to_owned(),
            aws_managed: false,
            revision,
        },
    }
}

fn org_attachment() -> OrgPolicyAttachment {
    OrgPolicyAttachment {
        policy_id: ORG_POLICY.to_owned(),
        target_id: ORG_OU.to_owned(),
    }
}

fn org_policy_type() -> PolicyTypeChanged {
    PolicyTypeChanged {
        root_id: ORG_ROOT.to_owned(),
        policy_type: OrgPolicyType::ServiceControlPolicy,
    }
}

fn org_delegate() -> DelegatedAdministratorChanged {
    DelegatedAdministratorChanged {
        account_id: ORG_MEMBER.to_owned(),
        service_principal: "gatehouse.amazonaws.com".to_owned(),
        at: when(),
    }
}

fn organization_samples() -> Vec<DomainEvent> {
    let handshake_closed = || HandshakeClosed {
        handshake_id: ORG_HANDSHAKE.to_owned(),
    };
    vec![
        DomainEvent::OrganizationCreated(OrganizationCreated {
            organization: OrganizationInfo {
                id: ORG_ID.to_owned(),
                arn: format!("arn:aws:organizations::{ORG_MANAGEMENT}:organization/{ORG_ID}"),
                management_account_id: ORG_MANAGEMENT.to_owned(),
                management_account_email: "aws+management@example.com".to_owned(),
                feature_set: "ALL".to_owned(),
                created: when(),
            },
            root_id: ORG_ROOT.to_owned(),
            root_arn: org_arn("root", ORG_ROOT),
            management_account: org_member(ORG_MANAGEMENT, "management", ORG_ROOT, JoinedMethod::Created),
        }),
        DomainEvent::OrganizationDeleted(OrganizationDeleted { deleted: when() }),
        DomainEvent::OrganizationalUnitCreated(org_unit("engineering")),
        DomainEvent::OrganizationalUnitRenamed(org_unit("platform")),
        DomainEvent::OrganizationalUnitDeleted(UnitDeleted { id: ORG_OU.to_owned() }),
        DomainEvent::OrganizationAccountJoined(AccountJoined {
            account: org_member(ORG_MEMBER, "production", ORG_ROOT, JoinedMethod::Invited),
            handshake_id: Some(ORG_HANDSHAKE.to_owned()),
            create_request: None,
        }),
        DomainEvent::OrganizationAccountCreationStarted(AccountCreationStarted {
            request: CreateAccountRequest {
                id: "car-0192b2c3d4e5f60718293a4b5c6d7e8f".to_owned(),
                requested: when(),
            },
            account_id: ORG_MEMBER.to_owned(),
            account_name: "production".to_owned(),
            email: "aws+production@example.com".to_owned(),
            parent_id: Some(ORG_OU.to_owned()),
            role_name: "OrganizationAccountAccessRole".to_owned(),
        }),
        DomainEvent::OrganizationAccountCreationFailed(AccountCreationFailed {
            request_id: "car-0192b2c3d4e5f60718293a4b5c6d7e8f".to_owned(),
            reason: "INTERNAL_FAILURE".to_owned(),
            at: when(),
        }),
        DomainEvent::OrganizationAccountMoved(AccountMoved {
            account_id: ORG_MEMBER.to_owned(),
            source_parent_id: ORG_ROOT.to_owned(),
            destination_parent_id: ORG_OU.to_owned(),
        }),
        DomainEvent::OrganizationAccountRemoved(AccountRemoved {
            account_id: ORG_MEMBER.to_owned(),
            left: true,
        }),
        DomainEvent::OrganizationAccountClosed(AccountClosed {
            account_id: ORG_MEMBER.to_owned(),
            closed: when(),
        }),
        DomainEvent::OrganizationPolicyCreated(org_policy(1)),
        DomainEvent::OrganizationPolicyUpdated(org_policy(2)),
        DomainEvent::OrganizationPolicyDeleted(OrgPolicyDeleted {
            policy_id: ORG_POLICY.to_owned(),
        }),
        DomainEvent::OrganizationPolicyAttached(org_attachment()),
        DomainEvent::OrganizationPolicyDetached(org_attachment()),
        DomainEvent::OrganizationPolicyTypeEnabled(org_policy_type()),
        DomainEvent::OrganizationPolicyTypeDisabled(org_policy_type()),
        DomainEvent::OrganizationHandshakeOpened(HandshakeOpened {
            handshake: Handshake {
                id: ORG_HANDSHAKE.to_owned(),
                arn: org_arn("handshake", &format!("invite/{ORG_HANDSHAKE}")),
                target_account_id: ORG_MEMBER.to_owned(),
                notes: Some("Please join the example.com organization".to_owned()),
                state: HandshakeState::Open,
                requested: when(),
                expiration: "2024-01-30T12:00:00Z".parse().unwrap(),
            },
        }),
        DomainEvent::OrganizationHandshakeDeclined(handshake_closed()),
        DomainEvent::OrganizationHandshakeCanceled(handshake_closed()),
        DomainEvent::OrganizationDelegatedAdministratorRegistered(org_delegate()),
        DomainEvent::OrganizationDelegatedAdministratorDeregistered(org_delegate()),
    ]
}

const OIDC_ARN: &str = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";

const MFA_SERIAL: &str = "arn:aws:iam::123456789012:mfa/ops/alice-phone";
// Not real sealed values: only their shape matters here.
const SEALED_HASH: &str = "v1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
const SEALED_SEED: &str = "v1:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";

fn mfa_assignment(step: u64) -> MfaDeviceAssignment {
    MfaDeviceAssignment {
        serial_number: arn(MFA_SERIAL),
        user_id: id(USER_ID),
        user_name: name("alice"),
        date: when(),
        step,
    }
}

fn mfa_step(step: u64, drift_steps: i64) -> MfaDeviceStep {
    MfaDeviceStep {
        serial_number: arn(MFA_SERIAL),
        step,
        drift_steps,
        date: when(),
    }
}
