//! STS on the query protocol (`2011-06-15`): `AssumeRole`, `GetSessionToken` and
//! `GetCallerIdentity`. Each is the
//! `iam-app` use case; the session's secret and token appear in the answer only.

use iam_domain::session::AssumeRoleRequest;

use super::{date, ApiCaller, Gatehouse, Outcome, Params, WireError, Xml};

/// The STS actions; `None` for any other action.
pub(super) async fn dispatch(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    action: &str,
    params: &Params,
) -> Option<Outcome> {
    Some(match action {
        "AssumeRole" => assume_role(gatehouse, caller, params).await,
        "GetSessionToken" => get_session_token(gatehouse, caller, params).await,
        "GetFederationToken" => get_federation_token(gatehouse, caller, params).await,
        "GetCallerIdentity" => get_caller_identity(gatehouse, caller).await,
        "DecodeAuthorizationMessage" => match params.required("EncodedMessage") {
            Ok(encoded) => match gatehouse.decode_authorization_message(caller, &encoded).await {
                Ok(decoded) => {
                    let mut xml = Xml::default();
                    xml.leaf("DecodedMessage", &decoded);
                    Ok(Some(xml))
                }
                Err(error) => Err(error.into()),
            },
            Err(missing) => Err(missing),
        },
        "GetAccessKeyInfo" => match params.required("AccessKeyId") {
            Ok(access_key_id) => match gatehouse.get_access_key_info(caller, &access_key_id).await {
                Ok(account) => {
                    let mut xml = Xml::default();
                    xml.leaf("Account", &account);
                    Ok(Some(xml))
                }
                Err(error) => Err(error.into()),
            },
            Err(missing) => Err(missing),
        },
        _ => return None,
    })
}

/// `Name.member.N.<field>` values in member order.
fn member_fields(params: &Params, name: &str, field: &str) -> Vec<String> {
    let prefix = format!("{name}.member.");
    let suffix = format!(".{field}");
    let mut found: Vec<(u32, String)> = params
        .0
        .iter()
        .filter_map(|(key, value)| {
            let index = key.strip_prefix(&prefix)?.strip_suffix(&suffix)?;
            Some((index.parse().ok()?, value.clone()))
        })
        .collect();
    found.sort_by_key(|(n, _)| *n);
    found.into_iter().map(|(_, value)| value).collect()
}

fn duration_seconds(params: &Params) -> Result<Option<u32>, WireError> {
    params
        .get("DurationSeconds")
        .map(|text| {
            text.parse::<u32>()
                .map_err(|_| WireError::new("ValidationError", 400, "DurationSeconds must be a number of seconds"))
        })
        .transpose()
}

fn credentials_xml(xml: &mut Xml, issued: &iam_app::sts::IssuedCredentials) {
    xml.open("Credentials")
        .leaf("AccessKeyId", &issued.access_key_id)
        .leaf("SecretAccessKey", &issued.secret_access_key)
        .leaf("SessionToken", &issued.session_token)
        .leaf("Expiration", &date(issued.expiration))
        .close("Credentials");
}

/// `GetSessionToken`: the calling user's own temporary credentials.
async fn get_session_token(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let duration_seconds = duration_seconds(params)?;
    let mfa = match (params.get("SerialNumber"), params.get("TokenCode")) {
        (None, None) => None,
        (serial_number, token_code) => Some((serial_number.unwrap_or_default(), token_code.unwrap_or_default())),
    };
    let issued = gatehouse.get_session_token(caller, duration_seconds, mfa).await?;
    let mut xml = Xml::default();
    credentials_xml(&mut xml, &issued);
    Ok(Some(xml))
}

async fn assume_role(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let duration_seconds = duration_seconds(params)?;
    let request = AssumeRoleRequest {
        role_arn: params.required("RoleArn")?,
        role_session_name: params.required("RoleSessionName")?,
        duration_seconds,
        external_id: params.get("ExternalId").map(str::to_owned),
        policy: params.get("Policy").map(str::to_owned),
        policy_arns: member_fields(params, "PolicyArns", "arn"),
        tags: params.tags(),
        transitive_tag_keys: params.members("TransitiveTagKeys"),
        source_identity: params.get("SourceIdentity").map(str::to_owned),
        serial_number: params.get("SerialNumber").map(str::to_owned),
        token_code: params.get("TokenCode").map(str::to_owned),
    };
    let issued = gatehouse.assume_role(caller, &request).await?;
    let mut xml = Xml::default();
    credentials_xml(&mut xml, &issued);
    xml.open("AssumedRoleUser")
        .leaf("AssumedRoleId", &issued.assumed_role_id)
        .leaf("Arn", &issued.assumed_role_arn)
        .close("AssumedRoleUser");
    if let Some(source_identity) = &request.source_identity {
        xml.leaf("SourceIdentity", source_identity);
    }
    Ok(Some(xml))
}

/// `GetFederationToken`: a federated user's temporary credentials.
async fn get_federation_token(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let request = iam_domain::session::FederationTokenRequest {
        name: params.required("Name")?,
        duration_seconds: duration_seconds(params)?,
        policy: params.get("Policy").map(str::to_owned),
        policy_arns: member_fields(params, "PolicyArns", "arn"),
        tags: params.tags(),
    };
    let issued = gatehouse.get_federation_token(caller, &request).await?;
    let mut xml = Xml::default();
    credentials_xml(&mut xml, &issued);
    xml.open("FederatedUser")
        .leaf("FederatedUserId", &issued.assumed_role_id)
        .leaf("Arn", &issued.assumed_role_arn)
        .close("FederatedUser")
        .leaf("PackedPolicySize", &request.packed_policy_size().to_string());
    Ok(Some(xml))
}

/// `GetCallerIdentity`: needs no permission, as in AWS. A role session is its assumed-role ARN
/// and `<role id>:<session name>`.
async fn get_caller_identity(gatehouse: &Gatehouse, caller: &ApiCaller) -> Outcome {
    let user_id = gatehouse
        .account(&caller.account_id)
        .map(|model| iam_app::access::caller_identity(model.state(), caller).principal_id)
        .unwrap_or_default();
    let record = gatehouse.read_record(caller, "GetCallerIdentity", &[], serde_json::json!({}), None);
    gatehouse.record(vec![record]).await?;
    let mut xml = Xml::default();
    xml.leaf("UserId", &user_id)
        .leaf("Account", &caller.account_id)
        .leaf("Arn", &caller.principal_arn);
    Ok(Some(xml))
}

/// The STS actions AWS takes unsigned: the token in the request is the credential.
pub const UNSIGNED_ACTIONS: [&str; 1] = ["AssumeRoleWithWebIdentity"];

/// Answers an unsigned query-protocol request: `AssumeRoleWithWebIdentity`, or the error a
/// request without a signature gets.
pub async fn handle_unsigned(
    gatehouse: &Gatehouse,
    body: &[u8],
    origin: iam_app::web_identity::RequestOrigin,
) -> axum::response::Response {
    let namespace = super::STS_NAMESPACE;
    let refuse = |error: WireError| {
        super::error_response(namespace, error.status, &error.code, &error.message, &origin.request_id)
    };
    let params = match Params::parse(body) {
        Ok(params) => params,
        Err(malformed) => return refuse(malformed),
    };
    match params.get("Version") {
        Some("2011-06-15") => {}
        Some(_) => {
            return refuse(WireError::new(
                "InvalidAction",
                400,
                "AssumeRoleWithWebIdentity is STS's: Version 2011-06-15",
            ))
        }
        None => {
            return refuse(WireError::new(
                "MissingParameter",
                400,
                "The request must contain the parameter Version.",
            ))
        }
    }
    match assume_role_with_web_identity(gatehouse, &params, &origin).await {
        Ok(result) => super::answer(namespace, "AssumeRoleWithWebIdentity", &origin.request_id, result),
        Err(error) => refuse(error),
    }
}

async fn assume_role_with_web_identity(
    gatehouse: &Gatehouse,
    params: &Params,
    origin: &iam_app::web_identity::RequestOrigin,
) -> Outcome {
    let request = iam_app::web_identity::WebIdentityRequest {
        role_arn: params.required("RoleArn")?,
        role_session_name: params.required("RoleSessionName")?,
        web_identity_token: zeroize::Zeroizing::new(params.required("WebIdentityToken")?),
        duration_seconds: duration_seconds(params)?,
        policy: params.get("Policy").map(str::to_owned),
        policy_arns: member_fields(params, "PolicyArns", "arn"),
        provider_id: params.get("ProviderId").map(str::to_owned),
    };
    let session = gatehouse.assume_role_with_web_identity(&request, origin).await?;
    let mut xml = Xml::default();
    credentials_xml(&mut xml, &session.credentials);
    xml.leaf("SubjectFromWebIdentityToken", &session.subject)
        .open("AssumedRoleUser")
        .leaf("AssumedRoleId", &session.credentials.assumed_role_id)
        .leaf("Arn", &session.credentials.assumed_role_arn)
        .close("AssumedRoleUser")
        .leaf("Provider", &session.provider)
        .leaf("Audience", &session.audience);
    Ok(Some(xml))
}
