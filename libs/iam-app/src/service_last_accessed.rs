//! AWS IAM's service last-accessed reports ("access advisor") for every door:
//! `GenerateServiceLastAccessedDetails` starts a job about a user or role and answers its
//! `JobId`; `GetServiceLastAccessedDetails` and `GetServiceLastAccessedDetailsWithEntities`
//! answer the job's report. The report is what [`Gatehouse::last_accessed`](crate::usage) reads
//! from the decision log (the newest allowed decision about the principal per service and per
//! action, exact and immediate where AWS's is hours late), plus, as AWS lists them, the services
//! the principal's identity policies name in an `Allow` statement and that it never used (with
//! no last access). A service's name is its namespace (`s3`): Gatehouse keeps no table of
//! services' display names, and the only services it can name without one are those named by
//! an action (`s3:GetObject`); so a service allowed only through a wildcard (`"Action": "*"`) is
//! listed once used, not before.
//!
//! A job is done before `GenerateServiceLastAccessedDetails` answers, so its status is always
//! `COMPLETED`. Jobs are derived data, like the credential report: kept in memory, per account
//! and per process (another gateway does not know a job generated through this one), for
//! [`JOB_LIFETIME`], at most [`MAX_JOBS_PER_ACCOUNT`] per account (the oldest go first).
//!
//! Generating is authorized as `iam:GenerateServiceLastAccessedDetails` on the principal's ARN,
//! reading as `iam:GetServiceLastAccessedDetails` (`...WithEntities`) on the ARN of the job's
//! principal, by the one authorization rule; every call is recorded like the read-only calls
//! (`iam.amazonaws.com`, `readOnly`, no response elements). Reports are of the caller's own
//! account only: another account's principal is `NoSuchEntity`, and so is its job.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use iam_domain::{AccountState, Requirement};
use iam_policy::Effect;
use iam_types::{ErrorCode, IamArn, ResourceKind};
use serde_json::json;

use crate::access::ApiCaller;
use crate::usage::{allowed_decisions_about, effective_policies_of, USAGE_ACTION};
use crate::{random_bytes, AppError, Gatehouse};

/// The action `GenerateServiceLastAccessedDetails` needs, on the principal's ARN (the one
/// GraphQL's `lastAccessed` needs too).
pub const GENERATE_ACTION: &str = USAGE_ACTION;
/// The action `GetServiceLastAccessedDetails` needs, on the ARN of the job's principal.
pub const GET_ACTION: &str = "iam:GetServiceLastAccessedDetails";
/// The action `GetServiceLastAccessedDetailsWithEntities` needs, on the ARN of the job's
/// principal.
pub const GET_WITH_ENTITIES_ACTION: &str = "iam:GetServiceLastAccessedDetailsWithEntities";
/// The most jobs an account keeps: generating one more forgets its oldest.
pub const MAX_JOBS_PER_ACCOUNT: usize = 100;
/// How long a job's report is served after it completed.
pub const JOB_LIFETIME: Duration = Duration::hours(24);

/// `Granularity` (`JobType`): per service, or per service and action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Granularity {
    /// `SERVICE_LEVEL` (AWS's default).
    #[default]
    ServiceLevel,
    /// `ACTION_LEVEL`: each service's actions too.
    ActionLevel,
}

impl Granularity {
    /// AWS's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::ServiceLevel => "SERVICE_LEVEL",
            Granularity::ActionLevel => "ACTION_LEVEL",
        }
    }

    /// From AWS's spelling; `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<Granularity> {
        match text {
            "SERVICE_LEVEL" => Some(Granularity::ServiceLevel),
            "ACTION_LEVEL" => Some(Granularity::ActionLevel),
            _ => None,
        }
    }
}

/// `JobStatus`: a job is done before it is answered.
pub const JOB_STATUS: &str = "COMPLETED";

/// The kind of principal a report is about (`EntityInfo.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    /// `USER`.
    User,
    /// `ROLE`.
    Role,
}

impl EntityType {
    /// AWS's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::User => "USER",
            EntityType::Role => "ROLE",
        }
    }
}

/// The principal a report is about, as it was when the job ran (`EntityInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportEntity {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// User or role.
    pub entity_type: EntityType,
    /// Its unique id (`AIDA...`, `AROA...`).
    pub id: String,
    /// Its path.
    pub path: String,
}

/// The last allowed decision of a service or an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastAuthentication {
    /// When (`LastAuthenticated`, `LastAccessedTime`).
    pub time: DateTime<Utc>,
    /// The principal decided on (`LastAuthenticatedEntity`, `LastAccessedEntity`).
    pub entity: String,
    /// The decision's region (`LastAuthenticatedRegion`, `LastAccessedRegion`), when it names one.
    pub region: Option<String>,
}

/// One action of a service, in an `ACTION_LEVEL` report (`TrackedActionLastAccessed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedAction {
    /// `ActionName`: the action without its service prefix (`GetObject`).
    pub action_name: String,
    /// Its last allowed decision.
    pub last_accessed: LastAuthentication,
}

/// One service of a report (`ServiceLastAccessed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLastAccessed {
    /// `ServiceNamespace` (`s3`).
    pub service_namespace: String,
    /// `ServiceName`: the namespace (Gatehouse keeps no table of display names).
    pub service_name: String,
    /// Its last allowed decision; `None` for a service allowed but never used.
    pub last_authenticated: Option<LastAuthentication>,
    /// Its actions, last allowed first (`ACTION_LEVEL` only; empty otherwise).
    pub tracked_actions: Vec<TrackedAction>,
}

impl ServiceLastAccessed {
    fn unused(namespace: &str) -> Self {
        ServiceLastAccessed {
            service_namespace: namespace.to_owned(),
            service_name: namespace.to_owned(),
            last_authenticated: None,
            tracked_actions: Vec::new(),
        }
    }

    /// `TotalAuthenticatedEntities`: how many principals of the report used the service (a
    /// report is about one user or role, so 1 or 0).
    #[must_use]
    pub fn total_authenticated_entities(&self) -> u32 {
        u32::from(self.last_authenticated.is_some())
    }
}

/// One principal of a report's service (`EntityDetails`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityDetails {
    /// `EntityInfo`.
    pub entity: ReportEntity,
    /// `LastAuthenticated`: when it last used the service, if it did.
    pub last_authenticated: Option<DateTime<Utc>>,
}

/// A job and its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastAccessedJob {
    /// `JobId`: a UUID.
    pub job_id: String,
    /// `JobType`.
    pub job_type: Granularity,
    /// The principal reported on.
    pub entity: ReportEntity,
    /// `JobCreationDate`.
    pub job_creation_date: DateTime<Utc>,
    /// `JobCompletionDate`.
    pub job_completion_date: DateTime<Utc>,
    /// `ServicesLastAccessed`, by namespace (AWS's default order).
    pub services: Vec<ServiceLastAccessed>,
}

impl LastAccessedJob {
    /// `JobStatus`.
    #[must_use]
    pub fn job_status(&self) -> &'static str {
        JOB_STATUS
    }

    /// `EntityDetailsList` of the service `namespace`: the job's principal, with its last use of
    /// the service; empty for a service the report does not list.
    #[must_use]
    pub fn entities_for(&self, namespace: &str) -> Vec<EntityDetails> {
        self.services
            .iter()
            .filter(|s| s.service_namespace == namespace)
            .map(|s| EntityDetails {
                entity: self.entity.clone(),
                last_authenticated: s.last_authenticated.as_ref().map(|l| l.time),
            })
            .collect()
    }
}

/// Every account's jobs, in this process, oldest first.
#[derive(Default)]
pub(crate) struct LastAccessedJobs {
    by_account: Mutex<HashMap<String, VecDeque<Arc<LastAccessedJob>>>>,
}

fn fresh(job: &LastAccessedJob, now: DateTime<Utc>) -> bool {
    now - job.job_completion_date < JOB_LIFETIME
}

impl LastAccessedJobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Arc<LastAccessedJob>>>> {
        self.by_account.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps `job` for `account`, forgetting the account's oldest beyond the bound and every
    /// account's jobs past their lifetime.
    fn keep(&self, account: &str, job: Arc<LastAccessedJob>, now: DateTime<Utc>) {
        let mut jobs = self.lock();
        jobs.retain(|_, kept| {
            kept.retain(|job| fresh(job, now));
            !kept.is_empty()
        });
        let kept = jobs.entry(account.to_owned()).or_default();
        kept.push_back(job);
        while kept.len() > MAX_JOBS_PER_ACCOUNT {
            kept.pop_front();
        }
    }

    /// The account's job `job_id`, while it is kept.
    fn get(&self, account: &str, job_id: &str, now: DateTime<Utc>) -> Result<Arc<LastAccessedJob>, AppError> {
        self.lock()
            .get(account)
            .and_then(|kept| kept.iter().find(|job| job.job_id == job_id && fresh(job, now)))
            .cloned()
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::NoSuchEntity,
                    format!(
                        "No service last accessed job {job_id} was found in this account: \
                         jobs are kept for 24 hours, {MAX_JOBS_PER_ACCOUNT} at most per account."
                    ),
                )
            })
    }
}

fn invalid(message: String) -> AppError {
    AppError::new(ErrorCode::InvalidInput, message)
}

fn no_such_entity(arn: &str, account: &str) -> AppError {
    AppError::new(
        ErrorCode::NoSuchEntity,
        format!("{arn} is not a user or role of account {account}"),
    )
}

/// The user or role `arn` names in `state` (the account `account`), as the report shows it.
///
/// # Errors
/// `InvalidInput` for an ARN that names no user or role (groups and policies are not
/// reported on yet); `NoSuchEntity` for one of another account, or that `state` does not have.
fn report_entity(state: &AccountState, arn: &str, account: &str) -> Result<(IamArn, ReportEntity), AppError> {
    let parsed = IamArn::parse(arn)
        .map_err(|_| invalid(format!("{arn} is not the ARN of an IAM user, group, role or policy")))?;
    match parsed.kind() {
        Some(ResourceKind::User | ResourceKind::Role) => {}
        Some(kind @ (ResourceKind::Group | ResourceKind::Policy)) => {
            return Err(invalid(format!(
                "{arn} is a {}: Gatehouse reports the service last accessed data of users and roles",
                kind.as_str()
            )))
        }
        _ => {
            return Err(invalid(format!(
                "{arn} is not the ARN of an IAM user, group, role or policy"
            )))
        }
    }
    if parsed.account().is_none_or(|a| a.as_str() != account) {
        return Err(no_such_entity(arn, account));
    }
    let name = parsed.name().map(|n| n.as_str()).unwrap_or_default();
    let entity = match parsed.kind() {
        Some(ResourceKind::User) => state.user(name).map(|user| ReportEntity {
            arn: user.arn.to_string(),
            name: user.user_name.as_str().to_owned(),
            entity_type: EntityType::User,
            id: user.user_id.as_str().to_owned(),
            path: user.path.as_str().to_owned(),
        }),
        _ => state.role(name).map(|role| ReportEntity {
            arn: role.arn.to_string(),
            name: role.role_name.as_str().to_owned(),
            entity_type: EntityType::Role,
            id: role.role_id.as_str().to_owned(),
            path: role.path.as_str().to_owned(),
        }),
    };
    // The ARN as IAM has it (path and name's case included): the decisions name it so.
    entity
        .filter(|entity| entity.arn == arn)
        .map(|entity| (parsed, entity))
        .ok_or_else(|| no_such_entity(arn, account))
}

/// A service namespace as AWS's model allows one (`[\w-]`, 1 to 64 characters).
fn is_namespace(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The services the `Allow` statements of the principal's identity policies (its own and its
/// groups') name by an action with a literal service prefix (`s3:Get*` names `s3`; `*` and
/// `NotAction` name none).
fn services_named(state: &AccountState, arn: &IamArn) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let Some(policies) = effective_policies_of(state, arn) else {
        return named;
    };
    for policy in &policies.identity {
        let Ok(parsed) = iam_policy::parse_policy(&policy.document) else {
            continue;
        };
        for statement in &parsed.policy.statements {
            if statement.effect != Effect::Allow || statement.action.negated {
                continue;
            }
            for pattern in &statement.action.patterns {
                if let Some((service, _)) = pattern.split_once(':') {
                    if is_namespace(service) {
                        named.insert(service.to_ascii_lowercase());
                    }
                }
            }
        }
    }
    named
}

impl Gatehouse {
    /// `GenerateServiceLastAccessedDetails` about the user or role `arn` of the caller's
    /// account: authorized as `iam:GenerateServiceLastAccessedDetails` on `arn`, run (the
    /// decision log read) before it answers, kept, and recorded.
    ///
    /// # Errors
    /// `AccessDenied`; `InvalidInput` for an ARN of no user or role; `NoSuchEntity` for a
    /// principal the caller's account does not have; `ServiceFailure` when the decision log
    /// cannot be read or the record cannot be made durable.
    pub async fn generate_service_last_accessed_details(
        &self,
        caller: &ApiCaller,
        arn: &str,
        granularity: Granularity,
    ) -> Result<Arc<LastAccessedJob>, AppError> {
        let needed = [Requirement::named(GENERATE_ACTION, arn)];
        let outcome = self.run_last_accessed_job(caller, arn, granularity, &needed).await;
        let parameters = json!({"arn": arn, "granularity": granularity.as_str()});
        let record = self.read_record(
            caller,
            "GenerateServiceLastAccessedDetails",
            &needed,
            parameters,
            outcome.as_ref().err(),
        );
        self.record(vec![record]).await?;
        outcome.map_err(|error| self.encode_denial(&caller.account_id, error))
    }

    async fn run_last_accessed_job(
        &self,
        caller: &ApiCaller,
        arn: &str,
        granularity: Granularity,
        needed: &[Requirement],
    ) -> Result<Arc<LastAccessedJob>, AppError> {
        let created = Utc::now();
        let model = self.caller_model(caller)?;
        self.authorize_requirements(&model, caller, needed, created)?;
        let (parsed, entity) = report_entity(model.state(), arn, &caller.account_id)?;
        let mut services: BTreeMap<String, ServiceLastAccessed> = services_named(model.state(), &parsed)
            .into_iter()
            .map(|namespace| (namespace.clone(), ServiceLastAccessed::unused(&namespace)))
            .collect();
        let used = self
            .last_allowed(&allowed_decisions_about(&caller.account_id, &entity.arn, None))
            .await?;
        for access in used.into_iter().filter(|a| is_namespace(&a.service)) {
            let region = |region: String| Some(region).filter(|r| !r.is_empty());
            let service = services
                .entry(access.service.clone())
                .or_insert_with(|| ServiceLastAccessed::unused(&access.service));
            service.last_authenticated = Some(LastAuthentication {
                time: access.last_allowed,
                entity: entity.arn.clone(),
                region: region(access.region),
            });
            if granularity == Granularity::ActionLevel {
                service.tracked_actions = access
                    .actions
                    .into_iter()
                    .map(|action| TrackedAction {
                        action_name: action
                            .action
                            .split_once(':')
                            .map_or(action.action.as_str(), |(_, name)| name)
                            .to_owned(),
                        last_accessed: LastAuthentication {
                            time: action.last_allowed,
                            entity: entity.arn.clone(),
                            region: region(action.region),
                        },
                    })
                    .collect();
            }
        }
        let completed = Utc::now();
        let job = Arc::new(LastAccessedJob {
            job_id: uuid::Builder::from_random_bytes(random_bytes()).into_uuid().to_string(),
            job_type: granularity,
            entity,
            job_creation_date: created,
            job_completion_date: completed,
            services: services.into_values().collect(),
        });
        self.last_accessed_jobs.keep(&caller.account_id, job.clone(), completed);
        Ok(job)
    }

    /// `GetServiceLastAccessedDetails`: the report of the caller's account's job `job_id`,
    /// authorized as `iam:GetServiceLastAccessedDetails` on the job's principal, and recorded.
    ///
    /// # Errors
    /// `NoSuchEntity` for a job this process does not keep for the caller's account;
    /// `AccessDenied`; `ServiceFailure` when the record cannot be made durable.
    pub async fn get_service_last_accessed_details(
        &self,
        caller: &ApiCaller,
        job_id: &str,
    ) -> Result<Arc<LastAccessedJob>, AppError> {
        let parameters = json!({"jobId": job_id});
        self.read_last_accessed_job(caller, job_id, "GetServiceLastAccessedDetails", GET_ACTION, parameters)
            .await
    }

    /// `GetServiceLastAccessedDetailsWithEntities`: the job's principal and its last use of
    /// the service `namespace` (nobody for a service the report does not list), authorized as
    /// `iam:GetServiceLastAccessedDetailsWithEntities` on the job's principal, and recorded.
    ///
    /// # Errors
    /// As [`Gatehouse::get_service_last_accessed_details`].
    pub async fn get_service_last_accessed_details_with_entities(
        &self,
        caller: &ApiCaller,
        job_id: &str,
        namespace: &str,
    ) -> Result<(Arc<LastAccessedJob>, Vec<EntityDetails>), AppError> {
        let parameters = json!({"jobId": job_id, "serviceNamespace": namespace});
        let job = self
            .read_last_accessed_job(
                caller,
                job_id,
                "GetServiceLastAccessedDetailsWithEntities",
                GET_WITH_ENTITIES_ACTION,
                parameters,
            )
            .await?;
        let entities = job.entities_for(namespace);
        Ok((job, entities))
    }

    async fn read_last_accessed_job(
        &self,
        caller: &ApiCaller,
        job_id: &str,
        event_name: &str,
        action: &str,
        parameters: serde_json::Value,
    ) -> Result<Arc<LastAccessedJob>, AppError> {
        let now = Utc::now();
        let found = self.last_accessed_jobs.get(&caller.account_id, job_id, now);
        // The job's principal is the resource; a job not found has none.
        let resource = found
            .as_ref()
            .map_or_else(|_| "*".to_owned(), |job| job.entity.arn.clone());
        let needed = [Requirement::named(action, resource)];
        let outcome = found.and_then(|job| {
            let model = self.caller_model(caller)?;
            self.authorize_requirements(&model, caller, &needed, now)?;
            Ok(job)
        });
        let record = self.read_record(caller, event_name, &needed, parameters, outcome.as_ref().err());
        self.record(vec![record]).await?;
        outcome.map_err(|error| self.encode_denial(&caller.account_id, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn job(id: &str, completed: DateTime<Utc>) -> Arc<LastAccessedJob> {
        Arc::new(LastAccessedJob {
            job_id: id.to_owned(),
            job_type: Granularity::ServiceLevel,
            entity: ReportEntity {
                arn: "arn:aws:iam::111122223333:user/alice".into(),
                name: "alice".into(),
                entity_type: EntityType::User,
                id: "AIDAEXAMPLEEXAMPLE01".into(),
                path: "/".into(),
            },
            job_creation_date: completed,
            job_completion_date: completed,
            services: vec![
                ServiceLastAccessed {
                    service_namespace: "ec2".into(),
                    service_name: "ec2".into(),
                    last_authenticated: None,
                    tracked_actions: vec![],
                },
                ServiceLastAccessed {
                    service_namespace: "s3".into(),
                    service_name: "s3".into(),
                    last_authenticated: Some(LastAuthentication {
                        time: completed,
                        entity: "arn:aws:iam::111122223333:user/alice".into(),
                        region: Some("us-east-1".into()),
                    }),
                    tracked_actions: vec![],
                },
            ],
        })
    }

    #[test]
    fn granularity_is_aws_spelling() {
        for granularity in [Granularity::ServiceLevel, Granularity::ActionLevel] {
            assert_eq!(Granularity::parse(granularity.as_str()), Some(granularity));
        }
        assert_eq!(Granularity::parse("service_level"), None);
        assert_eq!(Granularity::default(), Granularity::ServiceLevel);
    }

    #[test]
    fn jobs_are_per_account_bounded_and_expire() {
        let jobs = LastAccessedJobs::default();
        let t0 = at(0);
        jobs.keep("111122223333", job("first", t0), t0);
        assert_eq!(jobs.get("111122223333", "first", t0).unwrap().job_id, "first");
        let other = jobs.get("444455556666", "first", t0).unwrap_err();
        assert_eq!(other.code, ErrorCode::NoSuchEntity, "another account's job");
        assert_eq!(
            jobs.get("111122223333", "nope", t0).unwrap_err().code,
            ErrorCode::NoSuchEntity
        );

        for n in 0..MAX_JOBS_PER_ACCOUNT {
            jobs.keep("111122223333", job(&format!("job-{n}"), t0), t0);
        }
        assert!(
            jobs.get("111122223333", "first", t0).is_err(),
            "the oldest is forgotten"
        );
        assert!(jobs.get("111122223333", "job-0", t0).is_ok());

        let late = t0 + JOB_LIFETIME;
        assert!(jobs.get("111122223333", "job-0", late).is_err(), "expired");
        jobs.keep("444455556666", job("later", late), late);
        assert!(jobs.lock().get("111122223333").is_none(), "expired jobs are dropped");
    }

    #[test]
    fn entities_and_totals_follow_the_services() {
        let job = job("j", at(0));
        assert_eq!(job.services[0].total_authenticated_entities(), 0);
        assert_eq!(job.services[1].total_authenticated_entities(), 1);
        let s3 = job.entities_for("s3");
        assert_eq!(s3.len(), 1);
        assert_eq!(s3[0].last_authenticated, Some(at(0)));
        assert_eq!(job.entities_for("ec2")[0].last_authenticated, None);
        assert!(job.entities_for("iam").is_empty());
        assert_eq!(job.job_status(), "COMPLETED");
    }

    const ACCOUNT: &str = "111122223333";

    /// An account with bob (a path, his own policy and his group's) and the role deployer.
    fn account() -> AccountState {
        use iam_domain::{decide, evolve, Command, DecideContext};
        let commands = [
            Command::CreateAccount {
                account_id: ACCOUNT.into(),
                account_alias: None,
            },
            Command::CreateUser {
                user_name: "bob".into(),
                path: Some("/staff/".into()),
                permissions_boundary: None,
                tags: vec![],
            },
            Command::PutUserPolicy {
                user_name: "bob".into(),
                policy_name: "own".into(),
                policy_document: r#"{"Version":"2012-10-17","Statement":[
                    {"Effect":"Allow","Action":["s3:Get*","*"],"Resource":"*"},
                    {"Effect":"Deny","Action":"iam:*","Resource":"*"},
                    {"Effect":"Allow","NotAction":"kms:*","Resource":"*"}]}"#
                    .into(),
            },
            Command::CreateGroup {
                group_name: "staff".into(),
                path: None,
            },
            Command::AddUserToGroup {
                group_name: "staff".into(),
                user_name: "bob".into(),
            },
            Command::PutGroupPolicy {
                group_name: "staff".into(),
                policy_name: "shared".into(),
                policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"EC2:Describe*","Resource":"*"}]}"#.into(),
            },
            Command::CreateRole {
                role_name: "deployer".into(),
                path: None,
                assume_role_policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.into(),
                description: None,
                max_session_duration: None,
                permissions_boundary: None,
                tags: vec![],
            },
        ];
        let mut state = AccountState::new();
        for (n, command) in commands.iter().enumerate() {
            let ctx = DecideContext::new(at(n as i64), [n as u8; 16], format!("arn:aws:iam::{ACCOUNT}:root"));
            for event in decide(&state, command, &ctx).unwrap_or_else(|e| panic!("{command:?}: {e:?}")) {
                evolve(&mut state, &event);
            }
        }
        state
    }

    #[test]
    fn a_report_is_about_a_user_or_role_of_the_account() {
        let state = account();
        let bob = format!("arn:aws:iam::{ACCOUNT}:user/staff/bob");
        let (_, entity) = report_entity(&state, &bob, ACCOUNT).unwrap();
        assert_eq!(
            (entity.name.as_str(), entity.entity_type, entity.path.as_str()),
            ("bob", EntityType::User, "/staff/")
        );
        assert!(entity.id.starts_with("AIDA"), "{entity:?}");
        let role = format!("arn:aws:iam::{ACCOUNT}:role/deployer");
        assert_eq!(
            report_entity(&state, &role, ACCOUNT).unwrap().1.entity_type,
            EntityType::Role
        );

        let code = |arn: &str| report_entity(&state, arn, ACCOUNT).unwrap_err().code;
        for (arn, expected) in [
            // Not as IAM has it: without the path, or of another account, or nobody.
            (format!("arn:aws:iam::{ACCOUNT}:user/bob"), ErrorCode::NoSuchEntity),
            (
                "arn:aws:iam::444455556666:user/staff/bob".to_owned(),
                ErrorCode::NoSuchEntity,
            ),
            (format!("arn:aws:iam::{ACCOUNT}:user/ghost"), ErrorCode::NoSuchEntity),
            // Not reported on: groups, policies, anything else.
            (format!("arn:aws:iam::{ACCOUNT}:group/staff"), ErrorCode::InvalidInput),
            (format!("arn:aws:iam::{ACCOUNT}:policy/p"), ErrorCode::InvalidInput),
            ("arn:aws:s3:::reports".to_owned(), ErrorCode::InvalidInput),
            ("bob".to_owned(), ErrorCode::InvalidInput),
        ] {
            assert_eq!(code(&arn), expected, "{arn}");
        }
    }

    #[test]
    fn services_are_those_allow_statements_name() {
        let state = account();
        let (bob, _) = report_entity(&state, &format!("arn:aws:iam::{ACCOUNT}:user/staff/bob"), ACCOUNT).unwrap();
        // s3 (own policy), ec2 (the group's, lower-cased); not iam (denied), kms (NotAction) or `*`.
        let named: Vec<String> = services_named(&state, &bob).into_iter().collect();
        assert_eq!(named, ["ec2", "s3"]);
        let (role, _) = report_entity(&state, &format!("arn:aws:iam::{ACCOUNT}:role/deployer"), ACCOUNT).unwrap();
        assert!(services_named(&state, &role).is_empty(), "no permissions policy");
    }

    #[test]
    fn namespaces_are_what_the_model_allows() {
        assert!(is_namespace("s3") && is_namespace("execute-api") && is_namespace("a4b"));
        assert!(!is_namespace("") && !is_namespace("s3*") && !is_namespace("a b"));
        assert!(!is_namespace(&"x".repeat(65)));
    }
}
