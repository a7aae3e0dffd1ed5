//! Table-driven cases for AWS's policy evaluation flow (explicit deny, SCPs, RCPs, boundaries, session and
//! resource-based policies, principals), after the IAM User Guide's evaluation-logic pages, in our own values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::{
    evaluate, parse_policy, Caller, Context, ContextValue, Decision, DecisionEffect, Effect, OrgLevels, Policies,
    PolicySet, PolicySlot, PolicySource, PolicyType, PrincipalKind, Request,
};

use DecisionEffect::{Allowed, ExplicitDeny, ImplicitDeny};

const ACCOUNT: &str = "111122223333";
const OTHER_ACCOUNT: &str = "444455556666";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const ROLE: &str = "arn:aws:iam::111122223333:role/Auditor";
const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/Auditor/alice-laptop";
const FEDERATED: &str = "arn:aws:sts::111122223333:federated-user/carol";
const ROOT: &str = "arn:aws:iam::111122223333:root";
const REPORT: &str = "arn:aws:s3:::reports/q3.csv";
const PAYROLL: &str = "arn:aws:s3:::payroll/march.csv";

// Statements used across cases; each is the `Statement` value of a policy of its own.
const ALLOW_ALL: &str = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;
const ALLOW_S3: &str = r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#;
const ALLOW_READ_REPORTS: &str = r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}"#;
const ALLOW_EC2: &str = r#"{"Effect":"Allow","Action":"ec2:*","Resource":"*"}"#;
const DENY_S3: &str = r#"{"Effect":"Deny","Action":"s3:*","Resource":"*"}"#;
const DENY_READ: &str = r#"{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}"#;

/// A resource policy statement granting `s3:GetObject` on the reports bucket to `principal` (a JSON value).
fn grant(principal: &str) -> String {
    format!(
        r#"{{"Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}}"#
    )
}

fn deny_to(principal: &str) -> String {
    format!(r#"{{"Effect":"Deny","Principal":{principal},"Action":"s3:GetObject","Resource":"*"}}"#)
}

#[derive(Clone)]
struct Case {
    name: &'static str,
    caller: Caller,
    action: &'static str,
    resource: &'static str,
    resource_account: Option<&'static str>,
    context: Vec<(&'static str, &'static str)>,
    /// Each entry is one policy's `Statement` value.
    identity: Vec<String>,
    boundary: Option<Vec<String>>,
    session: Option<Vec<String>>,
    /// One list of policies per organization level.
    scp_levels: Vec<Vec<String>>,
    rcp_levels: Vec<Vec<String>>,
    resource_policy: Option<String>,
    expect: DecisionEffect,
}

fn caller(arn: &str) -> Caller {
    Caller::from_arn(arn).unwrap_or_else(|| panic!("`{arn}` is not a caller ARN"))
}

fn web_identity(provider: &str) -> Caller {
    Caller {
        kind: PrincipalKind::WebIdentity,
        arn: provider.to_string(),
        account: String::new(),
        role_arn: None,
    }
}

fn owned(statements: &[&str]) -> Vec<String> {
    statements.iter().map(|s| s.to_string()).collect()
}

/// A request by `who` to read the quarterly report, with nothing attached yet.
fn case(name: &'static str, who: Caller) -> Case {
    Case {
        name,
        caller: who,
        action: "s3:GetObject",
        resource: REPORT,
        resource_account: None,
        context: Vec::new(),
        identity: Vec::new(),
        boundary: None,
        session: None,
        scp_levels: Vec::new(),
        rcp_levels: Vec::new(),
        resource_policy: None,
        expect: ImplicitDeny,
    }
}

impl Case {
    fn action(mut self, action: &'static str) -> Self {
        self.action = action;
        self
    }
    fn resource(mut self, resource: &'static str) -> Self {
        self.resource = resource;
        self
    }
    fn owned_by(mut self, account: &'static str) -> Self {
        self.resource_account = Some(account);
        self
    }
    fn context(mut self, key: &'static str, value: &'static str) -> Self {
        self.context.push((key, value));
        self
    }
    fn identity(mut self, statements: &[&str]) -> Self {
        self.identity = owned(statements);
        self
    }
    fn boundary(mut self, statements: &[&str]) -> Self {
        self.boundary = Some(owned(statements));
        self
    }
    fn session(mut self, statements: &[&str]) -> Self {
        self.session = Some(owned(statements));
        self
    }
    fn scps(mut self, levels: &[&[&str]]) -> Self {
        self.scp_levels = levels.iter().map(|level| owned(level)).collect();
        self
    }
    fn rcps(mut self, levels: &[&[&str]]) -> Self {
        self.rcp_levels = levels.iter().map(|level| owned(level)).collect();
        self
    }
    fn resource_policy(mut self, statements: &[String]) -> Self {
        self.resource_policy = Some(format!("[{}]", statements.join(",")));
        self
    }
    fn expect(mut self, effect: DecisionEffect) -> Self {
        self.expect = effect;
        self
    }

    fn run(&self) -> Result<Decision, String> {
        self.run_with(false)
    }

    /// With `split_identity`, every identity policy is compiled into a set of its own and passed
    /// in `identity_sets`, as the evaluation model shares managed policies between principals.
    fn run_with(&self, split_identity: bool) -> Result<Decision, String> {
        let compile = |label: &str, statements: &[String]| -> Result<PolicySet, String> {
            let parsed = statements
                .iter()
                .map(|s| {
                    let text = format!(r#"{{"Version":"2012-10-17","Statement":{s}}}"#);
                    parse_policy(&text).map_err(|e| format!("{label} policy refused: {e}\n  policy: {text}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            PolicySet::compile(parsed.iter().enumerate().map(|(i, p)| {
                (
                    PolicySource::new(format!("{label}-{}", i + 1), PolicyType::UserManaged),
                    p,
                )
            }))
            .map_err(|e| format!("{label} policy not compiled: {e}"))
        };
        let identity = (!self.identity.is_empty() && !split_identity)
            .then(|| compile("identity", &self.identity))
            .transpose()?;
        let identity_sets: Vec<std::sync::Arc<PolicySet>> = if split_identity {
            self.identity
                .iter()
                .enumerate()
                .map(|(i, statement)| {
                    // Named as in the merged set, so matched statements read the same.
                    let parsed = parse_policy(&format!(r#"{{"Version":"2012-10-17","Statement":{statement}}}"#))
                        .map_err(|e| e.to_string())?;
                    PolicySet::compile([(
                        PolicySource::new(format!("identity-{}", i + 1), PolicyType::UserManaged),
                        &parsed,
                    )])
                    .map(std::sync::Arc::new)
                    .map_err(|e| e.to_string())
                })
                .collect::<Result<_, String>>()?
        } else {
            Vec::new()
        };
        let boundary = self.boundary.as_deref().map(|s| compile("boundary", s)).transpose()?;
        let session = self.session.as_deref().map(|s| compile("session", s)).transpose()?;
        let scps = self
            .scp_levels
            .iter()
            .map(|level| compile("scp", level).map(std::sync::Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let rcps = self
            .rcp_levels
            .iter()
            .map(|level| compile("rcp", level).map(std::sync::Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let resource = self
            .resource_policy
            .as_ref()
            .map(|s| compile("resource", std::slice::from_ref(s)))
            .transpose()?;
        let mut context = Context::new();
        for (key, value) in &self.context {
            context.insert(key, ContextValue::single(*value));
        }
        let request = Request {
            caller: &self.caller,
            action: self.action,
            resource: self.resource,
            resource_account: self.resource_account,
            context: &context,
        };
        let policies = Policies {
            identity: identity.as_ref(),
            identity_sets: &identity_sets,
            permissions_boundary: boundary.as_ref(),
            session: session.as_ref(),
            service_control: &OrgLevels::from(&scps[..]),
            resource_control: &OrgLevels::from(&rcps[..]),
            resource: resource.as_ref(),
        };
        Ok(evaluate(&policies, &request))
    }
}

fn explicit_deny_cases() -> Vec<Case> {
    let alice = || caller(ALICE);
    let session = || caller(SESSION);
    vec![
        case("identity allow alone", alice()).identity(&[ALLOW_S3]).expect(Allowed),
        case("deny beside allow in one policy", alice())
            .identity(&[r#"[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]"#])
            .expect(ExplicitDeny),
        case("deny in another identity policy", alice()).identity(&[ALLOW_ALL, DENY_READ]).expect(ExplicitDeny),
        case("deny in the permissions boundary", alice())
            .identity(&[ALLOW_ALL])
            .boundary(&[ALLOW_ALL, DENY_S3])
            .expect(ExplicitDeny),
        case("deny in a session policy", session())
            .identity(&[ALLOW_ALL])
            .session(&[ALLOW_ALL, DENY_READ])
            .expect(ExplicitDeny),
        case("deny in an SCP", alice())
            .identity(&[ALLOW_ALL])
            .scps(&[&[ALLOW_ALL, DENY_S3]])
            .expect(ExplicitDeny),
        case("deny in an RCP", alice())
            .identity(&[ALLOW_ALL])
            .rcps(&[&[ALLOW_ALL, DENY_S3]])
            .expect(ExplicitDeny),
        case("deny in the resource policy", alice())
            .identity(&[ALLOW_ALL])
            .resource_policy(&[deny_to(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#)])
            .expect(ExplicitDeny),
        case("identity deny beats a resource-policy grant", alice())
            .identity(&[DENY_READ])
            .resource_policy(&[grant(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#)])
            .expect(ExplicitDeny),
        case("boundary deny beats a resource-policy grant", alice())
            .boundary(&[DENY_S3])
            .resource_policy(&[grant(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#)])
            .expect(ExplicitDeny),
        case("SCP deny beats a resource-policy grant", alice())
            .scps(&[&[ALLOW_ALL, DENY_READ]])
            .resource_policy(&[grant(r#""*""#)])
            .expect(ExplicitDeny),
        case("deny whose condition fails does not apply", alice())
            .identity(&[
                ALLOW_S3,
                r#"{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
            ])
            .context("aws:SecureTransport", "true")
            .expect(Allowed),
        case("deny whose condition holds applies", alice())
            .identity(&[
                ALLOW_S3,
                r#"{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
            ])
            .context("aws:SecureTransport", "false")
            .expect(ExplicitDeny),
        case("deny with a negated IfExists operator applies when the tag is missing", alice())
            .identity(&[
                ALLOW_S3,
                r#"{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalTag/team":"finance"}}}"#,
            ])
            .expect(ExplicitDeny),
        case("no policies at all", alice()).expect(ImplicitDeny),
        case("allow for another action", alice()).identity(&[ALLOW_EC2]).expect(ImplicitDeny),
        case("allow for another resource", alice())
            .identity(&[ALLOW_READ_REPORTS])
            .resource(PAYROLL)
            .expect(ImplicitDeny),
    ]
}

fn element_cases() -> Vec<Case> {
    let alice = || caller(ALICE);
    const ALL_BUT_IAM: &str = r#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#;
    const DENY_ALL_BUT_READ: &str = r#"{"Effect":"Deny","NotAction":["s3:GetObject","s3:ListBucket"],"Resource":"*"}"#;
    const ALL_BUT_PAYROLL: &str = r#"{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::payroll/*"}"#;
    const DENY_OUTSIDE_REPORTS: &str =
        r#"{"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::reports","arn:aws:s3:::reports/*"]}"#;
    vec![
        case("NotAction allow: an action outside the list", alice()).identity(&[ALL_BUT_IAM]).expect(Allowed),
        case("NotAction allow: an action in the list", alice())
            .identity(&[ALL_BUT_IAM])
            .action("iam:CreateUser")
            .resource("arn:aws:iam::111122223333:user/mallory")
            .expect(ImplicitDeny),
        case("NotAction allow: the list matches case-insensitively", alice())
            .identity(&[r#"{"Effect":"Allow","NotAction":"IAM:*","Resource":"*"}"#])
            .action("iam:createuser")
            .resource("arn:aws:iam::111122223333:user/mallory")
            .expect(ImplicitDeny),
        case("NotAction deny: the exempted action", alice())
            .identity(&[ALLOW_ALL, DENY_ALL_BUT_READ])
            .expect(Allowed),
        case("NotAction deny: any other action", alice())
            .identity(&[ALLOW_ALL, DENY_ALL_BUT_READ])
            .action("s3:PutObject")
            .expect(ExplicitDeny),
        case("NotResource allow: another bucket", alice()).identity(&[ALL_BUT_PAYROLL]).expect(Allowed),
        case("NotResource allow: the excluded bucket", alice())
            .identity(&[ALL_BUT_PAYROLL])
            .resource(PAYROLL)
            .expect(ImplicitDeny),
        case("NotResource deny: inside the kept bucket", alice())
            .identity(&[ALLOW_ALL, DENY_OUTSIDE_REPORTS])
            .expect(Allowed),
        case("NotResource deny: outside the kept bucket", alice())
            .identity(&[ALLOW_ALL, DENY_OUTSIDE_REPORTS])
            .resource(PAYROLL)
            .expect(ExplicitDeny),
        case("action names are case-insensitive: policy", alice())
            .identity(&[r#"{"Effect":"Allow","Action":"S3:getobject","Resource":"*"}"#])
            .expect(Allowed),
        case("action names are case-insensitive: request", alice())
            .identity(&[r#"{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}"#])
            .action("S3:GETOBJECT")
            .expect(Allowed),
        case("action wildcard in the middle: create", alice())
            .identity(&[r#"{"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"arn:aws:iam::111122223333:user/*"}"#])
            .action("iam:CreateAccessKey")
            .resource(ALICE)
            .expect(Allowed),
        case("action wildcard in the middle: list", alice())
            .identity(&[r#"{"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"arn:aws:iam::111122223333:user/*"}"#])
            .action("iam:ListAccessKeys")
            .resource(ALICE)
            .expect(Allowed),
        case("action wildcard in the middle: unrelated action", alice())
            .identity(&[r#"{"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"arn:aws:iam::111122223333:user/*"}"#])
            .action("iam:ListUsers")
            .resource(ALICE)
            .expect(ImplicitDeny),
        case("action `?` wildcard", alice())
            .identity(&[r#"{"Effect":"Allow","Action":"s3:?etObject","Resource":"*"}"#])
            .expect(Allowed),
        case("action prefix wildcard does not reach other verbs", alice())
            .identity(&[r#"{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}"#])
            .action("s3:PutObject")
            .expect(ImplicitDeny),
        case("service `s3:*` is not `s3express`", alice())
            .identity(&[ALLOW_S3])
            .action("s3express:CreateSession")
            .resource("*")
            .expect(ImplicitDeny),
        case("wildcard service prefix", alice())
            .identity(&[r#"{"Effect":"Allow","Action":"*:Get*","Resource":"*"}"#])
            .expect(Allowed),
        case("several actions in a list", alice())
            .identity(&[r#"{"Effect":"Allow","Action":["ec2:RunInstances","s3:GetObject"],"Resource":"*"}"#])
            .expect(Allowed),
        case("resource names are case-sensitive", alice())
            .identity(&[r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::Reports/*"}"#])
            .expect(ImplicitDeny),
        case("resource `/*` does not cover the bucket itself", alice())
            .identity(&[ALLOW_READ_REPORTS])
            .resource("arn:aws:s3:::reports")
            .expect(ImplicitDeny),
        case("resource `*` spans slashes", alice())
            .identity(&[ALLOW_READ_REPORTS])
            .resource("arn:aws:s3:::reports/2024/q3/summary.csv")
            .expect(Allowed),
        case("resource `*` spans colons", alice())
            .identity(&[r#"{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:*:111122223333:table/*"}"#])
            .action("dynamodb:GetItem")
            .resource("arn:aws:dynamodb:us-east-1:111122223333:table/Thread")
            .expect(Allowed),
        case("resource `?` is one character", alice())
            .identity(&[r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/q?.csv"}"#])
            .expect(Allowed),
        case("resource `?` is not two characters", alice())
            .identity(&[r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/q?.csv"}"#])
            .resource("arn:aws:s3:::reports/q10.csv")
            .expect(ImplicitDeny),
        case("resource list: any entry", alice())
            .identity(&[r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::payroll/*","arn:aws:s3:::reports/*"]}"#])
            .expect(Allowed),
    ]
}

fn organization_cases() -> Vec<Case> {
    let alice = || caller(ALICE);
    const ALLOW_S3_UNDER_TLS: &str =
        r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}"#;
    const RCP_TLS_ONLY: &str = r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"BoolIfExists":{"aws:SecureTransport":"false"}}}"#;
    vec![
        case("SCP: every level allows", alice())
            .identity(&[ALLOW_S3])
            .scps(&[&[ALLOW_ALL], &[ALLOW_ALL], &[ALLOW_S3]])
            .expect(Allowed),
        case("SCP: an OU allows only EC2", alice())
            .identity(&[ALLOW_S3])
            .scps(&[&[ALLOW_ALL], &[ALLOW_EC2], &[ALLOW_ALL]])
            .expect(ImplicitDeny),
        case("SCP: allow split across policies of one level", alice())
            .identity(&[ALLOW_S3])
            .scps(&[&[ALLOW_ALL], &[ALLOW_EC2, ALLOW_S3]])
            .expect(Allowed),
        case("SCP: a level without policies denies", alice())
            .identity(&[ALLOW_S3])
            .scps(&[&[ALLOW_ALL], &[]])
            .expect(ImplicitDeny),
        case("SCP: an allow does not grant by itself", alice())
            .scps(&[&[ALLOW_ALL]])
            .expect(ImplicitDeny),
        case("SCP: deny at the OU level", alice())
            .identity(&[ALLOW_S3])
            .scps(&[&[ALLOW_ALL], &[ALLOW_ALL, DENY_READ], &[ALLOW_ALL]])
            .expect(ExplicitDeny),
        case("SCP: allow with a condition that fails", alice())
            .identity(&[ALLOW_S3])
            .scps(&[&[ALLOW_S3_UNDER_TLS]])
            .context("aws:SecureTransport", "false")
            .expect(ImplicitDeny),
        case("SCP: allow with a condition that holds", alice())
            .identity(&[ALLOW_S3])
            .scps(&[&[ALLOW_S3_UNDER_TLS]])
            .context("aws:SecureTransport", "true")
            .expect(Allowed),
        case("SCP: limits a resource-policy grant too", alice())
            .scps(&[&[ALLOW_EC2]])
            .resource_policy(&[grant(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#)])
            .expect(ImplicitDeny),
        case("RCP: full access at every level", alice())
            .identity(&[ALLOW_S3])
            .rcps(&[&[ALLOW_ALL], &[ALLOW_ALL]])
            .expect(Allowed),
        case("RCP: deny without TLS", alice())
            .identity(&[ALLOW_S3])
            .rcps(&[&[ALLOW_ALL, RCP_TLS_ONLY]])
            .context("aws:SecureTransport", "false")
            .expect(ExplicitDeny),
        case("RCP: TLS request passes the deny", alice())
            .identity(&[ALLOW_S3])
            .rcps(&[&[ALLOW_ALL, RCP_TLS_ONLY]])
            .context("aws:SecureTransport", "true")
            .expect(Allowed),
        case("RCP: a level without policies denies", alice())
            .identity(&[ALLOW_S3])
            .rcps(&[&[ALLOW_ALL], &[]])
            .expect(ImplicitDeny),
        case("RCP: a level that allows only EC2", alice())
            .identity(&[ALLOW_S3])
            .rcps(&[&[ALLOW_ALL], &[ALLOW_EC2]])
            .expect(ImplicitDeny),
        case("RCP: limits a resource-policy grant too", alice())
            .rcps(&[&[ALLOW_EC2]])
            .resource_policy(&[grant(r#""*""#)])
            .expect(ImplicitDeny),
    ]
}

fn boundary_session_cases() -> Vec<Case> {
    let alice = || caller(ALICE);
    let session = || caller(SESSION);
    vec![
        case("boundary: both allow", alice())
            .identity(&[ALLOW_S3])
            .boundary(&[ALLOW_READ_REPORTS])
            .expect(Allowed),
        case("boundary: identity allows beyond the boundary", alice())
            .identity(&[ALLOW_S3])
            .boundary(&[ALLOW_READ_REPORTS])
            .action("s3:PutObject")
            .expect(ImplicitDeny),
        case("boundary: the boundary does not grant", alice())
            .identity(&[ALLOW_EC2])
            .boundary(&[ALLOW_ALL])
            .expect(ImplicitDeny),
        case("boundary: on a role session", session())
            .identity(&[ALLOW_S3])
            .boundary(&[ALLOW_EC2])
            .expect(ImplicitDeny),
        case("session policy: both allow", session())
            .identity(&[ALLOW_S3])
            .session(&[ALLOW_READ_REPORTS])
            .expect(Allowed),
        case("session policy: identity allows beyond the session policy", session())
            .identity(&[ALLOW_S3])
            .session(&[ALLOW_READ_REPORTS])
            .action("s3:PutObject")
            .expect(ImplicitDeny),
        case("session policy: the session policy does not grant", session())
            .identity(&[ALLOW_EC2])
            .session(&[ALLOW_ALL])
            .expect(ImplicitDeny),
        case("session policy: absent, the role's policies govern", session())
            .identity(&[ALLOW_S3])
            .expect(Allowed),
        case("boundary, session policy and identity all allow", session())
            .identity(&[ALLOW_S3])
            .boundary(&[ALLOW_S3])
            .session(&[ALLOW_READ_REPORTS])
            .expect(Allowed),
    ]
}

fn same_account_resource_cases() -> Vec<Case> {
    let alice = || caller(ALICE);
    let session = || caller(SESSION);
    let to_alice = || grant(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#);
    let to_role = || grant(r#"{"AWS":"arn:aws:iam::111122223333:role/Auditor"}"#);
    let to_session = || grant(r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/Auditor/alice-laptop"}"#);
    vec![
        case("same account: user named, no identity policy", alice())
            .resource_policy(&[to_alice()])
            .expect(Allowed),
        case("same account: user named, boundary without allow", alice())
            .boundary(&[ALLOW_EC2])
            .resource_policy(&[to_alice()])
            .expect(Allowed),
        case("same account: user named, condition fails", alice())
            .resource_policy(&[r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}"#.to_string()])
            .context("aws:SourceIp", "198.51.100.4")
            .expect(ImplicitDeny),
        case("same account: both identity and resource policy allow", alice())
            .identity(&[ALLOW_READ_REPORTS])
            .resource_policy(&[to_alice()])
            .expect(Allowed),
        case("same account: another user named, identity allows", alice())
            .identity(&[ALLOW_READ_REPORTS])
            .resource_policy(&[grant(r#"{"AWS":"arn:aws:iam::111122223333:user/bob"}"#)])
            .expect(Allowed),
        case("same account: another user named, no identity policy", alice())
            .resource_policy(&[grant(r#"{"AWS":"arn:aws:iam::111122223333:user/bob"}"#)])
            .expect(ImplicitDeny),
        case("same account: role named, session without identity policy", session())
            .resource_policy(&[to_role()])
            .expect(Allowed),
        case("same account: role named, boundary without allow", session())
            .boundary(&[ALLOW_EC2])
            .resource_policy(&[to_role()])
            .expect(ImplicitDeny),
        case("same account: role named, session policy without allow", session())
            .session(&[ALLOW_EC2])
            .resource_policy(&[to_role()])
            .expect(ImplicitDeny),
        case("same account: role named, identity allows but boundary does not", session())
            .identity(&[ALLOW_S3])
            .boundary(&[ALLOW_EC2])
            .resource_policy(&[to_role()])
            .expect(ImplicitDeny),
        case("same account: session named, boundary without allow", session())
            .boundary(&[ALLOW_EC2])
            .resource_policy(&[to_session()])
            .expect(Allowed),
        case("same account: session named, session policy without allow", session())
            .session(&[ALLOW_EC2])
            .resource_policy(&[to_session()])
            .expect(Allowed),
        case("same account: another session of the role named", session())
            .resource_policy(&[grant(r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/Auditor/bob-laptop"}"#)])
            .expect(ImplicitDeny),
        case("same account: federated user named", caller(FEDERATED))
            .resource_policy(&[grant(r#"{"AWS":"arn:aws:sts::111122223333:federated-user/carol"}"#)])
            .expect(Allowed),
        case("same account: Principal `*`", alice()).resource_policy(&[grant(r#""*""#)]).expect(Allowed),
        case("same account: Principal AWS `*`", alice())
            .resource_policy(&[grant(r#"{"AWS":"*"}"#)])
            .expect(Allowed),
        case("same account: account root named delegates, no identity policy", alice())
            .resource_policy(&[grant(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#)])
            .expect(ImplicitDeny),
        case("same account: account root named delegates, identity allows", alice())
            .identity(&[ALLOW_READ_REPORTS])
            .resource_policy(&[grant(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#)])
            .expect(Allowed),
        case("same account: account id named delegates, no identity policy", alice())
            .resource_policy(&[grant(r#"{"AWS":"111122223333"}"#)])
            .expect(ImplicitDeny),
        case("same account: resource policy grants another action", alice())
            .resource_policy(&[r#"{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"*"}"#.to_string()])
            .expect(ImplicitDeny),
    ]
}

fn cross_account_cases() -> Vec<Case> {
    let alice = || caller(ALICE);
    let to_alice = || grant(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#);
    vec![
        case("cross account: both sides allow", alice())
            .owned_by(OTHER_ACCOUNT)
            .identity(&[ALLOW_READ_REPORTS])
            .resource_policy(&[to_alice()])
            .expect(Allowed),
        case("cross account: only the resource policy allows", alice())
            .owned_by(OTHER_ACCOUNT)
            .resource_policy(&[to_alice()])
            .expect(ImplicitDeny),
        case("cross account: only the identity policy allows", alice())
            .owned_by(OTHER_ACCOUNT)
            .identity(&[ALLOW_READ_REPORTS])
            .expect(ImplicitDeny),
        case(
            "cross account: resource policy names the caller's account root",
            alice(),
        )
        .owned_by(OTHER_ACCOUNT)
        .identity(&[ALLOW_READ_REPORTS])
        .resource_policy(&[grant(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#)])
        .expect(Allowed),
        case("cross account: resource policy names the caller's account id", alice())
            .owned_by(OTHER_ACCOUNT)
            .identity(&[ALLOW_READ_REPORTS])
            .resource_policy(&[grant(r#"{"AWS":"111122223333"}"#)])
            .expect(Allowed),
        case("cross account: account named, identity silent", alice())
            .owned_by(OTHER_ACCOUNT)
            .resource_policy(&[grant(r#"{"AWS":"111122223333"}"#)])
            .expect(ImplicitDeny),
        case("cross account: resource policy names a third account", alice())
            .owned_by(OTHER_ACCOUNT)
            .identity(&[ALLOW_READ_REPORTS])
            .resource_policy(&[grant(r#"{"AWS":"777788889999"}"#)])
            .expect(ImplicitDeny),
        case("cross account: resource policy denies", alice())
            .owned_by(OTHER_ACCOUNT)
            .identity(&[ALLOW_ALL])
            .resource_policy(&[grant(r#""*""#), deny_to(r#"{"AWS":"111122223333"}"#)])
            .expect(ExplicitDeny),
        case("cross account: the caller's boundary does not allow", alice())
            .owned_by(OTHER_ACCOUNT)
            .identity(&[ALLOW_READ_REPORTS])
            .boundary(&[ALLOW_EC2])
            .resource_policy(&[to_alice()])
            .expect(ImplicitDeny),
        case("cross account: the caller's SCP does not allow", alice())
            .owned_by(OTHER_ACCOUNT)
            .identity(&[ALLOW_READ_REPORTS])
            .scps(&[&[ALLOW_EC2]])
            .resource_policy(&[to_alice()])
            .expect(ImplicitDeny),
        case("cross account: Principal `*` and identity allow", alice())
            .owned_by(OTHER_ACCOUNT)
            .identity(&[ALLOW_READ_REPORTS])
            .resource_policy(&[grant(r#""*""#)])
            .expect(Allowed),
        case("cross account: role session named through its role", caller(SESSION))
            .owned_by(OTHER_ACCOUNT)
            .identity(&[ALLOW_S3])
            .resource_policy(&[grant(r#"{"AWS":"arn:aws:iam::111122223333:role/Auditor"}"#)])
            .expect(Allowed),
        case(
            "cross account: owner given and equal to the caller's is same-account",
            alice(),
        )
        .owned_by(ACCOUNT)
        .resource_policy(&[to_alice()])
        .expect(Allowed),
    ]
}

fn principal_cases() -> Vec<Case> {
    let alice = || caller(ALICE);
    const QUEUE: &str = "arn:aws:sqs:us-east-2:111122223333:orders";
    let to_queue = |principal: &str| {
        format!(r#"{{"Effect":"Allow","Principal":{principal},"Action":"sqs:SendMessage","Resource":"{QUEUE}"}}"#)
    };
    const TRUST_COGNITO: &str = r#"{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}"#;
    let not_alice = r#"{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:GetObject","Resource":"*"}"#;
    // The IAM User Guide's NotPrincipal examples, on a bucket of 111122223333: everyone but Bob of
    // 444455556666 is denied, and the account is listed beside Bob so that it is not itself denied.
    let not_bob = |principals: &str| {
        format!(
            r#"{{"Effect":"Deny","NotPrincipal":{{"AWS":{principals}}},"Action":"s3:*","Resource":["arn:aws:s3:::reports","arn:aws:s3:::reports/*"]}}"#
        )
    };
    let not_bob_and_account = not_bob(r#"["arn:aws:iam::444455556666:user/Bob","arn:aws:iam::444455556666:root"]"#);
    let not_bob_and_account_id = not_bob(r#"["arn:aws:iam::444455556666:user/Bob","444455556666"]"#);
    // Everyone but the session cross-account-audit-app, with its role and the role's account listed.
    let not_audit_app = not_bob(
        r#"["arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app","arn:aws:iam::444455556666:role/cross-account-read-only-role","arn:aws:iam::444455556666:root"]"#,
    );
    let not_role =
        not_bob(r#"["arn:aws:iam::444455556666:role/cross-account-read-only-role","arn:aws:iam::444455556666:root"]"#);
    const BOB_444: &str = "arn:aws:iam::444455556666:user/Bob";
    const ALICE_444: &str = "arn:aws:iam::444455556666:user/Alice";
    const ROOT_444: &str = "arn:aws:iam::444455556666:root";
    const AUDIT_APP: &str =
        "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app";
    const OTHER_SESSION: &str = "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/someone-else";
    let to_444 = || grant(r#"{"AWS":"arn:aws:iam::444455556666:root"}"#);
    vec![
        case(
            "Service principal: the service named",
            Caller::service("sns.amazonaws.com"),
        )
        .action("sqs:SendMessage")
        .resource(QUEUE)
        .resource_policy(&[to_queue(r#"{"Service":"sns.amazonaws.com"}"#)])
        .expect(Allowed),
        case(
            "Service principal: one of a list",
            Caller::service("events.amazonaws.com"),
        )
        .action("sqs:SendMessage")
        .resource(QUEUE)
        .resource_policy(&[to_queue(r#"{"Service":["sns.amazonaws.com","events.amazonaws.com"]}"#)])
        .expect(Allowed),
        case(
            "Service principal: another service",
            Caller::service("lambda.amazonaws.com"),
        )
        .action("sqs:SendMessage")
        .resource(QUEUE)
        .resource_policy(&[to_queue(r#"{"Service":"sns.amazonaws.com"}"#)])
        .expect(ImplicitDeny),
        case("Service principal: a user is not the service", alice())
            .action("sqs:SendMessage")
            .resource(QUEUE)
            .resource_policy(&[to_queue(r#"{"Service":"sns.amazonaws.com"}"#)])
            .expect(ImplicitDeny),
        case(
            "Federated principal: the provider named",
            web_identity("cognito-identity.amazonaws.com"),
        )
        .action("sts:AssumeRoleWithWebIdentity")
        .resource(ROLE)
        .resource_policy(&[TRUST_COGNITO.to_string()])
        .expect(Allowed),
        case(
            "Federated principal: another provider",
            web_identity("accounts.google.com"),
        )
        .action("sts:AssumeRoleWithWebIdentity")
        .resource(ROLE)
        .resource_policy(&[TRUST_COGNITO.to_string()])
        .expect(ImplicitDeny),
        case("Federated principal: a user is not the provider", alice())
            .action("sts:AssumeRoleWithWebIdentity")
            .resource(ROLE)
            .resource_policy(&[TRUST_COGNITO.to_string()])
            .expect(ImplicitDeny),
        case("anonymous: Principal `*`", Caller::anonymous())
            .resource_policy(&[grant(r#""*""#)])
            .expect(Allowed),
        case("anonymous: Principal AWS `*` is the same as `*`", Caller::anonymous())
            .resource_policy(&[grant(r#"{"AWS":"*"}"#)])
            .expect(Allowed),
        case("anonymous: an account principal", Caller::anonymous())
            .resource_policy(&[grant(r#"{"AWS":"111122223333"}"#)])
            .expect(ImplicitDeny),
        case("NotPrincipal deny: the exempted user", alice())
            .resource_policy(&[grant(r#""*""#), not_alice.to_string()])
            .expect(Allowed),
        case("NotPrincipal deny: anyone else", caller(BOB))
            .resource_policy(&[grant(r#""*""#), not_alice.to_string()])
            .expect(ExplicitDeny),
        case(
            "NotPrincipal deny, user and account listed: the user is not denied",
            caller(BOB_444),
        )
        .owned_by(ACCOUNT)
        .identity(&[ALLOW_S3])
        .resource_policy(&[to_444(), not_bob_and_account.clone()])
        .expect(Allowed),
        case(
            "NotPrincipal deny, user and account listed: another user of the account is denied",
            caller(ALICE_444),
        )
        .owned_by(ACCOUNT)
        .identity(&[ALLOW_S3])
        .resource_policy(&[to_444(), not_bob_and_account.clone()])
        .expect(ExplicitDeny),
        case(
            "NotPrincipal deny, user and account id listed: another user of the account is denied",
            caller(ALICE_444),
        )
        .owned_by(ACCOUNT)
        .identity(&[ALLOW_S3])
        .resource_policy(&[to_444(), not_bob_and_account_id])
        .expect(ExplicitDeny),
        case(
            "NotPrincipal deny, user and account listed: the account's root user is not denied",
            caller(ROOT_444),
        )
        .owned_by(ACCOUNT)
        .identity(&[ALLOW_S3])
        .resource_policy(&[to_444(), not_bob_and_account.clone()])
        .expect(Allowed),
        case(
            "NotPrincipal deny, user and account listed: a user of the bucket's own account is denied",
            alice(),
        )
        .identity(&[ALLOW_S3])
        .resource_policy(&[grant(r#""*""#), not_bob_and_account])
        .expect(ExplicitDeny),
        case(
            "NotPrincipal deny, session, role and account listed: the session is not denied",
            caller(AUDIT_APP),
        )
        .owned_by(ACCOUNT)
        .identity(&[ALLOW_S3])
        .resource_policy(&[to_444(), not_audit_app.clone()])
        .expect(Allowed),
        case(
            "NotPrincipal deny, session, role and account listed: another session of the role is denied",
            caller(OTHER_SESSION),
        )
        .owned_by(ACCOUNT)
        .identity(&[ALLOW_S3])
        .resource_policy(&[to_444(), not_audit_app.clone()])
        .expect(ExplicitDeny),
        case(
            "NotPrincipal deny, session, role and account listed: a user of the account is denied",
            caller(BOB_444),
        )
        .owned_by(ACCOUNT)
        .identity(&[ALLOW_S3])
        .resource_policy(&[to_444(), not_audit_app])
        .expect(ExplicitDeny),
        case(
            "NotPrincipal deny, role and account listed: the role's sessions are denied",
            caller(AUDIT_APP),
        )
        .owned_by(ACCOUNT)
        .identity(&[ALLOW_S3])
        .resource_policy(&[to_444(), not_role])
        .expect(ExplicitDeny),
        case(
            "NotPrincipal deny: the account id alone exempts only its root user",
            caller(ALICE_444),
        )
        .owned_by(ACCOUNT)
        .identity(&[ALLOW_S3])
        .resource_policy(&[to_444(), not_bob(r#""444455556666""#)])
        .expect(ExplicitDeny),
        case(
            "NotPrincipal deny: the account root ARN alone exempts the root user",
            caller(ROOT_444),
        )
        .owned_by(ACCOUNT)
        .identity(&[ALLOW_S3])
        .resource_policy(&[to_444(), not_bob(r#""arn:aws:iam::444455556666:root""#)])
        .expect(Allowed),
        case(
            "Principal account root still grants to the account's users",
            caller(ALICE_444),
        )
        .owned_by(ACCOUNT)
        .identity(&[ALLOW_S3])
        .resource_policy(&[to_444()])
        .expect(Allowed),
        case("principal ARNs are case-sensitive", alice())
            .resource_policy(&[grant(r#"{"AWS":"arn:aws:iam::111122223333:user/Alice"}"#)])
            .expect(ImplicitDeny),
        case(
            "a user ARN does not name a role session",
            caller("arn:aws:sts::111122223333:assumed-role/alice/alice"),
        )
        .resource_policy(&[grant(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#)])
        .expect(ImplicitDeny),
        case("principal list: any entry", alice())
            .resource_policy(&[grant(
                r#"{"AWS":["arn:aws:iam::111122223333:user/bob","arn:aws:iam::111122223333:user/alice"]}"#,
            )])
            .expect(Allowed),
        case("principal types: none names the caller", alice())
            .resource_policy(&[grant(
                r#"{"AWS":"arn:aws:iam::111122223333:user/bob","Service":"sns.amazonaws.com"}"#,
            )])
            .expect(ImplicitDeny),
        case("root user: named by the root ARN", caller(ROOT))
            .resource_policy(&[grant(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#)])
            .expect(Allowed),
    ]
}

fn all_cases() -> Vec<Case> {
    let mut cases = explicit_deny_cases();
    cases.extend(element_cases());
    cases.extend(organization_cases());
    cases.extend(boundary_session_cases());
    cases.extend(same_account_resource_cases());
    cases.extend(cross_account_cases());
    cases.extend(principal_cases());
    cases
}

#[test]
fn evaluation_cases() {
    let cases = all_cases();
    let mut names = std::collections::HashSet::new();
    for case in &cases {
        assert!(names.insert(case.name), "duplicate case name `{}`", case.name);
    }
    let mut failures = Vec::new();
    for case in &cases {
        match case.run() {
            Ok(decision) => {
                if decision.effect != case.expect {
                    failures.push(format!(
                        "{}: expected {:?}, got {:?}",
                        case.name, case.expect, decision.effect
                    ));
                }
                // Whatever the effect, the decision names statements of that effect only, and none for an implicit deny.
                let consistent = match decision.effect {
                    Allowed => {
                        !decision.matched.is_empty() && decision.matched.iter().all(|m| m.effect == Effect::Allow)
                    }
                    ExplicitDeny => {
                        !decision.matched.is_empty() && decision.matched.iter().all(|m| m.effect == Effect::Deny)
                    }
                    ImplicitDeny => decision.matched.is_empty(),
                };
                if !consistent {
                    failures.push(format!(
                        "{}: matched statements {:?} do not fit {:?}",
                        case.name, decision.matched, decision.effect
                    ));
                }
            }
            Err(why) => failures.push(format!("{}: {why}", case.name)),
        }
        // Identity policies in sets of their own decide exactly as one merged set.
        match (case.run(), case.run_with(true)) {
            (Ok(merged), Ok(split)) if merged.effect == split.effect && merged.matched == split.matched => {}
            (merged, split) => failures.push(format!(
                "{}: split identity sets decide differently: merged {:?}, split {:?}",
                case.name,
                merged.map(|d| d.effect),
                split.map(|d| d.effect)
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} evaluation cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---- matched statements -------------------------------------------------------------------------

/// Two statements, pretty-printed; the second (`ReadReports`) starts at line 10, column 5 and its closing
/// brace is at line 15, column 5.
const PRETTY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "ListReports",
      "Effect": "Allow",
      "Action": "s3:ListBucket",
      "Resource": "arn:aws:s3:::reports"
    },
    {
      "Sid": "ReadReports",
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:GetObjectVersion"],
      "Resource": "arn:aws:s3:::reports/*"
    }
  ]
}"#;

fn set_of(policies: &[(&str, PolicyType, &str)]) -> PolicySet {
    let parsed: Vec<_> = policies
        .iter()
        .map(|(_, _, text)| parse_policy(text).unwrap())
        .collect();
    PolicySet::compile(
        policies
            .iter()
            .zip(&parsed)
            .map(|((id, kind, _), parsed)| (PolicySource::new(*id, *kind), parsed)),
    )
    .unwrap()
}

fn decide(policies: &Policies<'_>, who: &Caller, action: &str, resource: &str, owner: Option<&str>) -> Decision {
    let context = Context::new();
    evaluate(
        policies,
        &Request {
            caller: who,
            action,
            resource,
            resource_account: owner,
            context: &context,
        },
    )
}

#[test]
fn an_allow_names_the_statement_that_grants_it() {
    let identity = set_of(&[(
        "arn:aws:iam::111122223333:policy/reports-read",
        PolicyType::UserManaged,
        PRETTY,
    )]);
    let policies = Policies {
        identity: Some(&identity),
        ..Policies::default()
    };
    let decision = decide(&policies, &caller(ALICE), "s3:GetObject", REPORT, None);
    assert_eq!(decision.effect, Allowed);
    assert_eq!(decision.matched.len(), 1, "{:?}", decision.matched);
    let matched = &decision.matched[0];
    assert_eq!(&*matched.source.id, "arn:aws:iam::111122223333:policy/reports-read");
    assert_eq!(matched.source.policy_type, PolicyType::UserManaged);
    assert_eq!(matched.slot, PolicySlot::Identity);
    assert_eq!(matched.statement_index, 1);
    assert_eq!(matched.sid.as_deref(), Some("ReadReports"));
    assert_eq!(matched.effect, Effect::Allow);
    assert_eq!((matched.span.start.line, matched.span.start.column), (10, 5));
    assert_eq!((matched.span.end.line, matched.span.end.column), (15, 6));
    assert_eq!(
        &PRETTY[matched.span.start.offset as usize..matched.span.end.offset as usize]
            .chars()
            .next(),
        &Some('{')
    );
    assert!(PRETTY[..matched.span.end.offset as usize].ends_with('}'));

    let listing = decide(&policies, &caller(ALICE), "s3:ListBucket", "arn:aws:s3:::reports", None);
    assert_eq!(listing.matched.len(), 1);
    assert_eq!(listing.matched[0].statement_index, 0);
    assert_eq!(listing.matched[0].sid.as_deref(), Some("ListReports"));
    assert_eq!(
        (listing.matched[0].span.start.line, listing.matched[0].span.start.column),
        (4, 5)
    );
}

#[test]
fn a_deny_names_every_deny_statement_and_only_those() {
    let identity = set_of(&[
        (
            "allow-all",
            PolicyType::AwsManaged,
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Everything","Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ),
        (
            "guardrails",
            PolicyType::Group,
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoPayroll","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::payroll/*"},{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}"#,
        ),
    ]);
    let boundary = set_of(&[(
        "boundary",
        PolicyType::UserManaged,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"BoundaryDeny","Effect":"Deny","Action":"s3:Get*","Resource":"*"}]}"#,
    )]);
    let policies = Policies {
        identity: Some(&identity),
        permissions_boundary: Some(&boundary),
        ..Policies::default()
    };
    let decision = decide(&policies, &caller(ALICE), "s3:GetObject", PAYROLL, None);
    assert_eq!(decision.effect, ExplicitDeny);
    let named: Vec<(&str, PolicySlot, usize, Option<&str>)> = decision
        .matched
        .iter()
        .map(|m| (&*m.source.id, m.slot, m.statement_index, m.sid.as_deref()))
        .collect();
    assert_eq!(
        named,
        vec![
            ("guardrails", PolicySlot::Identity, 0, Some("NoPayroll")),
            ("guardrails", PolicySlot::Identity, 1, None),
            ("boundary", PolicySlot::PermissionsBoundary, 1, Some("BoundaryDeny")),
        ]
    );
    assert!(decision.matched.iter().all(|m| m.effect == Effect::Deny));
    assert_eq!(decision.matched[0].source.policy_type, PolicyType::Group);
    // `{"Version":"2012-10-17","Statement":[` is 37 characters: the first statement starts at column 38.
    assert_eq!(
        (
            decision.matched[0].span.start.line,
            decision.matched[0].span.start.column
        ),
        (1, 38)
    );
}

#[test]
fn an_implicit_deny_names_nothing() {
    let identity = set_of(&[("reports", PolicyType::Role, PRETTY)]);
    let policies = Policies {
        identity: Some(&identity),
        ..Policies::default()
    };
    let decision = decide(&policies, &caller(SESSION), "s3:PutObject", REPORT, None);
    assert_eq!(decision.effect, ImplicitDeny);
    assert!(decision.matched.is_empty(), "{:?}", decision.matched);
    assert!(!decision.details.allowed_by_identity);
}

#[test]
fn a_resource_policy_grant_names_the_resource_statement() {
    let resource = set_of(&[(
        "bucket-policy",
        PolicyType::Resource,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"AliceReads","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#,
    )]);
    let policies = Policies {
        resource: Some(&resource),
        ..Policies::default()
    };
    let decision = decide(&policies, &caller(ALICE), "s3:GetObject", REPORT, None);
    assert_eq!(decision.effect, Allowed);
    assert_eq!(decision.matched.len(), 1);
    assert_eq!(decision.matched[0].slot, PolicySlot::Resource);
    assert_eq!(&*decision.matched[0].source.id, "bucket-policy");
    assert_eq!(decision.matched[0].sid.as_deref(), Some("AliceReads"));
    assert_eq!(decision.details.allowed_by_resource_policy, Some(true));
}

#[test]
fn a_cross_account_allow_names_both_sides() {
    let identity = set_of(&[("reports", PolicyType::User, PRETTY)]);
    let resource = set_of(&[(
        "bucket-policy",
        PolicyType::Resource,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#,
    )]);
    let policies = Policies {
        identity: Some(&identity),
        resource: Some(&resource),
        ..Policies::default()
    };
    let decision = decide(&policies, &caller(ALICE), "s3:GetObject", REPORT, Some(OTHER_ACCOUNT));
    assert_eq!(decision.effect, Allowed);
    let slots: Vec<(PolicySlot, &str)> = decision.matched.iter().map(|m| (m.slot, &*m.source.id)).collect();
    assert_eq!(
        slots,
        vec![
            (PolicySlot::Identity, "reports"),
            (PolicySlot::Resource, "bucket-policy")
        ]
    );
}

#[test]
fn details_say_how_each_part_voted() {
    let identity = set_of(&[(
        "id",
        PolicyType::User,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    )]);
    let boundary = set_of(&[(
        "pb",
        PolicyType::UserManaged,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}"#,
    )]);
    let scp = [std::sync::Arc::new(set_of(&[(
        "scp",
        PolicyType::None,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    )]))];
    let policies = Policies {
        identity: Some(&identity),
        permissions_boundary: Some(&boundary),
        service_control: &OrgLevels::from(&scp[..]),
        ..Policies::default()
    };
    let decision = decide(&policies, &caller(ALICE), "s3:GetObject", REPORT, None);
    assert_eq!(decision.effect, ImplicitDeny);
    assert!(decision.details.allowed_by_identity);
    assert_eq!(decision.details.allowed_by_permissions_boundary, Some(false));
    assert_eq!(decision.details.allowed_by_organizations, Some(true));
    assert_eq!(decision.details.allowed_by_session_policy, None);
    assert_eq!(decision.details.allowed_by_resource_policy, None);
    assert_eq!(decision.details.allowed_by_resource_control, None);
}

/// One organization level of `(id, version, document)`, as SCPs or RCPs.
fn level(policy_type: PolicyType, policies: &[(&str, &str, &str)]) -> std::sync::Arc<PolicySet> {
    let parsed: Vec<_> = policies
        .iter()
        .map(|(_, _, text)| parse_policy(text).unwrap())
        .collect();
    let set = PolicySet::compile(policies.iter().zip(&parsed).map(|((id, version, _), parsed)| {
        let mut source = PolicySource::new(*id, policy_type);
        source.version_id = Some((*version).into());
        (source, parsed)
    }))
    .unwrap();
    std::sync::Arc::new(set)
}

const FULL_ACCESS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

#[test]
fn an_allow_under_an_organization_names_every_level_s_allowing_statements() {
    let identity = set_of(&[(
        "s3-admin",
        PolicyType::UserManaged,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    )]);
    let scps = [
        level(
            PolicyType::ServiceControlPolicy,
            &[("p-FullAWSAccess", "v1", FULL_ACCESS)],
        ),
        level(
            PolicyType::ServiceControlPolicy,
            &[
                (
                    "p-storage",
                    "v3",
                    r#"{"Version":"2012-10-17","Statement":[{"Sid":"Storage","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#,
                ),
                (
                    "p-compute",
                    "v1",
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#,
                ),
            ],
        ),
    ];
    let rcps = [level(
        PolicyType::ResourceControlPolicy,
        &[(
            "p-RCPFullAWSAccess",
            "v1",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#,
        )],
    )];
    let policies = Policies {
        identity: Some(&identity),
        service_control: &OrgLevels::from(&scps[..]),
        resource_control: &OrgLevels::from(&rcps[..]),
        ..Policies::default()
    };
    let decision = decide(&policies, &caller(ALICE), "s3:GetObject", REPORT, None);
    assert_eq!(decision.effect, Allowed);
    assert_eq!(decision.matched.len(), 1);
    assert_eq!(decision.matched[0].slot, PolicySlot::Identity);
    let named: Vec<_> = decision
        .guardrails
        .iter()
        .map(|m| {
            (
                &*m.source.id,
                m.source.version_id.as_deref(),
                m.source.policy_type,
                m.slot,
                m.statement_index,
                m.sid.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        named,
        vec![
            (
                "p-FullAWSAccess",
                Some("v1"),
                PolicyType::ServiceControlPolicy,
                PolicySlot::ServiceControl,
                0,
                None
            ),
            (
                "p-storage",
                Some("v3"),
                PolicyType::ServiceControlPolicy,
                PolicySlot::ServiceControl,
                0,
                Some("Storage")
            ),
            (
                "p-RCPFullAWSAccess",
                Some("v1"),
                PolicyType::ResourceControlPolicy,
                PolicySlot::ResourceControl,
                0,
                None
            ),
        ]
    );
    assert!(decision.guardrails.iter().all(|m| m.effect == Effect::Allow));

    // A deny, explicit or implicit, names no guardrails; an SCP's deny is among `matched`.
    let denied = decide(
        &policies,
        &caller(ALICE),
        "s3:DeleteBucket",
        "arn:aws:s3:::reports",
        None,
    );
    assert_eq!(denied.effect, ExplicitDeny);
    assert!(denied.guardrails.is_empty());
    assert_eq!(denied.matched.len(), 1);
    assert_eq!(
        (&*denied.matched[0].source.id, denied.matched[0].slot),
        ("p-storage", PolicySlot::ServiceControl)
    );
    let not_granted = decide(&policies, &caller(ALICE), "ec2:RunInstances", "*", None);
    assert_eq!(not_granted.effect, ImplicitDeny);
    assert_eq!(not_granted.details.allowed_by_organizations, Some(true));
    assert!(not_granted.guardrails.is_empty());

    // Without an organization there is nothing to name.
    let alone = Policies {
        identity: Some(&identity),
        ..Policies::default()
    };
    assert!(decide(&alone, &caller(ALICE), "s3:GetObject", REPORT, None)
        .guardrails
        .is_empty());
}

#[test]
fn guardrails_alone_decide_for_a_principal_whose_own_permissions_are_not_in_question() {
    let scps = [
        level(
            PolicyType::ServiceControlPolicy,
            &[("p-FullAWSAccess", "v1", FULL_ACCESS)],
        ),
        level(
            PolicyType::ServiceControlPolicy,
            &[
                ("p-FullAWSAccess", "v1", FULL_ACCESS),
                (
                    "p-stay",
                    "v2",
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#,
                ),
            ],
        ),
    ];
    let policies = Policies {
        service_control: &OrgLevels::from(&scps[..]),
        ..Policies::default()
    };
    let root = caller(ROOT);
    let context = Context::new();
    let request = |action| Request {
        caller: &root,
        action,
        resource: "*",
        resource_account: None,
        context: &context,
    };
    let allowed = iam_policy::evaluate_guardrails(&policies, &request("iam:CreateUser"));
    assert_eq!(allowed.effect, Allowed);
    assert!(allowed.matched.is_empty());
    assert_eq!(allowed.guardrails.len(), 2);
    assert_eq!(allowed.details.allowed_by_organizations, Some(true));
    assert!(allowed.details.allowed_by_identity);

    let left = iam_policy::evaluate_guardrails(&policies, &request("Organizations:LeaveOrganization"));
    assert_eq!(left.effect, ExplicitDeny);
    assert_eq!(&*left.matched[0].source.id, "p-stay");
    assert!(left.guardrails.is_empty());

    let narrow = [level(
        PolicyType::ServiceControlPolicy,
        &[(
            "p-s3",
            "v1",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        )],
    )];
    let narrowed = Policies {
        service_control: &OrgLevels::from(&narrow[..]),
        ..Policies::default()
    };
    let outside = iam_policy::evaluate_guardrails(&narrowed, &request("iam:CreateUser"));
    assert_eq!(outside.effect, ImplicitDeny);
    assert_eq!(outside.details.allowed_by_organizations, Some(false));

    // Without levels there is nothing to stop it.
    let free = iam_policy::evaluate_guardrails(&Policies::default(), &request("iam:CreateUser"));
    assert_eq!(free.effect, Allowed);
    assert_eq!(free.details.allowed_by_organizations, None);
}

#[test]
fn organization_policy_types_have_aws_names() {
    assert_eq!(PolicyType::ServiceControlPolicy.as_str(), "service-control-policy");
    assert_eq!(PolicyType::ResourceControlPolicy.as_str(), "resource-control-policy");
    for kind in [PolicyType::ServiceControlPolicy, PolicyType::ResourceControlPolicy] {
        assert_eq!(
            serde_json::to_value(kind).unwrap(),
            serde_json::Value::String(kind.as_str().into())
        );
    }
}

/// One policy attached at several levels of a path (`FullAWSAccess` and a `Deny` on every level,
/// as organizations usually have them) is one shared set, evaluated once per decision. Its `Deny`
/// is reported once (at its first level), not once per level; its `Allow` counts for every level
/// holding it and is named at each, as when every level had its own copy.
#[test]
fn a_policy_shared_by_several_levels_counts_at_each_and_is_reported_once() {
    let full = level(
        PolicyType::ServiceControlPolicy,
        &[("p-FullAWSAccess", "v1", FULL_ACCESS)],
    );
    let stay = level(
        PolicyType::ServiceControlPolicy,
        &[(
            "p-stay",
            "v1",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"organizations:LeaveOrganization","Resource":"*"}]}"#,
        )],
    );
    let storage = level(
        PolicyType::ServiceControlPolicy,
        &[(
            "p-storage",
            "v1",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        )],
    );
    let admin = set_of(&[(
        "admin",
        PolicyType::UserManaged,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    )]);
    let shared = OrgLevels::new((0..7).map(|_| [full.clone(), stay.clone()]));
    assert_eq!(shared.len(), 7);
    assert_eq!(shared.policies().len(), 2);
    let policies = Policies {
        identity: Some(&admin),
        service_control: &shared,
        ..Policies::default()
    };

    let allowed = decide(&policies, &caller(ALICE), "s3:GetObject", REPORT, None);
    assert_eq!(allowed.effect, Allowed);
    // It allows at all seven levels, and is one statement the decision rests on.
    let levels_named: Vec<_> = allowed.guardrails.iter().map(|m| &*m.source.id).collect();
    assert_eq!(levels_named, ["p-FullAWSAccess"]);

    let left = decide(&policies, &caller(ALICE), "organizations:LeaveOrganization", "*", None);
    assert_eq!(left.effect, ExplicitDeny);
    let denies: Vec<_> = left.matched.iter().map(|m| (&*m.source.id, m.slot)).collect();
    assert_eq!(denies, [("p-stay", PolicySlot::ServiceControl)]);

    // A shared allow must still be on every level: one level without it (holding only the deny
    // and a narrower allow) limits the path to that allow.
    let narrowed = OrgLevels::new([
        vec![full.clone(), stay.clone()],
        vec![storage.clone(), stay.clone()],
        vec![full.clone(), stay.clone()],
    ]);
    assert_eq!(narrowed.policies().len(), 3);
    let policies = Policies {
        identity: Some(&admin),
        service_control: &narrowed,
        ..Policies::default()
    };
    let s3 = decide(&policies, &caller(ALICE), "s3:GetObject", REPORT, None);
    assert_eq!(s3.effect, Allowed);
    let named: Vec<_> = s3.guardrails.iter().map(|m| &*m.source.id).collect();
    assert_eq!(named, ["p-FullAWSAccess", "p-storage"]);
    let ec2 = decide(&policies, &caller(ALICE), "ec2:RunInstances", "*", None);
    assert_eq!(ec2.effect, ImplicitDeny);
    assert_eq!(ec2.details.allowed_by_organizations, Some(false));

    // A level without policies allows nothing, even beside shared ones.
    let empty_level = OrgLevels::new([vec![full.clone()], vec![]]);
    let policies = Policies {
        identity: Some(&admin),
        service_control: &empty_level,
        ..Policies::default()
    };
    assert_eq!(
        decide(&policies, &caller(ALICE), "s3:GetObject", REPORT, None).effect,
        ImplicitDeny
    );
}

/// Long `Action`/`NotAction` lists are hashed (exact names, `service:*`) rather than scanned; the
/// answer is the same as entry by entry, in any case.
#[test]
fn long_action_lists_match_as_their_entries_do() {
    let region = set_of(&[(
        "regions",
        PolicyType::UserManaged,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":["a4b:*","acm:*","budgets:*",
            "ce:*","ec2:DescribeRegions","ec2:DescribeTransitGateways","ec2:DescribeVpnGateways","iam:*",
            "S3:GetAccountPublic*","s3:ListAllMyBuckets","s3:ListMultiRegionAccessPoints","sts:*","waf:*",
            "route53-recovery-*:*"],"Resource":"*"},
            {"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )]);
    let policies = Policies {
        identity: Some(&region),
        ..Policies::default()
    };
    for (action, effect) in [
        ("iam:CreateUser", Allowed),
        ("IAM:createuser", Allowed),
        ("ec2:DescribeRegions", Allowed),
        ("ec2:describeregions", Allowed),
        ("ec2:DescribeInstances", ExplicitDeny),
        ("s3:GetAccountPublicAccessBlock", Allowed),
        ("s3:ListAllMyBuckets", Allowed),
        ("s3:GetObject", ExplicitDeny),
        ("sts:AssumeRole", Allowed),
        ("stsx:AssumeRole", ExplicitDeny),
        ("waf:", Allowed),
        ("route53-recovery-cluster:GetRoutingControlState", Allowed),
        ("route53:ChangeResourceRecordSets", ExplicitDeny),
        ("iam", ExplicitDeny),
    ] {
        assert_eq!(
            decide(&policies, &caller(ALICE), action, "*", None).effect,
            effect,
            "{action}"
        );
    }
}
