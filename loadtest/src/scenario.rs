//! The seeded world and the decisions asked about it, in one place so that the policies and
//! the decision each request expects cannot drift apart.
//!
//! Every account gets the same shape:
//! - `TeamDataAccess` (group `developers`): S3 read/write under `corp-data/${aws:PrincipalTag/team}/`,
//!   `s3:ListBucket` with an `s3:prefix` condition on the team prefix, DynamoDB on the team's tables.
//! - `ProtectProd` (group `developers`): denies deletes under `corp-data/prod/`.
//! - `ReadOnlyInventory` (group `auditors`): `ec2:Describe*` and friends; `audit-logs/*` only with
//!   the principal tag `clearance=high`.
//! - `CorpNetworkOnly` (every user, attached directly): denies everything from outside
//!   10.0.0.0/8 and 192.168.0.0/16 (`aws:SourceIp`).
//! - `QueueSender`: attached and detached by the `mutations` scenario.
//! - every third developer has an inline `HomePrefix` policy using `${aws:username}`.

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Teams users are tagged with (`team`).
pub const TEAMS: [&str; 5] = ["payments", "search", "ml", "platform", "growth"];

/// The customer-managed policies of a seeded account: `(name, document)`.
pub fn managed_policies(account_id: &str) -> Vec<(&'static str, String)> {
    let team_data = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "TeamObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": "arn:aws:s3:::corp-data/${aws:PrincipalTag/team}/*"},
            {"Sid": "ListTeamPrefix", "Effect": "Allow", "Action": "s3:ListBucket",
             "Resource": "arn:aws:s3:::corp-data",
             "Condition": {"StringLike": {"s3:prefix": ["${aws:PrincipalTag/team}/*"]}}},
            {"Sid": "TeamTables", "Effect": "Allow",
             "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"],
             "Resource": format!("arn:aws:dynamodb:us-east-1:{account_id}:table/${{aws:PrincipalTag/team}}-*")}
        ]
    });
    let protect_prod = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "NoProdDeletes", "Effect": "Deny", "Action": ["s3:DeleteObject", "s3:DeleteBucket"],
             "Resource": ["arn:aws:s3:::corp-data/prod/*", "arn:aws:s3:::corp-data"]}
        ]
    });
    let inventory = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Describe", "Effect": "Allow",
             "Action": ["ec2:Describe*", "s3:ListAllMyBuckets", "cloudwatch:GetMetricData"], "Resource": "*"},
            {"Sid": "AuditLogsWithClearance", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::audit-logs/*",
             "Condition": {"StringEquals": {"aws:PrincipalTag/clearance": "high"}}}
        ]
    });
    let corp_network = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "DenyOutsideCorpNetwork", "Effect": "Deny", "Action": "*", "Resource": "*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}}
        ]
    });
    let queue = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
             "Resource": format!("arn:aws:sqs:us-east-1:{account_id}:jobs-*")}
        ]
    });
    vec![
        ("TeamDataAccess", team_data.to_string()),
        ("ProtectProd", protect_prod.to_string()),
        ("ReadOnlyInventory", inventory.to_string()),
        ("CorpNetworkOnly", corp_network.to_string()),
        ("QueueSender", queue.to_string()),
    ]
}

/// The inline policy every third developer has.
pub fn home_prefix_policy() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::corp-data/home/${aws:username}/*"}
        ]
    })
    .to_string()
}

/// What a seeded user is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    /// In group `developers`.
    Developer,
    /// In group `auditors`.
    Auditor,
}

/// A seeded user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub user_name: String,
    /// Developer or auditor.
    pub kind: Kind,
    /// Its `team` tag.
    pub team: String,
    /// Whether it has the tag `clearance=high`.
    pub clearance: bool,
    /// Whether it has the inline `HomePrefix` policy.
    pub inline_policy: bool,
}

/// The `i`-th user of an account.
pub fn principal(account_id: &str, i: usize) -> Principal {
    let kind = if i % 4 == 3 { Kind::Auditor } else { Kind::Developer };
    let team = TEAMS[i % TEAMS.len()].to_owned();
    let user_name = match kind {
        Kind::Developer => format!("dev-{team}-{i:04}"),
        Kind::Auditor => format!("auditor-{i:04}"),
    };
    Principal {
        arn: format!("arn:aws:iam::{account_id}:user/people/{user_name}"),
        user_name,
        kind,
        team,
        clearance: kind == Kind::Auditor && i % 8 == 3,
        inline_policy: kind == Kind::Developer && matches!(i % 3, 0),
    }
}

/// The decision a request is built to get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// `Allow`.
    Allow,
    /// `ImplicitDeny`.
    ImplicitDeny,
    /// `ExplicitDeny`.
    ExplicitDeny,
}

impl Expect {
    /// The decision API's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Expect::Allow => "Allow",
            Expect::ImplicitDeny => "ImplicitDeny",
            Expect::ExplicitDeny => "ExplicitDeny",
        }
    }

    /// Draws an expectation from `mix` (percent allowed, implicit, explicit).
    pub fn draw(mix: [u32; 3], rng: &mut impl Rng) -> Expect {
        let roll = rng.gen_range(0..mix.iter().sum::<u32>());
        if roll < mix[0] {
            Expect::Allow
        } else if roll < mix[0] + mix[1] {
            Expect::ImplicitDeny
        } else {
            Expect::ExplicitDeny
        }
    }
}

fn corp_ip(rng: &mut impl Rng) -> String {
    if rng.gen_bool(0.8) {
        format!(
            "10.{}.{}.{}",
            rng.gen_range(0..256),
            rng.gen_range(0..256),
            rng.gen_range(1..255)
        )
    } else {
        format!("192.168.{}.{}", rng.gen_range(0..256), rng.gen_range(1..255))
    }
}

fn outside_ip(rng: &mut impl Rng) -> String {
    // Documentation ranges (RFC 5737): never inside the corporate networks.
    let net = ["192.0.2", "198.51.100", "203.0.113"][rng.gen_range(0..3)];
    format!("{net}.{}", rng.gen_range(1..255))
}

fn other_team<'t>(team: &str, rng: &mut impl Rng) -> &'t str {
    loop {
        let t = TEAMS[rng.gen_range(0..TEAMS.len())];
        if t != team {
            return t;
        }
    }
}

fn request(p: &Principal, action: &str, resource: &str, ip: &str, extra: &[(&str, &str)]) -> Value {
    let mut context = vec![json!({"key": "aws:SourceIp", "values": [ip], "type": "ip"})];
    for (key, value) in extra {
        context.push(json!({"key": key, "values": [value], "type": "string"}));
    }
    json!({"principalArn": p.arn, "action": action, "resource": resource, "context": context})
}

/// A `/v1/authorize` request about `p` that the seeded policies answer with `expect`.
pub fn decision_request(account_id: &str, p: &Principal, expect: Expect, rng: &mut impl Rng) -> Value {
    let n = rng.gen_range(0..10_000);
    let team = p.team.as_str();
    let ip = corp_ip(rng);
    match (p.kind, expect) {
        (Kind::Developer, Expect::Allow) => match rng.gen_range(0..4) {
            0 => request(
                p,
                "s3:GetObject",
                &format!("arn:aws:s3:::corp-data/{team}/reports/{n}.csv"),
                &ip,
                &[],
            ),
            1 => request(
                p,
                "s3:ListBucket",
                "arn:aws:s3:::corp-data",
                &ip,
                &[("s3:prefix", &format!("{team}/2024/"))],
            ),
            2 => request(
                p,
                "dynamodb:Query",
                &format!("arn:aws:dynamodb:us-east-1:{account_id}:table/{team}-orders"),
                &ip,
                &[],
            ),
            _ if p.inline_policy => request(
                p,
                "s3:PutObject",
                &format!("arn:aws:s3:::corp-data/home/{}/notes-{n}.txt", p.user_name),
                &ip,
                &[],
            ),
            _ => request(
                p,
                "s3:PutObject",
                &format!("arn:aws:s3:::corp-data/{team}/upload/{n}.json"),
                &ip,
                &[],
            ),
        },
        (Kind::Developer, Expect::ImplicitDeny) => match rng.gen_range(0..4) {
            0 => {
                let other = other_team(team, rng);
                request(
                    p,
                    "s3:GetObject",
                    &format!("arn:aws:s3:::corp-data/{other}/reports/{n}.csv"),
                    &ip,
                    &[],
                )
            }
            1 => {
                let other = other_team(team, rng);
                request(
                    p,
                    "s3:ListBucket",
                    "arn:aws:s3:::corp-data",
                    &ip,
                    &[("s3:prefix", &format!("{other}/"))],
                )
            }
            2 => request(
                p,
                "iam:CreateUser",
                &format!("arn:aws:iam::{account_id}:user/intruder-{n}"),
                &ip,
                &[],
            ),
            _ => request(
                p,
                "ec2:TerminateInstances",
                &format!("arn:aws:ec2:us-east-1:{account_id}:instance/i-{n:08x}"),
                &ip,
                &[],
            ),
        },
        (Kind::Developer, Expect::ExplicitDeny) => {
            if rng.gen_bool(0.5) {
                request(
                    p,
                    "s3:GetObject",
                    &format!("arn:aws:s3:::corp-data/{team}/reports/{n}.csv"),
                    &outside_ip(rng),
                    &[],
                )
            } else {
                request(
                    p,
                    "s3:DeleteObject",
                    &format!("arn:aws:s3:::corp-data/prod/{n}.parquet"),
                    &ip,
                    &[],
                )
            }
        }
        (Kind::Auditor, Expect::Allow) => {
            if p.clearance && rng.gen_bool(0.5) {
                request(
                    p,
                    "s3:GetObject",
                    &format!("arn:aws:s3:::audit-logs/2024/{n}.json.gz"),
                    &ip,
                    &[],
                )
            } else {
                request(p, "ec2:DescribeInstances", "*", &ip, &[])
            }
        }
        (Kind::Auditor, Expect::ImplicitDeny) => {
            if p.clearance {
                request(
                    p,
                    "s3:PutObject",
                    &format!("arn:aws:s3:::audit-logs/2024/{n}.json.gz"),
                    &ip,
                    &[],
                )
            } else {
                request(
                    p,
                    "s3:GetObject",
                    &format!("arn:aws:s3:::audit-logs/2024/{n}.json.gz"),
                    &ip,
                    &[],
                )
            }
        }
        (Kind::Auditor, Expect::ExplicitDeny) => request(p, "ec2:DescribeInstances", "*", &outside_ip(rng), &[]),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn seeded_principals_have_a_mix_of_kinds() {
        let all: Vec<Principal> = (0..16).map(|i| principal("123456789012", i)).collect();
        assert_eq!(all.iter().filter(|p| p.kind == Kind::Auditor).count(), 4);
        assert!(all.iter().any(|p| p.clearance));
        assert!(all.iter().any(|p| p.inline_policy));
        assert_eq!(all[3].arn, "arn:aws:iam::123456789012:user/people/auditor-0003");
    }

    #[test]
    fn policies_are_json_and_requests_name_the_principal() {
        for (_, doc) in managed_policies("123456789012") {
            let v: Value = serde_json::from_str(&doc).unwrap();
            assert_eq!(v["Version"], "2012-10-17");
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let p = principal("123456789012", 0);
        for expect in [Expect::Allow, Expect::ImplicitDeny, Expect::ExplicitDeny] {
            let r = decision_request("123456789012", &p, expect, &mut rng);
            assert_eq!(r["principalArn"], p.arn.as_str());
            assert_eq!(r["context"][0]["key"], "aws:SourceIp");
        }
    }
}
