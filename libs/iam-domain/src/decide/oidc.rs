//! `decide` for OpenID Connect providers.

use iam_oidc::{ProviderUrl, RegisteredProvider};

use super::{parse_tags, quota_exceeded, Decider, Decision};
use crate::command::TagInput;
use crate::error::DomainError;
use crate::event::DomainEvent;
use crate::oidc::*;

impl<'a> Decider<'a> {
    pub(super) fn oidc_provider(&self, arn: &str) -> Result<&'a OidcProvider, DomainError> {
        self.state
            .oidc_provider(arn)
            .ok_or_else(|| DomainError::NoSuchEntity(format!("OpenIDConnect Provider not found for arn {arn}")))
    }

    pub(super) fn create_oidc_provider(
        &self,
        url: &str,
        client_ids: &[String],
        thumbprints: &[String],
        tags: &[TagInput],
        jwks: Option<&str>,
    ) -> Decision {
        let url = ProviderUrl::parse(url).map_err(invalid)?;
        let tags = parse_tags(tags)?;
        let mut unique_ids: Vec<String> = Vec::new();
        for id in client_ids {
            if !unique_ids.contains(id) {
                unique_ids.push(id.clone());
            }
        }
        // The same checks `AssumeRoleWithWebIdentity` relies on, so a stored provider always
        // verifies (bounds, thumbprint shape, a key set that parses).
        let registered =
            RegisteredProvider::new(url.clone(), unique_ids, thumbprints.to_vec(), jwks).map_err(invalid)?;
        let arn = provider_arn(self.account.as_str(), &url);
        if self.state.oidc_provider(&arn).is_some() {
            return Err(DomainError::EntityAlreadyExists(format!(
                "Provider with url {url} already exists."
            )));
        }
        if self.state.oidc_providers.len() >= OIDC_PROVIDERS_PER_ACCOUNT {
            return Err(quota_exceeded(
                "OpenIdConnectProvidersPerAccount",
                OIDC_PROVIDERS_PER_ACCOUNT,
            ));
        }
        Ok(vec![DomainEvent::OidcProviderCreated(OidcProviderCreated {
            arn,
            url: url.to_string(),
            client_ids: registered.client_ids().to_vec(),
            thumbprints: registered.thumbprints().to_vec(),
            jwks: jwks.map(str::to_owned),
            create_date: self.ctx.now,
            tags,
        })])
    }

    /// A provider with other client ids or thumbprints, checked as at creation; no event when
    /// nothing changes.
    pub(super) fn update_oidc_provider(
        &self,
        arn: &str,
        client_ids: Vec<String>,
        thumbprints: Vec<String>,
    ) -> Decision {
        let provider = self.oidc_provider(arn)?;
        let url = ProviderUrl::parse(&provider.url).map_err(invalid)?;
        let registered = RegisteredProvider::new(url, client_ids, thumbprints, None).map_err(invalid)?;
        if registered.client_ids() == provider.client_ids.as_slice()
            && registered.thumbprints() == provider.thumbprints.as_slice()
        {
            return Ok(Vec::new());
        }
        Ok(vec![DomainEvent::OidcProviderUpdated(OidcProviderUpdated {
            arn: provider.arn.clone(),
            client_ids: registered.client_ids().to_vec(),
            thumbprints: registered.thumbprints().to_vec(),
        })])
    }

    pub(super) fn add_oidc_client_id(&self, arn: &str, client_id: &str) -> Decision {
        let provider = self.oidc_provider(arn)?;
        let mut ids = provider.client_ids.clone();
        if !ids.iter().any(|id| id == client_id) {
            ids.push(client_id.to_owned());
        }
        self.update_oidc_provider(arn, ids, provider.thumbprints.clone())
    }

    pub(super) fn remove_oidc_client_id(&self, arn: &str, client_id: &str) -> Decision {
        let provider = self.oidc_provider(arn)?;
        let ids = provider
            .client_ids
            .iter()
            .filter(|id| *id != client_id)
            .cloned()
            .collect();
        self.update_oidc_provider(arn, ids, provider.thumbprints.clone())
    }

    pub(super) fn delete_oidc_provider(&self, arn: &str) -> Decision {
        let provider = self.oidc_provider(arn)?;
        Ok(vec![DomainEvent::OidcProviderDeleted(OidcProviderDeleted {
            arn: provider.arn.clone(),
        })])
    }

    pub(super) fn tag_oidc_provider(&self, arn: &str, tags: &[TagInput]) -> Decision {
        let provider = self.oidc_provider(arn)?;
        let tags = self.merge_tags(&provider.tags, tags)?;
        Ok(vec![DomainEvent::OidcProviderTagged(OidcProviderTagged {
            arn: provider.arn.clone(),
            tags,
        })])
    }

    pub(super) fn untag_oidc_provider(&self, arn: &str, tag_keys: &[String]) -> Decision {
        let provider = self.oidc_provider(arn)?;
        for key in tag_keys {
            iam_types::Tag::check_key(key)?;
        }
        let present: Vec<String> = tag_keys
            .iter()
            .filter(|k| provider.tags.iter().any(|t| t.key() == k.as_str()))
            .cloned()
            .collect();
        if present.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![DomainEvent::OidcProviderUntagged(OidcProviderUntagged {
            arn: provider.arn.clone(),
            tag_keys: present,
        })])
    }
}
