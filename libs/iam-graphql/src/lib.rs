//! The GraphQL schema of the admin API. The only crate that knows GraphQL.
//!
//! Mutations are AWS IAM actions in lowerCamelCase with AWS's parameter names; each is authorized
//! as the IAM action it is (`iam:CreateUser` on the user's ARN, ...) against the caller's own
//! policies, and touches only the caller's account. Errors carry AWS's code in
//! `extensions.code`.

mod audit;
mod credential_report;
mod credentials;
mod error;
mod federation;
mod guard;
mod history;
mod integrity;
mod mutation;
mod organizations;
mod preview;
mod query;
mod replay;
mod simulation;
mod types;
mod usage;

use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Schema};
use iam_app::Gatehouse;

pub use audit::MAX_TOP_LEVEL_FIELDS;
pub use error::aws_error;

/// Every query: the entities, decisions and history (`query.rs`), credentials, federation,
/// AWS Organizations and its central views.
#[derive(MergedObject, Default)]
#[graphql(name = "QueryRoot")]
pub struct QueryRoot(
    query::CoreQuery,
    credentials::CredentialQuery,
    credential_report::CredentialReportQuery,
    federation::FederationQuery,
    organizations::OrganizationQuery,
    integrity::IntegrityQuery,
);

/// Every mutation: the IAM actions (`mutation.rs`), credentials, federation, AWS Organizations.
#[derive(MergedObject, Default)]
#[graphql(name = "MutationRoot")]
pub struct MutationRoot(
    mutation::CoreMutation,
    credentials::CredentialMutation,
    credential_report::CredentialReportMutation,
    federation::FederationMutation,
    organizations::OrganizationMutation,
    integrity::IntegrityMutation,
);

/// The schema type.
pub type GatehouseSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The schema's SDL, as printed to `schema/graphql/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(QueryRoot::default(), MutationRoot::default(), EmptySubscription)
        .finish()
        .sdl()
}

/// Builds the schema over a service. Per-request data: the [`iam_app::access::ApiCaller`].
pub fn build_schema(gatehouse: Arc<Gatehouse>) -> GatehouseSchema {
    Schema::build(QueryRoot::default(), MutationRoot::default(), EmptySubscription)
        .data(gatehouse)
        .extension(audit::ManagementAudit)
        .limit_depth(16)
        .limit_complexity(5_000)
        .finish()
}
