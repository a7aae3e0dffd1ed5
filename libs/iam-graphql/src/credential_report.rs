//! AWS IAM's credential report in GraphQL: `generateCredentialReport` and `credentialReport`,
//! the same `iam-app` use cases as the IAM wire protocol's `GenerateCredentialReport` and
//! `GetCredentialReport` (authorized as those actions on `*`, recorded by the use case, so the
//! request's audit of read-only fields leaves them alone). `content` is the report in base64,
//! as AWS answers it; `csv` is the same report as text, for portals.

use std::sync::Arc;

use async_graphql::{Context, Enum, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use iam_app::credential_report::{CredentialReport, ReportState};

use crate::error::from_app;
use crate::guard::Scope;

/// `GenerateCredentialReport`'s `State`.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "CredentialReportState")]
pub enum CredentialReportState {
    /// This call generated a new report.
    #[graphql(name = "STARTED")]
    Started,
    /// A report less than four hours old exists; it was not generated again.
    #[graphql(name = "COMPLETE")]
    Complete,
}

impl From<ReportState> for CredentialReportState {
    fn from(state: ReportState) -> Self {
        match state {
            ReportState::Started => CredentialReportState::Started,
            ReportState::Complete => CredentialReportState::Complete,
        }
    }
}

/// `GenerateCredentialReport`'s answer.
#[derive(SimpleObject)]
pub struct GenerateCredentialReportPayload {
    /// `State`.
    pub state: CredentialReportState,
    /// `Description`.
    pub description: String,
}

/// The caller's account's credential report: a header, the root user's row (`<root_account>`),
/// one row per IAM user, in AWS's columns.
pub struct CredentialReportObject(Arc<CredentialReport>);

#[Object(name = "CredentialReport")]
impl CredentialReportObject {
    /// `Content`: the CSV in base64, as AWS answers it.
    async fn content(&self) -> String {
        self.0.content()
    }

    /// `ReportFormat`: `text/csv`.
    async fn report_format(&self) -> &'static str {
        self.0.report_format()
    }

    /// `GeneratedTime`: when the account was read into the report.
    async fn generated_time(&self) -> DateTime<Utc> {
        self.0.generated_time
    }

    /// The report as CSV text (what `content` decodes to).
    async fn csv(&self) -> &str {
        &self.0.csv
    }
}

/// The credential report query, merged into `Query`.
#[derive(Default)]
pub struct CredentialReportQuery;

#[Object]
impl CredentialReportQuery {
    /// `GetCredentialReport`: the report `generateCredentialReport` made, for four hours.
    /// `ReportNotPresent` before one was generated, `ReportExpired` after four hours.
    async fn credential_report(&self, ctx: &Context<'_>) -> Result<CredentialReportObject> {
        let scope = Scope::of(ctx)?;
        scope.records_itself();
        scope
            .gatehouse
            .get_credential_report(&scope.caller)
            .await
            .map(CredentialReportObject)
            .map_err(from_app)
    }
}

/// The credential report mutation, merged into `Mutation`.
#[derive(Default)]
pub struct CredentialReportMutation;

#[Object]
impl CredentialReportMutation {
    /// `GenerateCredentialReport`: reads the caller's account into a new report (`STARTED`),
    /// unless one less than four hours old exists (`COMPLETE`, that report stays).
    async fn generate_credential_report(&self, ctx: &Context<'_>) -> Result<GenerateCredentialReportPayload> {
        let scope = Scope::of(ctx)?;
        let generated = scope
            .gatehouse
            .generate_credential_report(&scope.caller)
            .await
            .map_err(from_app)?;
        Ok(GenerateCredentialReportPayload {
            state: generated.state.into(),
            description: generated.description,
        })
    }
}
