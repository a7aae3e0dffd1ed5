//! Temporary credentials for the scenarios: in each seeded account, an IAM user (the root user
//! cannot assume roles) with an access key, and a role that trusts that user and may call
//! `gatehouse:Authorize` on the account's users; then STS `AssumeRole` on the query protocol
//! (`POST /`, SigV4 for service `sts`), as `aws sts assume-role` sends it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use iam_sigv4::Credentials;
use serde_json::json;

use crate::http::{form_encode, graphql_data, read_query, signed_headers_as, xml_text, Conn, QueryAnswer, Reply};
use crate::manifest::{Manifest, SeedAccount};
use crate::target::Target;

/// STS's query-protocol version.
pub const STS_VERSION: &str = "2011-06-15";

/// The role's inline policy: it may ask for decisions about any user of its account.
pub const ROLE_POLICY_NAME: &str = "DecideForUsers";

const SET_UP: &str = "mutation($user: String!, $role: String!, $trust: String!, $perms: String!, $policy: String!) {
  createUser(input: {userName: $user}) { sequence }
  key: createAccessKey(userName: $user) { accessKey { accessKeyId secretAccessKey } }
  createRole(input: {roleName: $role, assumeRolePolicyDocument: $trust}) { role { arn } }
  putRolePolicy(input: {roleName: $role, policyName: $policy, policyDocument: $perms}) { sequence }
}";

/// One account's caller for temporary credentials.
#[derive(Debug, Clone)]
pub struct RoleCaller {
    /// The account.
    pub account_id: String,
    /// The IAM user's long-term key (it assumes the role).
    pub user: Credentials,
    /// The role it may assume.
    pub role_arn: String,
}

/// The role's trust policy: `user_arn` may assume it.
pub fn trust_policy(user_arn: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}]
    })
    .to_string()
}

/// The role's permissions: `gatehouse:Authorize` on every user of `account_id`.
pub fn role_policy(account_id: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "gatehouse:Authorize",
            "Resource": format!("arn:aws:iam::{account_id}:user/*")
        }]
    })
    .to_string()
}

/// Creates, in one GraphQL request signed by the account's root key, the user `lt-caller-<tag>`
/// with an access key and the role `lt-session-<tag>` that trusts it.
async fn set_up_account(target: Arc<Target>, account: &SeedAccount, tag: &str) -> Result<RoleCaller> {
    let user = format!("lt-caller-{tag}");
    let role = format!("lt-session-{tag}");
    let user_arn = format!("arn:aws:iam::{}:user/{user}", account.account_id);
    let variables = json!({
        "user": user,
        "role": role,
        "trust": trust_policy(&user_arn),
        "perms": role_policy(&account.account_id),
        "policy": ROLE_POLICY_NAME,
    });
    let mut conn = Conn::new(target);
    let data = graphql_data(&mut conn, &account.credentials(), SET_UP, &variables)
        .await
        .with_context(|| format!("creating the role caller in account {}", account.account_id))?;
    let key = &data["key"]["accessKey"];
    let (Some(id), Some(secret), Some(role_arn)) = (
        key["accessKeyId"].as_str(),
        key["secretAccessKey"].as_str(),
        data["createRole"]["role"]["arn"].as_str(),
    ) else {
        bail!("unexpected answer setting up account {}: {data}", account.account_id);
    };
    Ok(RoleCaller {
        account_id: account.account_id.clone(),
        user: Credentials {
            access_key_id: id.to_owned(),
            secret_access_key: secret.to_owned(),
            session_token: None,
        },
        role_arn: role_arn.to_owned(),
    })
}

/// A [`RoleCaller`] for every account of the manifest, in its order. Each call makes a new user
/// and role per account (named after the time), so runs never collide; they are left in place.
///
/// # Errors
/// Any refused request.
pub async fn set_up(target: &Arc<Target>, manifest: &Manifest) -> Result<Vec<RoleCaller>> {
    let tag = format!("{:x}", chrono::Utc::now().timestamp_millis());
    stream::iter(&manifest.accounts)
        .map(|account| set_up_account(target.clone(), account, &tag))
        .buffered(8)
        .try_collect()
        .await
}

/// The body of `AssumeRole`, as botocore serializes it.
pub fn assume_role_form(role_arn: &str, session_name: &str) -> String {
    form_encode(&[
        ("Action", "AssumeRole"),
        ("Version", STS_VERSION),
        ("RoleArn", role_arn),
        ("RoleSessionName", session_name),
    ])
}

/// The session credentials of an `AssumeRoleResponse`.
pub fn parse_assume_role(xml: &str) -> Option<Credentials> {
    let credentials = xml_text(xml, "Credentials")?;
    Some(Credentials {
        access_key_id: xml_text(&credentials, "AccessKeyId")?,
        secret_access_key: xml_text(&credentials, "SecretAccessKey")?,
        session_token: Some(xml_text(&credentials, "SessionToken")?),
    })
}

/// Signs (service `sts`) and sends one `AssumeRole`; returns the reply and how long the server
/// took (signing excluded).
///
/// # Errors
/// A transport or signing failure.
pub async fn send_assume_role(conn: &mut Conn, caller: &RoleCaller, session_name: &str) -> Result<(Reply, Duration)> {
    let body = Bytes::from(assume_role_form(&caller.role_arn, session_name));
    let headers = signed_headers_as(
        "sts",
        conn.host(),
        "/",
        crate::http::FORM_CONTENT_TYPE,
        &body,
        &caller.user,
    )?;
    let started = Instant::now();
    let reply = conn.send("/", &headers, body).await.map_err(|e| anyhow!("{e}"))?;
    Ok((reply, started.elapsed()))
}

/// Assumes each caller's role once; returns the session credentials, in the callers' order.
///
/// # Errors
/// A refused `AssumeRole`, with its code and message.
pub async fn assume_all(target: &Arc<Target>, callers: &[RoleCaller]) -> Result<Vec<Credentials>> {
    let mut conn = Conn::new(target.clone());
    let mut sessions = Vec::with_capacity(callers.len());
    for caller in callers {
        let (reply, _) = send_assume_role(&mut conn, caller, "loadtest-decisions").await?;
        match read_query(&reply) {
            QueryAnswer::Ok => sessions.push(
                parse_assume_role(&String::from_utf8_lossy(&reply.body))
                    .ok_or_else(|| anyhow!("AssumeRole answered without credentials"))?,
            ),
            QueryAnswer::Error { code, message } => {
                bail!(
                    "AssumeRole {} in account {}: {code}: {message}",
                    caller.role_arn,
                    caller.account_id
                )
            }
        }
    }
    Ok(sessions)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn assume_role_is_form_encoded_as_botocore_does() {
        assert_eq!(
            assume_role_form("arn:aws:iam::123456789012:role/lt-session-1", "w3-17"),
            "Action=AssumeRole&Version=2011-06-15\
             &RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Flt-session-1&RoleSessionName=w3-17"
        );
    }

    #[test]
    fn session_credentials_are_read_from_the_answer() {
        let xml = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
            <Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s/e+c</SecretAccessKey>\
            <SessionToken>tok&amp;en==</SessionToken><Expiration>2026-12-07T02:00:00Z</Expiration></Credentials>\
            <AssumedRoleUser><AssumedRoleId>AROA:w</AssumedRoleId><Arn>arn:aws:sts::1:assumed-role/r/w</Arn>\
            </AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>";
        let c = parse_assume_role(xml).unwrap();
        assert_eq!(c.access_key_id, "ASIAEXAMPLE");
        assert_eq!(c.secret_access_key, "s/e+c");
        assert_eq!(c.session_token.as_deref(), Some("tok&en=="));
        assert!(parse_assume_role("<AssumeRoleResponse/>").is_none());
        assert!(parse_assume_role("<Credentials><AccessKeyId>A</AccessKeyId></Credentials>").is_none());
    }

    #[test]
    fn the_role_trusts_the_user_and_may_decide_about_the_accounts_users() {
        let trust: serde_json::Value =
            serde_json::from_str(&trust_policy("arn:aws:iam::123456789012:user/lt-caller-x")).unwrap();
        assert_eq!(
            trust["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::123456789012:user/lt-caller-x"
        );
        assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
        let perms: serde_json::Value = serde_json::from_str(&role_policy("123456789012")).unwrap();
        assert_eq!(perms["Statement"][0]["Action"], "gatehouse:Authorize");
        assert_eq!(perms["Statement"][0]["Resource"], "arn:aws:iam::123456789012:user/*");
    }
}
