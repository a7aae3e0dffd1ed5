//! Cases for `simulate_custom_policy` on requests shaped like `aws iam simulate-custom-policy
//! --generate-cli-skeleton` (empty strings included), checking AWS's response field names and values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iam_policy::simulate::{simulate_custom_policy, SimulateCustomPolicyRequest};
use iam_policy::PolicyError;
use serde_json::{json, Value};

/// `aws iam simulate-custom-policy --generate-cli-skeleton`: every field, strings empty, enums at their
/// first value, one element per list.
const SKELETON: &str = r#"{
    "PolicyInputList": [
        ""
    ],
    "PermissionsBoundaryPolicyInputList": [
        ""
    ],
    "OrderedOrganizationPolicyInputList": [
        {
            "ServiceControlPolicyInputList": [
                ""
            ]
        }
    ],
    "ActionNames": [
        ""
    ],
    "ResourceArns": [
        ""
    ],
    "ResourcePolicy": "",
    "ResourceOwner": "",
    "CallerArn": "",
    "ContextEntries": [
        {
            "ContextKeyName": "",
            "ContextKeyValues": [
                ""
            ],
            "ContextKeyType": "string"
        }
    ],
    "ResourceHandlingOption": "",
    "MaxItems": 0,
    "Marker": ""
}"#;

/// The skeleton with some fields filled in (a `null` removes the field).
fn skeleton_with(fill: Value) -> String {
    let mut request: Value = serde_json::from_str(SKELETON).unwrap();
    let (Value::Object(request_fields), Value::Object(fill)) = (&mut request, fill) else {
        panic!("objects expected");
    };
    for (key, value) in fill {
        if value.is_null() {
            request_fields.remove(&key);
        } else {
            request_fields.insert(key, value);
        }
    }
    serde_json::to_string_pretty(&request).unwrap()
}

fn simulate(request_text: &str) -> Result<Value, PolicyError> {
    let request: SimulateCustomPolicyRequest =
        serde_json::from_str(request_text).unwrap_or_else(|e| panic!("request not read: {e}\n{request_text}"));
    simulate_custom_policy(&request).map(|response| serde_json::to_value(response).unwrap())
}

fn context(name: &str, values: &[&str], kind: &str) -> Value {
    json!({"ContextKeyName": name, "ContextKeyValues": values, "ContextKeyType": kind})
}

// ---- policies ---------------------------------------------------------------------------------------

/// The aws-cli documentation's example: DynamoDB after a date.
const DYNAMODB_AFTER_2018: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}"#;
const READ_REPORTS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::reports","arn:aws:s3:::reports/*"]}]}"#;
const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const DENY_DELETE: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:Delete*","Resource":"*"}]}"#;
const ALLOW_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#;
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const GRANT_ALICE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;
const GRANT_BOB: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"s3:GetObject","Resource":"*"}]}"#;
const GRANT_ALICE_QUEUE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:444455556666:orders"}]}"#;

const SEND_ORDERS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:*:*:orders"}]}"#;
const GRANT_ALICE_OWN_QUEUE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:111122223333:orders"}]}"#;
const GRANT_ACCOUNT_QUEUE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:444455556666:orders"}]}"#;
/// The IAM User Guide's home-folder example: list the bucket's top level, `home/`, and one's own folder.
const LIST_HOME: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowListingOfUserFolder","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket","Condition":{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/"]}}}]}"#;
/// Denies listing anything but the top level and `home/`.
const DENY_LIST_BEYOND_HOME: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:ListBucket","Resource":"*","Condition":{"StringNotEquals":{"s3:prefix":["","home/"]}}}]}"#;
const BUCKET: &str = "arn:aws:s3:::amzn-s3-demo-bucket";

/// `(EvalActionName, EvalResourceName, EvalDecision, MatchedStatements[].SourcePolicyId, MissingContextValues)`.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    Vec<&'static str>,
    Vec<&'static str>,
);
/// A [`Row`] as read back from a response.
type OwnedRow = (String, String, String, Vec<String>, Vec<String>);
/// `(SourcePolicyId, StartPosition, EndPosition)` with positions as `(Line, Column)`.
type Located = (String, (u64, u64), (u64, u64));

struct Case {
    name: &'static str,
    fill: Value,
    /// Every result in order, or a fragment of the error message.
    expect: Result<Vec<Row>, &'static str>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "aws-cli example 1: allowed after the date",
            fill: json!({
                "PolicyInputList": [DYNAMODB_AFTER_2018],
                "ActionNames": ["dynamodb:CreateBackup"],
                "ContextEntries": [context("aws:CurrentTime", &["2019-04-25T11:00:00Z"], "date")],
            }),
            expect: Ok(vec![(
                "dynamodb:CreateBackup",
                "*",
                "allowed",
                vec!["PolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "aws-cli example 2: denied before the date",
            fill: json!({
                "PolicyInputList": [DYNAMODB_AFTER_2018],
                "ActionNames": ["dynamodb:CreateBackup"],
                "ContextEntries": [context("aws:CurrentTime", &["2014-04-25T11:00:00Z"], "date")],
            }),
            expect: Ok(vec![("dynamodb:CreateBackup", "*", "implicitDeny", vec![], vec![])]),
        },
        Case {
            name: "the skeleton's own context entry is ignored, so the date is missing",
            fill: json!({"PolicyInputList": [DYNAMODB_AFTER_2018], "ActionNames": ["dynamodb:CreateBackup"]}),
            expect: Ok(vec![(
                "dynamodb:CreateBackup",
                "*",
                "implicitDeny",
                vec![],
                vec!["aws:CurrentTime"],
            )]),
        },
        Case {
            name: "an empty value of a type other than string is ignored",
            fill: json!({
                "PolicyInputList": [DYNAMODB_AFTER_2018],
                "ActionNames": ["dynamodb:CreateBackup"],
                "ContextEntries": [context("aws:CurrentTime", &[""], "date")],
            }),
            expect: Ok(vec![(
                "dynamodb:CreateBackup",
                "*",
                "implicitDeny",
                vec![],
                vec!["aws:CurrentTime"],
            )]),
        },
        Case {
            name: "context key names are case-insensitive",
            fill: json!({
                "PolicyInputList": [DYNAMODB_AFTER_2018],
                "ActionNames": ["dynamodb:CreateBackup"],
                "ContextEntries": [context("AWS:CURRENTTIME", &["2019-04-25T11:00:00Z"], "date")],
            }),
            expect: Ok(vec![(
                "dynamodb:CreateBackup",
                "*",
                "allowed",
                vec!["PolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "one result per action and resource, actions outer, in input order",
            fill: json!({
                "PolicyInputList": [READ_REPORTS],
                "ActionNames": ["s3:PutObject", "s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::reports/q3.csv", "arn:aws:s3:::payroll/march.csv", "arn:aws:s3:::reports"],
            }),
            expect: Ok(vec![
                (
                    "s3:PutObject",
                    "arn:aws:s3:::reports/q3.csv",
                    "implicitDeny",
                    vec![],
                    vec![],
                ),
                (
                    "s3:PutObject",
                    "arn:aws:s3:::payroll/march.csv",
                    "implicitDeny",
                    vec![],
                    vec![],
                ),
                ("s3:PutObject", "arn:aws:s3:::reports", "implicitDeny", vec![], vec![]),
                (
                    "s3:GetObject",
                    "arn:aws:s3:::reports/q3.csv",
                    "allowed",
                    vec!["PolicyInputList.1"],
                    vec![],
                ),
                (
                    "s3:GetObject",
                    "arn:aws:s3:::payroll/march.csv",
                    "implicitDeny",
                    vec![],
                    vec![],
                ),
                (
                    "s3:GetObject",
                    "arn:aws:s3:::reports",
                    "allowed",
                    vec!["PolicyInputList.1"],
                    vec![],
                ),
            ]),
        },
        Case {
            name: "ResourceArns left out is `*`",
            fill: json!({"PolicyInputList": [READ_REPORTS], "ActionNames": ["s3:GetObject"], "ResourceArns": null}),
            expect: Ok(vec![("s3:GetObject", "*", "implicitDeny", vec![], vec![])]),
        },
        Case {
            name: "the policy that allows is named by its place in the list",
            fill: json!({
                "PolicyInputList": [ALLOW_EC2, READ_REPORTS],
                "ActionNames": ["s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
            }),
            expect: Ok(vec![(
                "s3:GetObject",
                "arn:aws:s3:::reports/q3.csv",
                "allowed",
                vec!["PolicyInputList.2"],
                vec![],
            )]),
        },
        Case {
            name: "an explicit deny in a later policy",
            fill: json!({
                "PolicyInputList": [ALLOW_ALL, DENY_DELETE],
                "ActionNames": ["s3:DeleteObject", "s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
            }),
            expect: Ok(vec![
                (
                    "s3:DeleteObject",
                    "arn:aws:s3:::reports/q3.csv",
                    "explicitDeny",
                    vec!["PolicyInputList.2"],
                    vec![],
                ),
                (
                    "s3:GetObject",
                    "arn:aws:s3:::reports/q3.csv",
                    "allowed",
                    vec!["PolicyInputList.1"],
                    vec![],
                ),
            ]),
        },
        Case {
            name: "keys read by relevant statements, each once, as the policy writes them",
            fill: json!({
                "PolicyInputList": [
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}},{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"},"IpAddress":{"AWS:SourceIP":"198.51.100.0/24"}}}]}"#,
                    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"StringEquals":{"ec2:Region":"us-east-1"}}}}"#,
                ],
                "ActionNames": ["s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::home/alice/notes.txt"],
                "ContextEntries": [context("aws:username", &["alice"], "string")],
            }),
            expect: Ok(vec![(
                "s3:GetObject",
                "arn:aws:s3:::home/alice/notes.txt",
                "implicitDeny",
                vec![],
                vec!["aws:SourceIp", "aws:SecureTransport"],
            )]),
        },
        Case {
            name: "a variable the request lacks is a missing context value",
            fill: json!({
                "PolicyInputList": [r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"home/${aws:username}"}}}}"#],
                "ActionNames": ["s3:GetObject"],
                "ContextEntries": [context("s3:prefix", &["home/alice"], "string")],
            }),
            expect: Ok(vec![(
                "s3:GetObject",
                "*",
                "implicitDeny",
                vec![],
                vec!["aws:username"],
            )]),
        },
        Case {
            name: "resource policy: same account, the caller named",
            fill: json!({
                "PolicyInputList": [ALLOW_EC2],
                "ActionNames": ["s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
                "ResourcePolicy": GRANT_ALICE,
                "CallerArn": ALICE,
            }),
            expect: Ok(vec![(
                "s3:GetObject",
                "arn:aws:s3:::reports/q3.csv",
                "allowed",
                vec!["ResourcePolicy"],
                vec![],
            )]),
        },
        Case {
            name: "resource policy: same account, someone else named",
            fill: json!({
                "PolicyInputList": [ALLOW_EC2],
                "ActionNames": ["s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
                "ResourcePolicy": GRANT_BOB,
                "CallerArn": ALICE,
            }),
            expect: Ok(vec![(
                "s3:GetObject",
                "arn:aws:s3:::reports/q3.csv",
                "implicitDeny",
                vec![],
                vec![],
            )]),
        },
        Case {
            name: "resource policy: owned by another account, both sides allow",
            fill: json!({
                "PolicyInputList": [READ_REPORTS],
                "ActionNames": ["s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
                "ResourcePolicy": GRANT_ALICE,
                "ResourceOwner": "arn:aws:iam::444455556666:root",
                "CallerArn": ALICE,
            }),
            expect: Ok(vec![(
                "s3:GetObject",
                "arn:aws:s3:::reports/q3.csv",
                "allowed",
                vec!["PolicyInputList.1", "ResourcePolicy"],
                vec![],
            )]),
        },
        Case {
            name: "resource policy: owned by another account, the caller's side silent",
            fill: json!({
                "PolicyInputList": [ALLOW_EC2],
                "ActionNames": ["s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
                "ResourcePolicy": GRANT_ALICE,
                "ResourceOwner": "arn:aws:iam::444455556666:root",
                "CallerArn": ALICE,
            }),
            expect: Ok(vec![(
                "s3:GetObject",
                "arn:aws:s3:::reports/q3.csv",
                "implicitDeny",
                vec![],
                vec![],
            )]),
        },
        Case {
            name: "resource policy: owned by another account, someone else named",
            fill: json!({
                "PolicyInputList": [READ_REPORTS],
                "ActionNames": ["s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
                "ResourcePolicy": GRANT_BOB,
                "ResourceOwner": "arn:aws:iam::444455556666:root",
                "CallerArn": ALICE,
            }),
            expect: Ok(vec![(
                "s3:GetObject",
                "arn:aws:s3:::reports/q3.csv",
                "implicitDeny",
                vec![],
                vec![],
            )]),
        },
        Case {
            name: "resource policy: the resource ARN names another account",
            fill: json!({
                "PolicyInputList": [ALLOW_EC2],
                "ActionNames": ["sqs:SendMessage"],
                "ResourceArns": ["arn:aws:sqs:us-east-1:444455556666:orders"],
                "ResourcePolicy": GRANT_ALICE_QUEUE,
                "CallerArn": ALICE,
            }),
            expect: Ok(vec![(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:444455556666:orders",
                "implicitDeny",
                vec![],
                vec![],
            )]),
        },
        // Without `CallerArn` there is no caller's account for a resource to be outside of: the
        // identity-based policies decide, whatever account a resource's ARN names.
        Case {
            name: "no caller: an IAM user's ARN names an account, the identity policy decides",
            fill: json!({
                "PolicyInputList": [r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::111122223333:user/*"}}"#],
                "ActionNames": ["iam:GetUser", "iam:DeleteUser"],
                "ResourceArns": ["arn:aws:iam::111122223333:user/x"],
            }),
            expect: Ok(vec![
                (
                    "iam:GetUser",
                    "arn:aws:iam::111122223333:user/x",
                    "allowed",
                    vec!["PolicyInputList.1"],
                    vec![],
                ),
                (
                    "iam:DeleteUser",
                    "arn:aws:iam::111122223333:user/x",
                    "implicitDeny",
                    vec![],
                    vec![],
                ),
            ]),
        },
        Case {
            name: "no caller: an SQS queue of any account, the identity policy decides",
            fill: json!({
                "PolicyInputList": [SEND_ORDERS],
                "ActionNames": ["sqs:SendMessage"],
                "ResourceArns": ["arn:aws:sqs:us-east-1:444455556666:orders", "arn:aws:sqs:us-east-1:444455556666:refunds"],
            }),
            expect: Ok(vec![
                (
                    "sqs:SendMessage",
                    "arn:aws:sqs:us-east-1:444455556666:orders",
                    "allowed",
                    vec!["PolicyInputList.1"],
                    vec![],
                ),
                (
                    "sqs:SendMessage",
                    "arn:aws:sqs:us-east-1:444455556666:refunds",
                    "implicitDeny",
                    vec![],
                    vec![],
                ),
            ]),
        },
        Case {
            name: "no caller: the aws-cli example on a DynamoDB table",
            fill: json!({
                "PolicyInputList": [DYNAMODB_AFTER_2018],
                "ActionNames": ["dynamodb:CreateBackup"],
                "ResourceArns": ["arn:aws:dynamodb:us-east-1:111122223333:table/Books"],
                "ContextEntries": [context("aws:CurrentTime", &["2019-04-25T11:00:00Z"], "date")],
            }),
            expect: Ok(vec![(
                "dynamodb:CreateBackup",
                "arn:aws:dynamodb:us-east-1:111122223333:table/Books",
                "allowed",
                vec!["PolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "no caller: a deny still applies to a resource whose ARN names an account",
            fill: json!({
                "PolicyInputList": [ALLOW_ALL, r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"sqs:*","Resource":"arn:aws:sqs:*:444455556666:*"}}"#],
                "ActionNames": ["sqs:SendMessage"],
                "ResourceArns": ["arn:aws:sqs:us-east-1:444455556666:orders"],
            }),
            expect: Ok(vec![(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:444455556666:orders",
                "explicitDeny",
                vec!["PolicyInputList.2"],
                vec![],
            )]),
        },
        Case {
            name: "no caller: a ResourceOwner without a resource policy changes nothing",
            fill: json!({
                "PolicyInputList": [READ_REPORTS],
                "ActionNames": ["s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
                "ResourceOwner": "arn:aws:iam::444455556666:root",
            }),
            expect: Ok(vec![(
                "s3:GetObject",
                "arn:aws:s3:::reports/q3.csv",
                "allowed",
                vec!["PolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "caller, no resource policy: a resource of the caller's account named by its ARN",
            fill: json!({
                "PolicyInputList": [SEND_ORDERS],
                "ActionNames": ["sqs:SendMessage"],
                "ResourceArns": ["arn:aws:sqs:us-east-1:111122223333:orders"],
                "CallerArn": ALICE,
            }),
            expect: Ok(vec![(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:111122223333:orders",
                "allowed",
                vec!["PolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "resource policy: the resource ARN names the caller's account, the grant stands alone",
            fill: json!({
                "PolicyInputList": [ALLOW_EC2],
                "ActionNames": ["sqs:SendMessage"],
                "ResourceArns": ["arn:aws:sqs:us-east-1:111122223333:orders"],
                "ResourcePolicy": GRANT_ALICE_OWN_QUEUE,
                "CallerArn": ALICE,
            }),
            expect: Ok(vec![(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:111122223333:orders",
                "allowed",
                vec!["ResourcePolicy"],
                vec![],
            )]),
        },
        Case {
            name: "resource policy: the resource ARN names another account, both sides allow",
            fill: json!({
                "PolicyInputList": [SEND_ORDERS],
                "ActionNames": ["sqs:SendMessage"],
                "ResourceArns": ["arn:aws:sqs:us-east-1:444455556666:orders"],
                "ResourcePolicy": GRANT_ALICE_QUEUE,
                "CallerArn": ALICE,
            }),
            expect: Ok(vec![(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:444455556666:orders",
                "allowed",
                vec!["PolicyInputList.1", "ResourcePolicy"],
                vec![],
            )]),
        },
        Case {
            name: "resource policy: another account's queue granted to the caller's account",
            fill: json!({
                "PolicyInputList": [SEND_ORDERS],
                "ActionNames": ["sqs:SendMessage"],
                "ResourceArns": ["arn:aws:sqs:us-east-1:444455556666:orders"],
                "ResourcePolicy": GRANT_ACCOUNT_QUEUE,
                "CallerArn": ALICE,
            }),
            expect: Ok(vec![(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:444455556666:orders",
                "allowed",
                vec!["PolicyInputList.1", "ResourcePolicy"],
                vec![],
            )]),
        },
        Case {
            name: "resource policy: another account's queue granted to the caller's account, identity silent",
            fill: json!({
                "PolicyInputList": [ALLOW_EC2],
                "ActionNames": ["sqs:SendMessage"],
                "ResourceArns": ["arn:aws:sqs:us-east-1:444455556666:orders"],
                "ResourcePolicy": GRANT_ACCOUNT_QUEUE,
                "CallerArn": ALICE,
            }),
            expect: Ok(vec![(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:444455556666:orders",
                "implicitDeny",
                vec![],
                vec![],
            )]),
        },
        Case {
            name: "resource policy: ResourceOwner does not override the account the ARN names",
            fill: json!({
                "PolicyInputList": [ALLOW_EC2],
                "ActionNames": ["sqs:SendMessage"],
                "ResourceArns": ["arn:aws:sqs:us-east-1:444455556666:orders"],
                "ResourcePolicy": GRANT_ALICE_QUEUE,
                "ResourceOwner": "arn:aws:iam::111122223333:root",
                "CallerArn": ALICE,
            }),
            expect: Ok(vec![(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:444455556666:orders",
                "implicitDeny",
                vec![],
                vec![],
            )]),
        },
        // The empty string is a context value like any other: `s3:prefix` is `""` when the bucket's
        // top level is listed.
        Case {
            name: "home-folder example: listing the bucket's top level (s3:prefix \"\")",
            fill: json!({
                "PolicyInputList": [LIST_HOME],
                "ActionNames": ["s3:ListBucket"],
                "ResourceArns": [BUCKET],
                "ContextEntries": [context("s3:prefix", &[""], "string"), context("aws:username", &["alice"], "string")],
            }),
            expect: Ok(vec![(
                "s3:ListBucket",
                BUCKET,
                "allowed",
                vec!["PolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "home-folder example: listing home/",
            fill: json!({
                "PolicyInputList": [LIST_HOME],
                "ActionNames": ["s3:ListBucket"],
                "ResourceArns": [BUCKET],
                "ContextEntries": [context("s3:prefix", &["home/"], "string"), context("aws:username", &["alice"], "string")],
            }),
            expect: Ok(vec![(
                "s3:ListBucket",
                BUCKET,
                "allowed",
                vec!["PolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "home-folder example: listing someone else's folder",
            fill: json!({
                "PolicyInputList": [LIST_HOME],
                "ActionNames": ["s3:ListBucket"],
                "ResourceArns": [BUCKET],
                "ContextEntries": [context("s3:prefix", &["home/bob/"], "string"), context("aws:username", &["alice"], "string")],
            }),
            expect: Ok(vec![("s3:ListBucket", BUCKET, "implicitDeny", vec![], vec![])]),
        },
        Case {
            name: "home-folder example: without s3:prefix the key is missing",
            fill: json!({
                "PolicyInputList": [LIST_HOME],
                "ActionNames": ["s3:ListBucket"],
                "ResourceArns": [BUCKET],
                "ContextEntries": [context("aws:username", &["alice"], "string")],
            }),
            expect: Ok(vec![(
                "s3:ListBucket",
                BUCKET,
                "implicitDeny",
                vec![],
                vec!["s3:prefix"],
            )]),
        },
        Case {
            name: "empty string: StringEquals \"\" matches",
            fill: json!({
                "PolicyInputList": [r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEquals":{"s3:prefix":""}}}}"#],
                "ActionNames": ["s3:ListBucket"],
                "ResourceArns": [BUCKET],
                "ContextEntries": [context("s3:prefix", &[""], "string")],
            }),
            expect: Ok(vec![(
                "s3:ListBucket",
                BUCKET,
                "allowed",
                vec!["PolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "empty string: StringNotEquals listing \"\" does not deny it",
            fill: json!({
                "PolicyInputList": [ALLOW_ALL, DENY_LIST_BEYOND_HOME],
                "ActionNames": ["s3:ListBucket"],
                "ResourceArns": [BUCKET],
                "ContextEntries": [context("s3:prefix", &[""], "string")],
            }),
            expect: Ok(vec![(
                "s3:ListBucket",
                BUCKET,
                "allowed",
                vec!["PolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "empty string: StringNotEquals denies another prefix",
            fill: json!({
                "PolicyInputList": [ALLOW_ALL, DENY_LIST_BEYOND_HOME],
                "ActionNames": ["s3:ListBucket"],
                "ResourceArns": [BUCKET],
                "ContextEntries": [context("s3:prefix", &["payroll/"], "string")],
            }),
            expect: Ok(vec![(
                "s3:ListBucket",
                BUCKET,
                "explicitDeny",
                vec!["PolicyInputList.2"],
                vec![],
            )]),
        },
        Case {
            name: "empty string: the key is present, not null",
            fill: json!({
                "PolicyInputList": [r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"Null":{"s3:prefix":"false"}}}}"#],
                "ActionNames": ["s3:ListBucket"],
                "ResourceArns": [BUCKET],
                "ContextEntries": [context("s3:prefix", &[""], "string")],
            }),
            expect: Ok(vec![(
                "s3:ListBucket",
                BUCKET,
                "allowed",
                vec!["PolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "empty string: ForAnyValue finds a null data set, even with \"\" listed",
            fill: json!({
                "PolicyInputList": [r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"s3:prefix":["","home/"]}}}}"#],
                "ActionNames": ["s3:ListBucket"],
                "ResourceArns": [BUCKET],
                "ContextEntries": [context("s3:prefix", &[""], "stringList")],
            }),
            expect: Ok(vec![("s3:ListBucket", BUCKET, "implicitDeny", vec![], vec![])]),
        },
        Case {
            name: "empty string: a list holding an empty string and a listed value",
            fill: json!({
                "PolicyInputList": [r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"s3:prefix":"home/"}}}}"#],
                "ActionNames": ["s3:ListBucket"],
                "ResourceArns": [BUCKET],
                "ContextEntries": [context("s3:prefix", &["", "home/"], "stringList")],
            }),
            expect: Ok(vec![(
                "s3:ListBucket",
                BUCKET,
                "allowed",
                vec!["PolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "resource policy needs a caller",
            fill: json!({"PolicyInputList": [ALLOW_EC2], "ActionNames": ["s3:GetObject"], "ResourcePolicy": GRANT_ALICE}),
            expect: Err("`CallerArn`"),
        },
        Case {
            name: "the caller cannot be an assumed-role session",
            fill: json!({
                "PolicyInputList": [ALLOW_EC2],
                "ActionNames": ["s3:GetObject"],
                "ResourcePolicy": GRANT_ALICE,
                "CallerArn": "arn:aws:sts::111122223333:assumed-role/Auditor/alice",
            }),
            expect: Err("`CallerArn`"),
        },
        Case {
            name: "the caller cannot be a federated user",
            fill: json!({
                "PolicyInputList": [ALLOW_EC2],
                "ActionNames": ["s3:GetObject"],
                "CallerArn": "arn:aws:sts::111122223333:federated-user/carol",
            }),
            expect: Err("`CallerArn`"),
        },
        Case {
            name: "the caller must be an IAM ARN",
            fill: json!({"PolicyInputList": [ALLOW_EC2], "ActionNames": ["s3:GetObject"], "CallerArn": "alice"}),
            expect: Err("`CallerArn`"),
        },
        Case {
            name: "the resource owner must be an account ARN",
            fill: json!({
                "PolicyInputList": [ALLOW_EC2],
                "ActionNames": ["s3:GetObject"],
                "ResourceOwner": "arn:aws:iam::4444:root",
            }),
            expect: Err("`ResourceOwner`"),
        },
        Case {
            name: "action names take no wildcards",
            fill: json!({"PolicyInputList": [ALLOW_ALL], "ActionNames": ["s3:Get*"]}),
            expect: Err("`s3:Get*`"),
        },
        Case {
            name: "action names need a service prefix",
            fill: json!({"PolicyInputList": [ALLOW_ALL], "ActionNames": ["GetObject"]}),
            expect: Err("`GetObject`"),
        },
        Case {
            name: "the skeleton's empty action name is refused",
            fill: json!({"PolicyInputList": [ALLOW_ALL]}),
            expect: Err("`service:action`"),
        },
        Case {
            name: "at most one permissions boundary",
            fill: json!({
                "PolicyInputList": [ALLOW_ALL],
                "PermissionsBoundaryPolicyInputList": [ALLOW_ALL, ALLOW_EC2],
                "ActionNames": ["ec2:RunInstances"],
            }),
            expect: Err("`PermissionsBoundaryPolicyInputList`"),
        },
        Case {
            name: "a malformed policy is named by its place in the list",
            fill: json!({
                "PolicyInputList": [ALLOW_ALL, "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Effect\": \"allow\", \"Action\": \"*\", \"Resource\": \"*\"}\n}"],
                "ActionNames": ["s3:GetObject"],
            }),
            expect: Err("`PolicyInputList.2`"),
        },
        Case {
            name: "a malformed resource policy is named",
            fill: json!({
                "PolicyInputList": [ALLOW_ALL],
                "ActionNames": ["s3:GetObject"],
                "ResourcePolicy": r#"{"Version":"2012-10-17","Statement":[]}"#,
                "CallerArn": ALICE,
            }),
            expect: Err("`ResourcePolicy`"),
        },
        Case {
            name: "boundary: allows",
            fill: json!({
                "PolicyInputList": [ALLOW_ALL],
                "PermissionsBoundaryPolicyInputList": [READ_REPORTS],
                "ActionNames": ["s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
            }),
            expect: Ok(vec![(
                "s3:GetObject",
                "arn:aws:s3:::reports/q3.csv",
                "allowed",
                vec!["PolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "boundary: does not allow",
            fill: json!({
                "PolicyInputList": [ALLOW_ALL],
                "PermissionsBoundaryPolicyInputList": [ALLOW_EC2],
                "ActionNames": ["s3:GetObject"],
            }),
            expect: Ok(vec![("s3:GetObject", "*", "implicitDeny", vec![], vec![])]),
        },
        Case {
            name: "boundary: denies",
            fill: json!({
                "PolicyInputList": [ALLOW_ALL],
                "PermissionsBoundaryPolicyInputList": [r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#],
                "ActionNames": ["s3:GetObject"],
            }),
            expect: Ok(vec![(
                "s3:GetObject",
                "*",
                "explicitDeny",
                vec!["PermissionsBoundaryPolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "organization: every level allows",
            fill: json!({
                "PolicyInputList": [READ_REPORTS],
                "OrderedOrganizationPolicyInputList": [
                    {"ServiceControlPolicyInputList": [ALLOW_ALL]},
                    {"ServiceControlPolicyInputList": [ALLOW_EC2, READ_REPORTS]},
                ],
                "ActionNames": ["s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
            }),
            expect: Ok(vec![(
                "s3:GetObject",
                "arn:aws:s3:::reports/q3.csv",
                "allowed",
                vec!["PolicyInputList.1"],
                vec![],
            )]),
        },
        Case {
            name: "organization: the account level does not allow",
            fill: json!({
                "PolicyInputList": [READ_REPORTS],
                "OrderedOrganizationPolicyInputList": [
                    {"ServiceControlPolicyInputList": [ALLOW_ALL]},
                    {"ServiceControlPolicyInputList": [ALLOW_EC2]},
                ],
                "ActionNames": ["s3:GetObject"],
                "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
            }),
            expect: Ok(vec![(
                "s3:GetObject",
                "arn:aws:s3:::reports/q3.csv",
                "implicitDeny",
                vec![],
                vec![],
            )]),
        },
        Case {
            name: "organization: an SCP deny is not a matched statement",
            fill: json!({
                "PolicyInputList": [ALLOW_ALL],
                "OrderedOrganizationPolicyInputList": [{"ServiceControlPolicyInputList": [ALLOW_ALL, DENY_DELETE]}],
                "ActionNames": ["s3:DeleteBucket"],
                "ResourceArns": ["arn:aws:s3:::reports"],
            }),
            expect: Ok(vec![(
                "s3:DeleteBucket",
                "arn:aws:s3:::reports",
                "explicitDeny",
                vec![],
                vec![],
            )]),
        },
        Case {
            name: "organization: SCP condition keys are not missing context values",
            fill: json!({
                "PolicyInputList": [ALLOW_ALL],
                "OrderedOrganizationPolicyInputList": [{"ServiceControlPolicyInputList": [
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":"eu-west-1"}}}]}"#
                ]}],
                "ActionNames": ["ec2:RunInstances"],
            }),
            expect: Ok(vec![("ec2:RunInstances", "*", "explicitDeny", vec![], vec![])]),
        },
    ]
}

#[test]
fn simulation_cases() {
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        let request = skeleton_with(case.fill.clone());
        let outcome = simulate(&request);
        let problem = match (&case.expect, outcome) {
            (Ok(rows), Ok(response)) => {
                let got: Vec<OwnedRow> = response["EvaluationResults"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        let text = |v: &Value| v.as_str().unwrap_or("<not a string>").to_string();
                        (
                            text(&r["EvalActionName"]),
                            text(&r["EvalResourceName"]),
                            text(&r["EvalDecision"]),
                            r["MatchedStatements"]
                                .as_array()
                                .map(|m| m.iter().map(|s| text(&s["SourcePolicyId"])).collect())
                                .unwrap_or_default(),
                            r["MissingContextValues"]
                                .as_array()
                                .map(|m| m.iter().map(text).collect())
                                .unwrap_or_default(),
                        )
                    })
                    .collect();
                let want: Vec<OwnedRow> = rows
                    .iter()
                    .map(|(a, r, d, m, x)| {
                        (
                            a.to_string(),
                            r.to_string(),
                            d.to_string(),
                            m.iter().map(|s| s.to_string()).collect(),
                            x.iter().map(|s| s.to_string()).collect(),
                        )
                    })
                    .collect();
                (got != want).then(|| format!("got {got:?}\n    expected {want:?}"))
            }
            (Ok(_), Err(error)) => Some(format!("refused: {error}")),
            (Err(fragment), Ok(response)) => Some(format!("expected an error naming {fragment}, got {response}")),
            (Err(fragment), Err(error)) => {
                (!error.to_string().contains(fragment)).then(|| format!("error `{error}` does not name {fragment}"))
            }
        };
        if let Some(problem) = problem {
            failures.push(format!("{}: {problem}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} simulation cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---- context entry types ------------------------------------------------------------------------------

#[test]
fn every_context_key_type() {
    // (type, key, values, a condition the values satisfy)
    let table: &[(&str, &str, &[&str], &str)] = &[
        (
            "string",
            "aws:username",
            &["alice"],
            r#"{"StringEquals":{"aws:username":"alice"}}"#,
        ),
        (
            "stringList",
            "aws:TagKeys",
            &["team", "owner"],
            r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["team","owner","env"]}}"#,
        ),
        (
            "numeric",
            "s3:max-keys",
            &["5"],
            r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#,
        ),
        (
            "numericList",
            "example:Sizes",
            &["5", "500"],
            r#"{"ForAnyValue:NumericGreaterThan":{"example:Sizes":"100"}}"#,
        ),
        (
            "boolean",
            "aws:SecureTransport",
            &["true"],
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
        ),
        (
            "booleanList",
            "example:Flags",
            &["true", "true"],
            r#"{"ForAllValues:Bool":{"example:Flags":"true"}}"#,
        ),
        (
            "ip",
            "aws:SourceIp",
            &["203.0.113.9"],
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
        ),
        (
            "ipList",
            "example:Hops",
            &["192.0.2.1", "10.9.9.9"],
            r#"{"ForAnyValue:IpAddress":{"example:Hops":"10.0.0.0/8"}}"#,
        ),
        (
            "binary",
            "example:Blob",
            &["QmluYXJ5VmFsdWVJbkJhc2U2NA=="],
            r#"{"BinaryEquals":{"example:Blob":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#,
        ),
        (
            "binaryList",
            "example:Blobs",
            &["AAEC", "QmluYXJ5VmFsdWVJbkJhc2U2NA=="],
            r#"{"ForAnyValue:BinaryEquals":{"example:Blobs":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#,
        ),
        (
            "date",
            "aws:CurrentTime",
            &["2024-05-01T10:00:00Z"],
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}"#,
        ),
        (
            "dateList",
            "example:Dates",
            &["2024-02-01", "2024-03-01T00:00:00Z"],
            r#"{"ForAllValues:DateLessThan":{"example:Dates":"2025-01-01T00:00:00Z"}}"#,
        ),
    ];
    let mut failures = Vec::new();
    for (kind, key, values, condition) in table {
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{condition}}}}}"#
        );
        let request = skeleton_with(json!({
            "PolicyInputList": [policy],
            "ActionNames": ["s3:GetObject"],
            "ContextEntries": [context(key, values, kind)],
        }));
        match simulate(&request) {
            Ok(response) if response["EvaluationResults"][0]["EvalDecision"] == "allowed" => {}
            Ok(response) => failures.push(format!("{kind}: {}", response["EvaluationResults"][0])),
            Err(error) => failures.push(format!("{kind}: refused: {error}")),
        }
    }
    assert!(
        failures.is_empty(),
        "context types not honoured:\n{}",
        failures.join("\n")
    );
}

#[test]
fn context_values_must_fit_their_type() {
    let table: &[(&str, &[&str], &str)] = &[
        ("numeric", &["ten"], "`ten`"),
        ("numericList", &["1", "two"], "`two`"),
        ("boolean", &["yes"], "`yes`"),
        ("ip", &["203.0.113.300"], "`203.0.113.300`"),
        ("ipList", &["::1", "localhost"], "`localhost`"),
        ("binary", &["%%%"], "`%%%`"),
        ("date", &["soon"], "`soon`"),
        ("dateList", &["2024-01-01", "2024-02-30"], "`2024-02-30`"),
        ("integer", &["1"], "`integer`"),
        ("String", &["a"], "`String`"),
        ("string", &["a", "b"], "stringList"),
    ];
    let mut failures = Vec::new();
    for (kind, values, named) in table {
        let request = skeleton_with(json!({
            "PolicyInputList": [ALLOW_ALL],
            "ActionNames": ["s3:GetObject"],
            "ContextEntries": [context("example:Key", values, kind)],
        }));
        match simulate(&request) {
            Err(PolicyError::InvalidInput(message)) if message.contains(named) && message.contains("`example:Key`") => {
            }
            other => failures.push(format!(
                "{kind} {values:?}: expected InvalidInput naming {named}, got {other:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- response shape -----------------------------------------------------------------------------------

#[test]
fn the_skeleton_with_only_the_required_fields_filled_runs() {
    let request = skeleton_with(json!({"PolicyInputList": [ALLOW_ALL], "ActionNames": ["iam:ListUsers"]}));
    let response = simulate(&request).unwrap();
    assert_eq!(
        response["EvaluationResults"][0]["EvalDecision"], "allowed",
        "{response}"
    );
    assert_eq!(response["EvaluationResults"][0]["EvalResourceName"], "*");
    // The skeleton's empty boundary and organization entries mean none: no detail fields.
    assert!(response["EvaluationResults"][0]
        .get("PermissionsBoundaryDecisionDetail")
        .is_none());
    assert!(response["EvaluationResults"][0]
        .get("OrganizationsDecisionDetail")
        .is_none());
}

#[test]
fn field_names_are_aws_field_names() {
    let request = skeleton_with(json!({
        "PolicyInputList": [DYNAMODB_AFTER_2018],
        "ActionNames": ["dynamodb:CreateBackup"],
        "ContextEntries": [context("aws:CurrentTime", &["2019-04-25T11:00:00Z"], "date")],
    }));
    let response = simulate(&request).unwrap();
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(&response), ["EvaluationResults", "IsTruncated"]);
    assert_eq!(response["IsTruncated"], false);
    let result = &response["EvaluationResults"][0];
    assert_eq!(
        keys(result),
        [
            "EvalActionName",
            "EvalResourceName",
            "EvalDecision",
            "MatchedStatements",
            "MissingContextValues"
        ]
    );
    let statement = &result["MatchedStatements"][0];
    assert_eq!(
        keys(statement),
        ["SourcePolicyId", "SourcePolicyType", "StartPosition", "EndPosition"]
    );
    assert_eq!(keys(&statement["StartPosition"]), ["Line", "Column"]);
    assert_eq!(statement["SourcePolicyType"], "IAM Policy");
    assert_eq!(result["MissingContextValues"], json!([]));
}

#[test]
fn boundary_and_organization_details() {
    let detail = |fill: Value| -> Value {
        let response = simulate(&skeleton_with(fill)).unwrap();
        response["EvaluationResults"][0].clone()
    };
    let allowed_by_boundary = detail(json!({
        "PolicyInputList": [ALLOW_ALL],
        "PermissionsBoundaryPolicyInputList": [READ_REPORTS],
        "ActionNames": ["s3:GetObject"],
        "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
    }));
    assert_eq!(
        allowed_by_boundary["PermissionsBoundaryDecisionDetail"],
        json!({"AllowedByPermissionsBoundary": true})
    );
    let outside_boundary = detail(json!({
        "PolicyInputList": [ALLOW_ALL],
        "PermissionsBoundaryPolicyInputList": [READ_REPORTS],
        "ActionNames": ["s3:PutObject"],
        "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
    }));
    assert_eq!(outside_boundary["EvalDecision"], "implicitDeny");
    assert_eq!(
        outside_boundary["PermissionsBoundaryDecisionDetail"],
        json!({"AllowedByPermissionsBoundary": false})
    );
    let allowed_by_organization = detail(json!({
        "PolicyInputList": [ALLOW_ALL],
        "OrderedOrganizationPolicyInputList": [{"ServiceControlPolicyInputList": [ALLOW_ALL]}, {"ServiceControlPolicyInputList": [ALLOW_EC2]}],
        "ActionNames": ["ec2:RunInstances"],
    }));
    assert_eq!(
        allowed_by_organization["OrganizationsDecisionDetail"],
        json!({"AllowedByOrganizations": true})
    );
    let refused_by_organization = detail(json!({
        "PolicyInputList": [ALLOW_ALL],
        "OrderedOrganizationPolicyInputList": [{"ServiceControlPolicyInputList": [ALLOW_ALL]}, {"ServiceControlPolicyInputList": [ALLOW_EC2]}],
        "ActionNames": ["s3:GetObject"],
    }));
    assert_eq!(refused_by_organization["EvalDecision"], "implicitDeny");
    assert_eq!(
        refused_by_organization["OrganizationsDecisionDetail"],
        json!({"AllowedByOrganizations": false})
    );
    assert!(refused_by_organization
        .get("PermissionsBoundaryDecisionDetail")
        .is_none());
}

#[test]
fn unknown_request_fields_are_refused() {
    let text =
        skeleton_with(json!({"PolicyInputList": [ALLOW_ALL], "ActionNames": ["s3:GetObject"], "PolicyInputLists": []}));
    assert!(serde_json::from_str::<SimulateCustomPolicyRequest>(&text).is_err());
}

// ---- statement positions ------------------------------------------------------------------------------

fn positions(fill: Value) -> Vec<Located> {
    let response = simulate(&skeleton_with(fill)).unwrap();
    response["EvaluationResults"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["MatchedStatements"].as_array().unwrap().clone())
        .map(|s| {
            let at = |p: &Value| (p["Line"].as_u64().unwrap(), p["Column"].as_u64().unwrap());
            (
                s["SourcePolicyId"].as_str().unwrap().to_string(),
                at(&s["StartPosition"]),
                at(&s["EndPosition"]),
            )
        })
        .collect()
}

#[test]
fn positions_of_the_aws_cli_example() {
    // AWS's documented output for this policy: start (1, 38), end (1, 167).
    let found = positions(json!({
        "PolicyInputList": [DYNAMODB_AFTER_2018],
        "ActionNames": ["dynamodb:CreateBackup"],
        "ContextEntries": [context("aws:CurrentTime", &["2019-04-25T11:00:00Z"], "date")],
    }));
    assert_eq!(found, vec![("PolicyInputList.1".to_string(), (1, 38), (1, 167))]);
}

#[test]
fn positions_in_a_statement_array() {
    // The first statement starts at its `{` (column 41, just after the `[`), the second just after the
    // first one's `}`, where the first one ends.
    let policy = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::payroll/*"}]}"#;
    let allow_end = policy.find('}').unwrap() as u64 + 2;
    let deny_end = policy.rfind("}]").unwrap() as u64 + 2;
    let found = positions(json!({
        "PolicyInputList": [policy],
        "ActionNames": ["s3:GetObject"],
        "ResourceArns": ["arn:aws:s3:::reports/q3.csv", "arn:aws:s3:::payroll/march.csv"],
    }));
    assert_eq!(
        found,
        vec![
            ("PolicyInputList.1".to_string(), (1, 41), (1, allow_end)),
            ("PolicyInputList.1".to_string(), (1, allow_end), (1, deny_end)),
        ]
    );
}

#[test]
fn positions_in_a_pretty_printed_policy() {
    // `    "Statement": [` is line 3: the statement starts just after the `[` (column 19); its `}` is in
    // column 9 of line 9, so it ends at column 10.
    let policy = "{\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n        {\n            \"Sid\": \"ReadReports\",\n            \"Effect\": \"Allow\",\n            \"Action\": \"s3:GetObject\",\n            \"Resource\": \"arn:aws:s3:::reports/*\"\n        }\n    ]\n}";
    let found = positions(json!({
        "PolicyInputList": [policy],
        "ActionNames": ["s3:GetObject"],
        "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
    }));
    assert_eq!(found, vec![("PolicyInputList.1".to_string(), (3, 19), (9, 10))]);
}

#[test]
fn positions_and_types_of_resource_policy_statements() {
    let response = simulate(&skeleton_with(json!({
        "PolicyInputList": [READ_REPORTS],
        "ActionNames": ["s3:GetObject"],
        "ResourceArns": ["arn:aws:s3:::reports/q3.csv"],
        "ResourcePolicy": GRANT_ALICE,
        "ResourceOwner": "arn:aws:iam::444455556666:root",
        "CallerArn": ALICE,
    })))
    .unwrap();
    let statements = response["EvaluationResults"][0]["MatchedStatements"]
        .as_array()
        .unwrap()
        .clone();
    let described: Vec<(Value, Value, Value)> = statements
        .iter()
        .map(|s| {
            (
                s["SourcePolicyId"].clone(),
                s["SourcePolicyType"].clone(),
                s["StartPosition"].clone(),
            )
        })
        .collect();
    assert_eq!(
        described,
        vec![
            (
                json!("PolicyInputList.1"),
                json!("IAM Policy"),
                json!({"Line": 1, "Column": 38})
            ),
            (
                json!("ResourcePolicy"),
                json!("Resource Policy"),
                json!({"Line": 1, "Column": 38})
            ),
        ]
    );
}
