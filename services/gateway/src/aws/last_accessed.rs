//! AWS IAM's service last-accessed data on the query protocol: `GenerateServiceLastAccessedDetails`,
//! `GetServiceLastAccessedDetails` and `GetServiceLastAccessedDetailsWithEntities`, each the
//! `iam-app` use case (`service_last_accessed`, which authorizes, keeps the job and records the
//! call). Lists are paged with `MaxItems` and `Marker` like every IAM list; services come by
//! namespace, AWS's order.

use iam_app::service_last_accessed::{Granularity, LastAccessedJob, LastAuthentication, ServiceLastAccessed};

use super::{date, max_items, page, paging, ApiCaller, Gatehouse, Outcome, Params, WireError, Xml};

/// The last-accessed actions; `None` for any other action.
pub(super) async fn dispatch(
    gatehouse: &Gatehouse,
    caller: &ApiCaller,
    action: &str,
    params: &Params,
) -> Option<Outcome> {
    Some(match action {
        "GenerateServiceLastAccessedDetails" => generate(gatehouse, caller, params).await,
        "GetServiceLastAccessedDetails" => get(gatehouse, caller, params).await,
        "GetServiceLastAccessedDetailsWithEntities" => get_with_entities(gatehouse, caller, params).await,
        _ => return None,
    })
}

/// `GenerateServiceLastAccessedDetails` (`Arn`, `Granularity`): `JobId`.
async fn generate(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let arn = params.required("Arn")?;
    let granularity = match params.get("Granularity") {
        None => Granularity::default(),
        Some(text) => Granularity::parse(text).ok_or_else(|| {
            let shown: String = text.chars().take(64).collect();
            WireError::new(
                "InvalidInput",
                400,
                format!("Granularity {shown:?} is not SERVICE_LEVEL or ACTION_LEVEL."),
            )
        })?,
    };
    let job = gatehouse
        .generate_service_last_accessed_details(caller, &arn, granularity)
        .await?;
    let mut xml = Xml::default();
    xml.leaf("JobId", &job.job_id);
    Ok(Some(xml))
}

/// `GetServiceLastAccessedDetails` (`JobId`, `MaxItems`, `Marker`): the job and a page of its
/// services.
async fn get(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let job_id = params.required("JobId")?;
    let max = max_items(params)?;
    let job = gatehouse.get_service_last_accessed_details(caller, &job_id).await?;
    let services = job
        .services
        .iter()
        .map(|service| (service.service_namespace.clone(), service))
        .collect();
    let (services, next) = page(services, params, max);
    let mut xml = Xml::default();
    xml.leaf("JobStatus", job.job_status())
        .leaf("JobType", job.job_type.as_str())
        .leaf("JobCreationDate", &date(job.job_creation_date));
    xml.open("ServicesLastAccessed");
    for service in services {
        xml.open("member");
        service_xml(&mut xml, service);
        xml.close("member");
    }
    xml.close("ServicesLastAccessed")
        .leaf("JobCompletionDate", &date(job.job_completion_date));
    paging(&mut xml, next);
    Ok(Some(xml))
}

fn service_xml(xml: &mut Xml, service: &ServiceLastAccessed) {
    xml.leaf("ServiceName", &service.service_name);
    if let Some(last) = &service.last_authenticated {
        xml.leaf("LastAuthenticated", &date(last.time));
    }
    xml.leaf("ServiceNamespace", &service.service_namespace);
    if let Some(last) = &service.last_authenticated {
        xml.leaf("LastAuthenticatedEntity", &last.entity);
        region_xml(xml, "LastAuthenticatedRegion", last);
    }
    xml.leaf(
        "TotalAuthenticatedEntities",
        &service.total_authenticated_entities().to_string(),
    );
    if !service.tracked_actions.is_empty() {
        xml.open("TrackedActionsLastAccessed");
        for action in &service.tracked_actions {
            let last = &action.last_accessed;
            xml.open("member")
                .leaf("ActionName", &action.action_name)
                .leaf("LastAccessedEntity", &last.entity);
            region_xml(xml, "LastAccessedRegion", last);
            xml.leaf("LastAccessedTime", &date(last.time)).close("member");
        }
        xml.close("TrackedActionsLastAccessed");
    }
}

fn region_xml(xml: &mut Xml, tag: &str, last: &LastAuthentication) {
    if let Some(region) = &last.region {
        xml.leaf(tag, region);
    }
}

/// `GetServiceLastAccessedDetailsWithEntities` (`JobId`, `ServiceNamespace`, `MaxItems`,
/// `Marker`): the job and the principal that could use the service, with its last use.
async fn get_with_entities(gatehouse: &Gatehouse, caller: &ApiCaller, params: &Params) -> Outcome {
    let job_id = params.required("JobId")?;
    let namespace = params.required("ServiceNamespace")?;
    let max = max_items(params)?;
    let (job, entities) = gatehouse
        .get_service_last_accessed_details_with_entities(caller, &job_id, &namespace)
        .await?;
    let entities = entities
        .into_iter()
        .map(|details| (details.entity.arn.clone(), details))
        .collect();
    let (entities, next) = page(entities, params, max);
    let mut xml = Xml::default();
    job_dates_xml(&mut xml, &job);
    xml.open("EntityDetailsList");
    for details in entities {
        let entity = &details.entity;
        xml.open("member")
            .open("EntityInfo")
            .leaf("Arn", &entity.arn)
            .leaf("Name", &entity.name)
            .leaf("Type", entity.entity_type.as_str())
            .leaf("Id", &entity.id)
            .leaf("Path", &entity.path)
            .close("EntityInfo");
        if let Some(time) = details.last_authenticated {
            xml.leaf("LastAuthenticated", &date(time));
        }
        xml.close("member");
    }
    xml.close("EntityDetailsList");
    paging(&mut xml, next);
    Ok(Some(xml))
}

fn job_dates_xml(xml: &mut Xml, job: &LastAccessedJob) {
    xml.leaf("JobStatus", job.job_status())
        .leaf("JobCreationDate", &date(job.job_creation_date))
        .leaf("JobCompletionDate", &date(job.job_completion_date));
}
