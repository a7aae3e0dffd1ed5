//! OpenID Connect providers on the query protocol: create, read, list, change client ids and
//! thumbprints, tag, delete. Each is the domain's command or read; `Jwks` (not an AWS
//! parameter) registers the provider's keys with it, for an issuer Gatehouse cannot reach.

use iam_domain::oidc::OidcProvider;
use iam_domain::{Command, Read};

use super::{change, date, list_tags, no_such, read, tags_xml, ApiCaller, Gatehouse, Outcome, Params, Xml};

/// The OIDC provider actions; `None` for any other action.
pub(super) async fn dispatch(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    action: &str,
    params: &Params,
) -> Option<Outcome> {
    let arn = || params.required("OpenIDConnectProviderArn");
    Some(match action {
        "CreateOpenIDConnectProvider" => create(gatehouse, caller, params).await,
        "GetOpenIDConnectProvider" => match arn() {
            Ok(arn) => get(gatehouse, caller, arn).await,
            Err(missing) => Err(missing),
        },
        "ListOpenIDConnectProviders" => list(gatehouse, caller).await,
        "ListOpenIDConnectProviderTags" => match arn() {
            Ok(arn) => {
                let call = Read::ListOpenIDConnectProviderTags {
                    open_id_connect_provider_arn: arn.clone(),
                };
                list_tags(gatehouse, caller, params, call, |state| {
                    state.oidc_provider(&arn).map(|p| p.tags.clone())
                })
                .await
            }
            Err(missing) => Err(missing),
        },
        "AddClientIDToOpenIDConnectProvider" | "RemoveClientIDFromOpenIDConnectProvider" => {
            match (arn(), params.required("ClientID")) {
                (Ok(open_id_connect_provider_arn), Ok(client_id)) => {
                    let command = if action.starts_with("Add") {
                        Command::AddClientIDToOpenIDConnectProvider {
                            open_id_connect_provider_arn,
                            client_id,
                        }
                    } else {
                        Command::RemoveClientIDFromOpenIDConnectProvider {
                            open_id_connect_provider_arn,
                            client_id,
                        }
                    };
                    change(gatehouse, caller, command).await
                }
                (Err(missing), _) | (_, Err(missing)) => Err(missing),
            }
        }
        "UpdateOpenIDConnectProviderThumbprint" => match arn() {
            Ok(open_id_connect_provider_arn) => {
                let command = Command::UpdateOpenIDConnectProviderThumbprint {
                    open_id_connect_provider_arn,
                    thumbprint_list: params.members("ThumbprintList"),
                };
                change(gatehouse, caller, command).await
            }
            Err(missing) => Err(missing),
        },
        "DeleteOpenIDConnectProvider" => match arn() {
            Ok(open_id_connect_provider_arn) => {
                let command = Command::DeleteOpenIDConnectProvider {
                    open_id_connect_provider_arn,
                };
                change(gatehouse, caller, command).await
            }
            Err(missing) => Err(missing),
        },
        "TagOpenIDConnectProvider" => match arn() {
            Ok(open_id_connect_provider_arn) => {
                let command = Command::TagOpenIDConnectProvider {
                    open_id_connect_provider_arn,
                    tags: params.tags(),
                };
                change(gatehouse, caller, command).await
            }
            Err(missing) => Err(missing),
        },
        "UntagOpenIDConnectProvider" => match arn() {
            Ok(open_id_connect_provider_arn) => {
                let command = Command::UntagOpenIDConnectProvider {
                    open_id_connect_provider_arn,
                    tag_keys: params.members("TagKeys"),
                };
                change(gatehouse, caller, command).await
            }
            Err(missing) => Err(missing),
        },
        _ => return None,
    })
}

async fn create(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let command = Command::CreateOpenIDConnectProvider {
        url: params.required("Url")?,
        client_id_list: params.members("ClientIDList"),
        thumbprint_list: params.members("ThumbprintList"),
        tags: params.tags(),
        jwks: params.get("Jwks").map(str::to_owned),
    };
    let executed = gatehouse.manage(caller, command).await?;
    let state = executed.model.state();
    // The provider this call created: the one whose name the URL gives.
    let url = params.get("Url").unwrap_or_default();
    let created = iam_oidc::ProviderUrl::parse(url)
        .ok()
        .and_then(|url| state.oidc_provider_for(url.as_str()));
    let mut xml = Xml::default();
    if let Some(provider) = created {
        xml.leaf("OpenIDConnectProviderArn", &provider.arn);
        tags_xml(&mut xml, &provider.tags);
    }
    Ok(Some(xml))
}

fn provider_xml(xml: &mut Xml, provider: &OidcProvider) {
    xml.leaf("Url", provider.name()).open("ClientIDList");
    for id in &provider.client_ids {
        xml.leaf("member", id);
    }
    xml.close("ClientIDList").open("ThumbprintList");
    for thumbprint in &provider.thumbprints {
        xml.leaf("member", thumbprint);
    }
    xml.close("ThumbprintList")
        .leaf("CreateDate", &date(provider.create_date));
    tags_xml(xml, &provider.tags);
}

async fn get(gatehouse: &Gatehouse, caller: &ApiCaller, arn: String) -> Outcome {
    let call = Read::GetOpenIDConnectProvider {
        open_id_connect_provider_arn: arn.clone(),
    };
    read(gatehouse, caller, call, |state| {
        let provider = state
            .oidc_provider(&arn)
            .ok_or_else(|| no_such(format!("OpenIDConnect Provider not found for arn {arn}")))?;
        let mut xml = Xml::default();
        provider_xml(&mut xml, provider);
        Ok(Some(xml))
    })
    .await
}

/// `ListOpenIDConnectProviders`: every provider's ARN (AWS does not page it).
async fn list(gatehouse: &Gatehouse, caller: &ApiCaller) -> Outcome {
    read(gatehouse, caller, Read::ListOpenIDConnectProviders {}, |state| {
        let mut xml = Xml::default();
        xml.open("OpenIDConnectProviderList");
        for provider in state.oidc_providers() {
            xml.open("member").leaf("Arn", &provider.arn).close("member");
        }
        xml.close("OpenIDConnectProviderList");
        Ok(Some(xml))
    })
    .await
}
