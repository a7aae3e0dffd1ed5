//! The built-in, read-only catalog of AWS-managed policies that accounts can attach.

use std::sync::OnceLock;

use chrono::DateTime;
use iam_types::{EntityName, IamArn, IamPath, NameKind, UniqueId};

use crate::state::{ManagedPolicy, PolicyVersion};

/// 2015-02-06T18:39:46Z, when AWS published its first managed policies.
const CREATED_EPOCH_SECONDS: i64 = 1_423_248_386;

const ADMINISTRATOR_ACCESS: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}
  ]
}"#;

const READ_ONLY_ACCESS: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "acm:Describe*", "acm:Get*", "acm:List*",
        "apigateway:GET",
        "autoscaling:Describe*",
        "cloudformation:Describe*", "cloudformation:Get*", "cloudformation:List*",
        "cloudfront:Get*", "cloudfront:List*",
        "cloudtrail:Describe*", "cloudtrail:Get*", "cloudtrail:List*", "cloudtrail:LookupEvents",
        "cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*",
        "dynamodb:BatchGetItem", "dynamodb:Describe*", "dynamodb:GetItem", "dynamodb:List*", "dynamodb:Query", "dynamodb:Scan",
        "ec2:Describe*", "ec2:Get*",
        "ecr:BatchGetImage", "ecr:Describe*", "ecr:Get*", "ecr:List*",
        "ecs:Describe*", "ecs:List*",
        "eks:Describe*", "eks:List*",
        "elasticloadbalancing:Describe*",
        "iam:Generate*", "iam:Get*", "iam:List*", "iam:Simulate*",
        "kms:Describe*", "kms:Get*", "kms:List*",
        "lambda:Get*", "lambda:List*",
        "logs:Describe*", "logs:FilterLogEvents", "logs:Get*", "logs:StartQuery", "logs:StopQuery",
        "organizations:Describe*", "organizations:List*",
        "rds:Describe*", "rds:List*",
        "route53:Get*", "route53:List*",
        "s3:Get*", "s3:List*",
        "secretsmanager:Describe*", "secretsmanager:GetResourcePolicy", "secretsmanager:List*",
        "sns:Get*", "sns:List*",
        "sqs:Get*", "sqs:List*",
        "ssm:Describe*", "ssm:Get*", "ssm:List*",
        "sts:GetCallerIdentity"
      ],
      "Resource": "*"
    }
  ]
}"#;

const IAM_FULL_ACCESS: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["iam:*", "organizations:DescribeAccount", "organizations:DescribeOrganization", "organizations:ListAccounts"], "Resource": "*"}
  ]
}"#;

const IAM_READ_ONLY_ACCESS: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["iam:GenerateCredentialReport", "iam:GenerateServiceLastAccessedDetails", "iam:Get*", "iam:List*", "iam:SimulateCustomPolicy", "iam:SimulatePrincipalPolicy"], "Resource": "*"}
  ]
}"#;

const POWER_USER_ACCESS: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"},
    {
      "Effect": "Allow",
      "Action": [
        "account:GetAccountInformation", "account:ListRegions",
        "iam:CreateServiceLinkedRole", "iam:DeleteServiceLinkedRole", "iam:ListRoles",
        "organizations:DescribeOrganization"
      ],
      "Resource": "*"
    }
  ]
}"#;

/// (name, id, description, document)
const ENTRIES: [(&str, &str, &str, &str); 5] = [
    (
        "AdministratorAccess",
        "ANPAIWMBCKSKIEE64ZLYK",
        "Provides full access to AWS services and resources.",
        ADMINISTRATOR_ACCESS,
    ),
    (
        "ReadOnlyAccess",
        "ANPAILL3HVNFSB6DCOWYQ",
        "Provides read-only access to AWS services and resources.",
        READ_ONLY_ACCESS,
    ),
    (
        "IAMFullAccess",
        "ANPAI7XKCFMBPM3QQRRVQ",
        "Provides full access to IAM via the AWS Management Console.",
        IAM_FULL_ACCESS,
    ),
    (
        "IAMReadOnlyAccess",
        "ANPAJKSO7NDY4T57MWDSQ",
        "Provides read only access to IAM via the AWS Management Console.",
        IAM_READ_ONLY_ACCESS,
    ),
    (
        "PowerUserAccess",
        "ANPAJYRXTHIB4FOVS3ZXS",
        "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
        POWER_USER_ACCESS,
    ),
];

fn build() -> Vec<ManagedPolicy> {
    let created = DateTime::from_timestamp(CREATED_EPOCH_SECONDS, 0).unwrap_or_default();
    ENTRIES
        .iter()
        .filter_map(|(name, id, description, document)| {
            // The entries are constants checked by the tests below; a bad one is skipped, not fatal.
            let policy_name = EntityName::parse(NameKind::Policy, name).ok()?;
            let policy_id = UniqueId::parse(id).ok()?;
            let path = IamPath::root();
            Some(ManagedPolicy {
                arn: IamArn::aws_managed_policy(&path, &policy_name),
                policy_id,
                policy_name,
                path,
                description: Some((*description).to_owned()),
                create_date: created,
                update_date: created,
                default_version_id: "v1".to_owned(),
                versions: vec![PolicyVersion {
                    version_id: "v1".to_owned(),
                    document: (*document).to_owned(),
                    create_date: created,
                }],
                next_version: 2,
                tags: Vec::new(),
            })
        })
        .collect()
}

/// The AWS-managed policies Gatehouse ships.
pub fn aws_managed_policies() -> &'static [ManagedPolicy] {
    static CATALOG: OnceLock<Vec<ManagedPolicy>> = OnceLock::new();
    CATALOG.get_or_init(build)
}

/// An AWS-managed policy by exact ARN.
pub fn aws_managed_policy(arn: &IamArn) -> Option<&'static ManagedPolicy> {
    aws_managed_policies().iter().find(|p| &p.arn == arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_builds_and_parses() {
        let catalog = aws_managed_policies();
        assert_eq!(catalog.len(), ENTRIES.len());
        for policy in catalog {
            let doc = &policy.default_version().unwrap().document;
            iam_policy::parse_policy(doc).unwrap_or_else(|e| panic!("{}: {e}", policy.policy_name));
            assert!(policy.arn.to_string().starts_with("arn:aws:iam::aws:policy/"));
        }
        let admin = IamArn::parse("arn:aws:iam::aws:policy/AdministratorAccess").unwrap();
        assert_eq!(
            aws_managed_policy(&admin).unwrap().policy_id.as_str(),
            "ANPAIWMBCKSKIEE64ZLYK"
        );
    }
}
