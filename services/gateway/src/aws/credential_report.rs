//! AWS IAM's credential report on the query protocol: `GenerateCredentialReport` and
//! `GetCredentialReport`, each the `iam-app` use case GraphQL calls too (which authorizes and
//! records it). `Content` is the report in base64, as botocore's model has the blob;
//! `ReportNotPresent` and `ReportExpired` are answered with 410, as the model declares.

use super::{date, ApiCaller, Gatehouse, Outcome, Params, Xml};

/// The credential report actions; `None` for any other action. Neither takes a parameter.
pub(super) async fn dispatch(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    action: &str,
    _params: &Params,
) -> Option<Outcome> {
    Some(match action {
        "GenerateCredentialReport" => generate(gatehouse, caller).await,
        "GetCredentialReport" => get(gatehouse, caller).await,
        _ => return None,
    })
}

/// `GenerateCredentialReport`: `State` and `Description`.
async fn generate(gatehouse: &Gatehouse, caller: &ApiCaller) -> Outcome {
    let generated = gatehouse.generate_credential_report(caller).await?;
    let mut xml = Xml::default();
    xml.leaf("State", generated.state.as_str())
        .leaf("Description", &generated.description);
    Ok(Some(xml))
}

/// `GetCredentialReport`: `Content` (base64), `ReportFormat`, `GeneratedTime`.
async fn get(gatehouse: &Gatehouse, caller: &ApiCaller) -> Outcome {
    let report = gatehouse.get_credential_report(caller).await?;
    let mut xml = Xml::default();
    xml.leaf("Content", &report.content())
        .leaf("ReportFormat", report.report_format())
        .leaf("GeneratedTime", &date(report.generated_time));
    Ok(Some(xml))
}
