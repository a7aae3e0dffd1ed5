//! OpenID Connect providers in GraphQL: the same commands and reads as the IAM wire protocol's
//! `*OpenIDConnectProvider*` actions, authorized as those actions on the provider's ARN.
//! `AssumeRoleWithWebIdentity` itself is unsigned (the token is the credential), so it is served
//! on STS's wire protocol only.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use iam_domain::oidc::OidcProvider;
use iam_domain::{Command, Read};
use iam_types::ErrorCode;

use crate::credentials::ChangePayload;
use crate::error::{aws_error, from_app};
use crate::guard::Scope;
use crate::mutation::{tags_in, DeletePayload, TagIn};
use crate::types::{tags, Tag};

/// An OpenID Connect identity provider.
#[derive(SimpleObject)]
#[graphql(name = "OpenIDConnectProvider")]
pub struct OidcProviderObject {
    /// `arn:aws:iam::<account>:oidc-provider/<host/path>`.
    pub arn: String,
    /// `host/path`, as IAM shows it.
    pub url: String,
    /// The issuer URL with its scheme.
    pub issuer: String,
    /// The audiences a token may be for.
    pub client_id_list: Vec<String>,
    /// Certificate thumbprints.
    pub thumbprint_list: Vec<String>,
    /// Whether the provider's keys are registered with it (else they are fetched from the
    /// issuer's discovery document).
    pub has_registered_keys: bool,
    /// When created.
    pub create_date: DateTime<Utc>,
    /// Tags.
    pub tags: Vec<Tag>,
}

impl From<&OidcProvider> for OidcProviderObject {
    fn from(p: &OidcProvider) -> Self {
        OidcProviderObject {
            arn: p.arn.clone(),
            url: p.name().to_owned(),
            issuer: p.url.clone(),
            client_id_list: p.client_ids.clone(),
            thumbprint_list: p.thumbprints.clone(),
            has_registered_keys: p.jwks.is_some(),
            create_date: p.create_date,
            tags: tags(&p.tags),
        }
    }
}

/// The federation queries, merged into `Query`.
#[derive(Default)]
pub struct FederationQuery;

#[Object]
impl FederationQuery {
    /// `GetOpenIDConnectProvider`.
    #[graphql(name = "openIDConnectProvider")]
    async fn open_id_connect_provider(&self, ctx: &Context<'_>, arn: String) -> Result<OidcProviderObject> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::GetOpenIDConnectProvider {
            open_id_connect_provider_arn: arn.clone(),
        })?;
        scope
            .model
            .state()
            .oidc_provider(&arn)
            .map(OidcProviderObject::from)
            .ok_or_else(|| {
                aws_error(
                    ErrorCode::NoSuchEntity,
                    format!("OpenIDConnect Provider not found for arn {arn}"),
                )
            })
    }

    /// `ListOpenIDConnectProviders`.
    #[graphql(name = "openIDConnectProviders")]
    async fn open_id_connect_providers(&self, ctx: &Context<'_>) -> Result<Vec<OidcProviderObject>> {
        let scope = Scope::of(ctx)?;
        scope.read(Read::ListOpenIDConnectProviders {})?;
        Ok(scope
            .model
            .state()
            .oidc_providers()
            .map(OidcProviderObject::from)
            .collect())
    }
}

/// The federation mutations, merged into `Mutation`.
#[derive(Default)]
pub struct FederationMutation;

async fn run(ctx: &Context<'_>, command: Command) -> Result<ChangePayload> {
    let scope = Scope::of(ctx)?;
    let executed = scope.gatehouse.manage(&scope.caller, command).await.map_err(from_app)?;
    Ok(ChangePayload {
        sequence: executed.sequence,
    })
}

#[Object]
impl FederationMutation {
    /// `CreateOpenIDConnectProvider`: the issuer `url` (`https://...`; `http://` only on
    /// loopback, for test issuers), the audiences it may issue for, optional thumbprints and
    /// tags; `jwks` registers the provider's keys (a JSON Web Key Set) instead of fetching them.
    #[graphql(name = "createOpenIDConnectProvider")]
    async fn create_open_id_connect_provider(
        &self,
        ctx: &Context<'_>,
        url: String,
        client_id_list: Vec<String>,
        thumbprint_list: Option<Vec<String>>,
        tags: Option<Vec<TagIn>>,
        jwks: Option<String>,
    ) -> Result<OidcProviderObject> {
        let scope = Scope::of(ctx)?;
        let name = iam_oidc::ProviderUrl::parse(&url).map(|u| u.as_str().to_owned());
        let command = Command::CreateOpenIDConnectProvider {
            url,
            client_id_list,
            thumbprint_list: thumbprint_list.unwrap_or_default(),
            tags: tags_in(tags),
            jwks,
        };
        let executed = scope.gatehouse.manage(&scope.caller, command).await.map_err(from_app)?;
        name.ok()
            .and_then(|name| {
                executed
                    .model
                    .state()
                    .oidc_provider_for(&name)
                    .map(OidcProviderObject::from)
            })
            .ok_or_else(|| aws_error(ErrorCode::ServiceFailure, "the provider vanished"))
    }

    /// `AddClientIDToOpenIDConnectProvider`.
    #[graphql(name = "addClientIDToOpenIDConnectProvider")]
    async fn add_client_id(&self, ctx: &Context<'_>, arn: String, client_id: String) -> Result<ChangePayload> {
        let command = Command::AddClientIDToOpenIDConnectProvider {
            open_id_connect_provider_arn: arn,
            client_id,
        };
        run(ctx, command).await
    }

    /// `RemoveClientIDFromOpenIDConnectProvider`.
    #[graphql(name = "removeClientIDFromOpenIDConnectProvider")]
    async fn remove_client_id(&self, ctx: &Context<'_>, arn: String, client_id: String) -> Result<ChangePayload> {
        let command = Command::RemoveClientIDFromOpenIDConnectProvider {
            open_id_connect_provider_arn: arn,
            client_id,
        };
        run(ctx, command).await
    }

    /// `UpdateOpenIDConnectProviderThumbprint`.
    #[graphql(name = "updateOpenIDConnectProviderThumbprint")]
    async fn update_thumbprint(
        &self,
        ctx: &Context<'_>,
        arn: String,
        thumbprint_list: Vec<String>,
    ) -> Result<ChangePayload> {
        let command = Command::UpdateOpenIDConnectProviderThumbprint {
            open_id_connect_provider_arn: arn,
            thumbprint_list,
        };
        run(ctx, command).await
    }

    /// `DeleteOpenIDConnectProvider`.
    #[graphql(name = "deleteOpenIDConnectProvider")]
    async fn delete_open_id_connect_provider(&self, ctx: &Context<'_>, arn: String) -> Result<DeletePayload> {
        let command = Command::DeleteOpenIDConnectProvider {
            open_id_connect_provider_arn: arn,
        };
        run(ctx, command).await.map(|changed| DeletePayload {
            sequence: changed.sequence,
        })
    }

    /// `TagOpenIDConnectProvider`.
    #[graphql(name = "tagOpenIDConnectProvider")]
    async fn tag_open_id_connect_provider(
        &self,
        ctx: &Context<'_>,
        arn: String,
        tags: Vec<TagIn>,
    ) -> Result<ChangePayload> {
        let command = Command::TagOpenIDConnectProvider {
            open_id_connect_provider_arn: arn,
            tags: tags_in(Some(tags)),
        };
        run(ctx, command).await
    }

    /// `UntagOpenIDConnectProvider`.
    #[graphql(name = "untagOpenIDConnectProvider")]
    async fn untag_open_id_connect_provider(
        &self,
        ctx: &Context<'_>,
        arn: String,
        tag_keys: Vec<String>,
    ) -> Result<ChangePayload> {
        let command = Command::UntagOpenIDConnectProvider {
            open_id_connect_provider_arn: arn,
            tag_keys,
        };
        run(ctx, command).await
    }
}
