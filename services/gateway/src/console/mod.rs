//! The admin console at `/console`: server-rendered pages (`pages.rs`, maud templates compiled
//! into the binary), no JavaScript build and no asset from elsewhere, so the README's run command
//! serves it as it is.
//!
//! Every action is a GraphQL operation executed in-process on the gateway's own schema as the
//! signed-in principal: authorization, audit records and errors are exactly the API's, and a
//! read-only user sees AWS's `AccessDenied` where the API would answer it.
//!
//! Sessions: signing in (an IAM user's password and MFA code through Gatehouse's sign-in, or an
//! access key pair for the root user) makes a console session held by this process: a random
//! id in a cookie (`HttpOnly`, `SameSite=Strict`, `Path=/console`, `Secure` when the request came
//! over TLS), the credentials' key id and session token on the server side only, a CSRF token
//! every form carries back, an idle timeout and the credentials' own expiry. Several gateways
//! behind one load balancer need sticky sessions (a session lives in the process that made it).
//! Sign-in forms carry their page's own token (login CSRF), and a POST from another site
//! (`Origin`, `Sec-Fetch-Site`) is refused before it is read.
//!
//! Read-only screens: a form is shown only when the principal's own policies could allow its
//! action ([`CHANGES`], `iam-app`'s `caller_could`); the change is still authorized in full.

mod credentials;
mod entities;
mod entity_detail;
mod organization;
mod pages;
mod policies;
mod user;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use iam_app::access::ApiCaller;
use iam_app::signin::{KeySignInRequest, SignInError, SignInRequest};
use iam_secrets::password::Password;
use serde::Deserialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::auth::CredentialStore;
use crate::{Gateway, Keys};

/// The session cookie.
const COOKIE: &str = "gatehouse_console";
/// A session unused this long is signed out.
const IDLE: Duration = Duration::from_secs(60 * 60);
/// The longest session, whatever the credentials allow.
const LONGEST: Duration = Duration::from_secs(8 * 60 * 60);
/// Sessions one process keeps at most; past it the oldest are dropped.
const MAX_SESSIONS: usize = 10_000;
/// Rows per page of a list.
const PAGE: i64 = 50;
/// A name search reads the list this many at a time...
const SEARCH_PAGE: i64 = 200;
/// ...and at most this many times.
const MAX_SEARCH_PAGES: usize = 50;

/// A signed-in console user. The credentials' secret is never kept: the console acts through
/// the key id and the session token, checked again at every request.
struct Session {
    access_key_id: String,
    /// For a password sign-in: the temporary credentials' session token.
    session_token: Option<Zeroizing<String>>,
    principal_arn: String,
    csrf: String,
    expires: Instant,
    last_used: Instant,
}

/// The console sessions of this process.
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn open(&self, session: Session) -> String {
        let id = random_token();
        let mut sessions = self.lock();
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now && now.duration_since(s.last_used) < IDLE);
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| id.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(id.clone(), session);
        id
    }
}

/// 32 random bytes from the operating system, hex.
fn random_token() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal without a timing difference that depends on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The routes under `/console`.
pub(crate) fn routes() -> Router<Gateway> {
    Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/signin", get(signin_page).post(signin_password))
        .route("/console/signin/keys", post(signin_keys))
        .route("/console/signout", post(signout))
        .route("/console/users", get(users).post(create_user))
        .route("/console/audit", get(audit))
        .route("/console/audit/event", get(audit_event))
        .route("/console/policies", get(policies::list))
        .route("/console/policies/edit", get(policies::edit).post(policies::submit))
        .route("/console/policies/validate", post(policies::validate))
        .route("/console/console.css", get(stylesheet))
        .route("/console/console.js", get(script))
        .route("/console/users/detail", get(user::show).post(user::change))
        .route("/console/organization", get(organization::show))
        .route(
            "/console/credentials",
            get(credentials::show).post(credentials::generate),
        )
        .route("/console/credentials.csv", get(credentials::download))
        .route(
            "/console/groups/detail",
            get(entity_detail::group).post(entity_detail::change_group),
        )
        .route(
            "/console/roles/detail",
            get(entity_detail::role).post(entity_detail::change_role),
        )
        // `groups` and `roles`; the static routes above take precedence over the capture.
        .route("/console/{entities}", get(entities::list).post(entities::change_entity))
        .layer(axum::middleware::from_fn(same_origin_posts))
}

/// A change (any POST, sign-in included) must come from the console's own pages. Browsers name
/// the page a form was posted from in `Origin` and `Sec-Fetch-Site`; a post from another site
/// is refused before it is read. Clients that send neither still need the CSRF token.
async fn same_origin_posts(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if request.method() == axum::http::Method::POST && !same_origin(request.headers()) {
        return page(
            StatusCode::FORBIDDEN,
            pages::message(
                "Request refused",
                "The form was posted from another site: nothing was changed.",
            ),
        );
    }
    next.run(request).await
}

fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    let Some(origin) = text("origin") else {
        return true;
    };
    let Some((_, authority)) = origin.split_once("://") else {
        // `null` (a sandboxed frame, a redirect across origins) or nonsense.
        return false;
    };
    [text("host"), text("x-forwarded-host")]
        .into_iter()
        .flatten()
        .any(|host| host.eq_ignore_ascii_case(authority))
}

/// Every change the console offers, by the action AWS authorizes it with: a form is shown only
/// when the signed-in principal could be allowed its action (read-only screens for a read-only
/// user); the change itself is always authorized in full when made.
const CHANGES: &[&str] = &[
    "iam:CreateUser",
    "iam:UpdateUser",
    "iam:DeleteUser",
    "iam:AttachUserPolicy",
    "iam:DetachUserPolicy",
    "iam:TagUser",
    "iam:UntagUser",
    "iam:PutUserPermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
    "iam:CreateGroup",
    "iam:UpdateGroup",
    "iam:DeleteGroup",
    "iam:AttachGroupPolicy",
    "iam:DetachGroupPolicy",
    "iam:AddUserToGroup",
    "iam:RemoveUserFromGroup",
    "iam:CreateRole",
    "iam:UpdateRole",
    "iam:DeleteRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:GenerateCredentialReport",
];

/// What a page request knows of its session.
struct Signed {
    id: String,
    principal_arn: String,
    csrf: String,
    caller: ApiCaller,
    /// The changes of [`CHANGES`] the principal could be allowed.
    may: pages::Permits,
}

/// The request's live session, as a page handler takes it: a request without one is sent to the
/// sign-in page before the handler runs.
impl axum::extract::FromRequestParts<Gateway> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, gateway: &Gateway) -> Result<Self, Response> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| *peer)
            .ok_or_else(to_signin)?;
        signed_in(gateway, &parts.headers, peer).ok_or_else(to_signin)
    }
}

impl Signed {
    fn frame(&self) -> pages::Frame<'_> {
        pages::Frame {
            principal: &self.principal_arn,
            csrf: &self.csrf,
            may: &self.may,
        }
    }
}

fn cookie_of(headers: &HeaderMap) -> Option<String> {
    named_cookie(headers, COOKIE)
}

fn named_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
}

fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn session_cookie(id: &str, headers: &HeaderMap) -> HeaderValue {
    let secure = if over_tls(headers) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={id}; Path=/console; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static("gatehouse_console=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The request's session, if it has a live one; refreshed. The caller is built as the API
/// builds it for the same credentials: a revoked key or an expired session ends the session.
fn signed_in(gateway: &Gateway, headers: &HeaderMap, peer: SocketAddr) -> Option<Signed> {
    let id = cookie_of(headers)?;
    let (access_key_id, token, principal_arn, csrf) = {
        let mut sessions = gateway.console.lock();
        let now = Instant::now();
        let session = sessions.get_mut(&id)?;
        if session.expires <= now || now.duration_since(session.last_used) >= IDLE {
            sessions.remove(&id);
            return None;
        }
        session.last_used = now;
        (
            session.access_key_id.clone(),
            session.session_token.clone(),
            session.principal_arn.clone(),
            session.csrf.clone(),
        )
    };
    let keys = Keys(&gateway.gatehouse);
    let (account_id, principal, session) = match &token {
        Some(token) => {
            let claims = keys.session(&access_key_id, token, chrono::Utc::now()).ok()?;
            (claims.account_id.clone(), claims.principal_arn.clone(), Some(claims))
        }
        None => {
            let record = keys.lookup(&access_key_id).filter(|r| r.active)?;
            (record.account_id, record.principal_arn, None)
        }
    };
    if principal != principal_arn {
        return None;
    }
    let caller = ApiCaller {
        account_id,
        principal_arn: principal,
        access_key_id: Some(access_key_id),
        source_ip: Some(peer.ip().to_string()),
        user_agent: user_agent(headers),
        request_id: uuid::Uuid::now_v7().to_string(),
        region: gateway.auth.region.clone(),
        api_version: None,
        session,
    };
    let could = gateway.gatehouse.caller_could(&caller, CHANGES);
    let may = pages::Permits(
        CHANGES
            .iter()
            .zip(could)
            .filter_map(|(action, allowed)| allowed.then_some(*action))
            .collect(),
    );
    Some(Signed {
        id,
        principal_arn,
        csrf,
        caller,
        may,
    })
}

/// Runs one GraphQL operation as the signed-in principal.
async fn run(gateway: &Gateway, caller: &ApiCaller, query: &str, variables: Value) -> Result<Value, String> {
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables))
        .data(caller.clone());
    let response = gateway.schema.execute(request).await;
    if let Some(error) = response.errors.first() {
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(|c| c.to_string().trim_matches('"').to_owned())
            .unwrap_or_else(|| "Error".into());
        return Err(format!("{code}: {}", error.message));
    }
    serde_json::to_value(&response.data).map_err(|e| format!("ServiceFailure: {e}"))
}

fn page(status: StatusCode, body: maud::Markup) -> Response {
    let mut response = (status, Html(body.into_string())).into_response();
    let headers = response.headers_mut();
    // The console's own resources only; no frame may embed it (clickjacking).
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // `same-origin`, not `no-referrer`: with no referrer at all, browsers post forms with
    // `Origin: null`, which the same-origin check must refuse.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

fn to_signin() -> Response {
    Redirect::to("/console/signin").into_response()
}

async fn home(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    match signed_in(&gateway, &headers, peer) {
        Some(_) => Redirect::to("/console/users").into_response(),
        None => to_signin(),
    }
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("console.css"),
    )
        .into_response()
}

/// The console's one script: progressive enhancement only (copy buttons); every page works
/// without it.
async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("console.js"),
    )
        .into_response()
}

/// The sign-in forms' cookie: before there is a session, the forms carry its value back
/// (double submit), so another site cannot sign a browser in to an account of its choosing
/// (login CSRF).
const SIGNIN_COOKIE: &str = "gatehouse_console_signin";
const SIGNIN_TOKEN_REFUSED: &str = "The sign-in form had expired or came from elsewhere: sign in again.";

async fn signin_page() -> Response {
    signin_form(StatusCode::OK, None)
}

/// The sign-in page with a fresh sign-in token, in its forms and in its cookie.
fn signin_form(status: StatusCode, error: Option<&str>) -> Response {
    let token = random_token();
    let mut response = page(status, pages::signin(error, &token));
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{SIGNIN_COOKIE}={token}; Path=/console/signin; HttpOnly; SameSite=Strict; Max-Age=3600"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Whether a sign-in form carried back the token of the cookie its page set.
fn signin_token_holds(headers: &HeaderMap, token: &str) -> bool {
    named_cookie(headers, SIGNIN_COOKIE).is_some_and(|cookie| !token.is_empty() && same_secret(&cookie, token))
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(256).collect())
}

#[derive(Deserialize)]
struct PasswordForm {
    account: String,
    user_name: String,
    password: String,
    #[serde(default)]
    mfa_code: String,
    #[serde(default)]
    signin_token: String,
}

async fn signin_password(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    if !signin_token_holds(&headers, &form.signin_token) {
        return signin_form(StatusCode::FORBIDDEN, Some(SIGNIN_TOKEN_REFUSED));
    }
    let request = SignInRequest {
        account: form.account.trim().to_owned(),
        user_name: form.user_name.trim().to_owned(),
        password: Password::new(form.password),
        mfa_code: Some(form.mfa_code.trim().to_owned()).filter(|c| !c.is_empty()),
        new_password: None,
        duration_seconds: Some(u32::try_from(LONGEST.as_secs()).unwrap_or(43_200)),
        source_ip: Some(peer.ip().to_string()),
        user_agent: user_agent(&headers),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let refused = |message: &str| signin_form(StatusCode::UNAUTHORIZED, Some(message));
    match gateway.gatehouse.sign_in(request).await {
        Ok(signed) => {
            let lifetime = (signed.credentials.expiration - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
                .min(LONGEST);
            let now = Instant::now();
            let id = gateway.console.open(Session {
                access_key_id: signed.credentials.access_key_id.clone(),
                session_token: Some(Zeroizing::new(signed.credentials.session_token.as_str().to_owned())),
                principal_arn: signed.user_arn.clone(),
                csrf: random_token(),
                expires: now + lifetime,
                last_used: now,
            });
            signed_in_response(&id, &headers)
        }
        Err(SignInError::Failed) => refused("The account, user name, password or MFA code is not correct."),
        Err(SignInError::MfaRequired) => refused("This user signs in with an MFA code."),
        Err(SignInError::Throttled { .. }) => refused("Too many failed sign-ins; try again later."),
        Err(SignInError::PasswordChangeRequired) => {
            refused("The password must be changed first (POST /v1/signin with newPassword).")
        }
        Err(SignInError::PasswordExpired) => refused("The password has expired; an administrator must reset it."),
        Err(SignInError::PasswordPolicyViolation(message) | SignInError::Validation(message)) => refused(&message),
        Err(SignInError::ServiceFailure(message)) => {
            tracing::error!(error = %message, "console sign-in failed");
            signin_form(
                StatusCode::SERVICE_UNAVAILABLE,
                Some("Gatehouse could not sign you in."),
            )
        }
    }
}

#[derive(Deserialize)]
struct KeysForm {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    signin_token: String,
}

/// The root user (who has no password here) signs in with an access key pair: Gatehouse's key
/// sign-in, throttled and recorded as a password sign-in is.
async fn signin_keys(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<KeysForm>,
) -> Response {
    if !signin_token_holds(&headers, &form.signin_token) {
        return signin_form(StatusCode::FORBIDDEN, Some(SIGNIN_TOKEN_REFUSED));
    }
    let request = KeySignInRequest {
        access_key_id: form.access_key_id.trim().to_owned(),
        secret_access_key: Zeroizing::new(form.secret_access_key.trim().to_owned()),
        source_ip: Some(peer.ip().to_string()),
        user_agent: user_agent(&headers),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let access_key_id = request.access_key_id.clone();
    match gateway.gatehouse.sign_in_with_key(request).await {
        Ok(signed) => {
            let now = Instant::now();
            let id = gateway.console.open(Session {
                access_key_id,
                session_token: None,
                principal_arn: signed.principal_arn,
                csrf: random_token(),
                expires: now + LONGEST,
                last_used: now,
            });
            signed_in_response(&id, &headers)
        }
        Err(SignInError::Throttled { .. }) => signin_form(
            StatusCode::UNAUTHORIZED,
            Some("Too many failed sign-ins; try again later."),
        ),
        Err(SignInError::ServiceFailure(message)) => {
            tracing::error!(error = %message, "console key sign-in failed");
            signin_form(
                StatusCode::SERVICE_UNAVAILABLE,
                Some("Gatehouse could not sign you in."),
            )
        }
        Err(_) => signin_form(
            StatusCode::UNAUTHORIZED,
            Some("The access key or its secret is not correct."),
        ),
    }
}

fn signed_in_response(id: &str, headers: &HeaderMap) -> Response {
    let mut response = Redirect::to("/console/users").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(id, headers));
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Whether a change carries the session's CSRF token.
fn csrf_holds(signed: &Signed, token: &str) -> bool {
    same_secret(&signed.csrf, token)
}

/// The session of a change: signed in, and the form carries the session's CSRF token; or the
/// answer to give instead (to the sign-in page, or refused).
fn signed_change(
    gateway: &Gateway,
    headers: &HeaderMap,
    peer: SocketAddr,
    csrf: &str,
) -> Result<Signed, Box<Response>> {
    let signed = signed_in(gateway, headers, peer).ok_or_else(|| Box::new(to_signin()))?;
    if csrf_holds(&signed, csrf) {
        Ok(signed)
    } else {
        Err(Box::new(csrf_refused()))
    }
}

/// A change that did not carry the session's CSRF token: nothing was done.
fn csrf_refused() -> Response {
    page(
        StatusCode::FORBIDDEN,
        pages::message(
            "Request refused",
            "The form did not carry this session's CSRF token: nothing was changed.",
        ),
    )
}

async fn signout(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let signed = match signed_change(&gateway, &headers, peer, &form.csrf) {
        Ok(signed) => signed,
        Err(answer) => return *answer,
    };
    gateway.console.lock().remove(&signed.id);
    let mut response = Redirect::to("/console/signin").into_response();
    response.headers_mut().insert(header::SET_COOKIE, cleared_cookie());
    response
}

#[derive(Deserialize, Default)]
struct UsersQuery {
    #[serde(default)]
    path_prefix: String,
    #[serde(default)]
    search: String,
    after: Option<String>,
}

const USERS: &str = "query($prefix: String, $after: String, $first: Int) {
  users(pathPrefix: $prefix, after: $after, first: $first) {
    nodes { userName path arn createDate }
    pageInfo { hasNextPage endCursor }
  }
}";

/// One page of a list of users, groups, roles or policies, filtered by path and name.
struct Listing<'a> {
    /// Takes `$prefix`, `$after` and `$first` (and `$scope`, for policies); answers a
    /// connection at `field`.
    query: &'static str,
    /// More variables of the query.
    variables: Value,
    field: &'static str,
    /// The node's name field (`userName`, ...).
    name_field: &'static str,
    prefix: Option<&'a str>,
    /// Part of the name, any case; empty for all.
    search: &'a str,
    after: Option<String>,
}

/// A page of nodes and the cursor after it. The API filters by path only, so a name search
/// reads the list in large pages until a page of matches is found: bounded, as a console page
/// must stay cheap.
async fn list_nodes(
    gateway: &Gateway,
    signed: &Signed,
    listing: Listing<'_>,
) -> Result<(Vec<Value>, Option<String>), String> {
    let search = listing.search.trim().to_lowercase();
    let mut rows: Vec<Value> = Vec::new();
    let mut after = listing.after;
    let mut next = None;
    for _ in 0..if search.is_empty() { 1 } else { MAX_SEARCH_PAGES } {
        let first = if search.is_empty() { PAGE } else { SEARCH_PAGE };
        let mut variables = json!({"prefix": listing.prefix, "after": after, "first": first});
        if let (Some(all), Some(more)) = (variables.as_object_mut(), listing.variables.as_object()) {
            all.extend(more.clone());
        }
        let data = run(gateway, &signed.caller, listing.query, variables).await?;
        let connection = &data[listing.field];
        for node in connection["nodes"].as_array().into_iter().flatten() {
            let name = node[listing.name_field].as_str().unwrap_or_default();
            if search.is_empty() || name.to_lowercase().contains(&search) {
                rows.push(node.clone());
            }
        }
        next = connection["pageInfo"]["hasNextPage"]
            .as_bool()
            .unwrap_or(false)
            .then(|| connection["pageInfo"]["endCursor"].as_str().map(str::to_owned))
            .flatten();
        after.clone_from(&next);
        if next.is_none() || rows.len() >= usize::try_from(PAGE).unwrap_or(50) {
            break;
        }
    }
    Ok((rows, next))
}

/// [`list_nodes`] of users, groups or roles, as table rows.
async fn list_named(
    gateway: &Gateway,
    signed: &Signed,
    listing: Listing<'_>,
) -> Result<(Vec<pages::UserRow>, Option<String>), String> {
    let name_field = listing.name_field;
    let (nodes, next) = list_nodes(gateway, signed, listing).await?;
    let rows = nodes
        .iter()
        .map(|node| {
            let text = |key: &str| node[key].as_str().unwrap_or_default().to_owned();
            pages::UserRow {
                name: text(name_field),
                path: text("path"),
                arn: text("arn"),
                created: text("createDate"),
            }
        })
        .collect();
    Ok((rows, next))
}

async fn users(State(gateway): State<Gateway>, signed: Signed, Query(query): Query<UsersQuery>) -> Response {
    users_page(&gateway, &signed, &query, None, StatusCode::OK).await
}

async fn users_page(
    gateway: &Gateway,
    signed: &Signed,
    query: &UsersQuery,
    notice: Option<pages::Notice>,
    status: StatusCode,
) -> Response {
    let prefix = Some(query.path_prefix.trim()).filter(|p| !p.is_empty());
    let view = list_named(
        gateway,
        signed,
        Listing {
            query: USERS,
            variables: Value::Null,
            field: "users",
            name_field: "userName",
            prefix,
            search: &query.search,
            after: query.after.clone(),
        },
    )
    .await;
    page(
        status,
        pages::users(&signed.frame(), &query.path_prefix, &query.search, view, notice),
    )
}

#[derive(Deserialize)]
struct CreateUserForm {
    #[serde(default)]
    csrf: String,
    user_name: String,
    #[serde(default)]
    path: String,
}

async fn create_user(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CreateUserForm>,
) -> Response {
    let signed = match signed_change(&gateway, &headers, peer, &form.csrf) {
        Ok(signed) => signed,
        Err(answer) => return *answer,
    };
    let path = Some(form.path.trim()).filter(|p| !p.is_empty());
    let created = run(
        &gateway,
        &signed.caller,
        "mutation($name: String!, $path: String) { createUser(input: {userName: $name, path: $path}) { user { userName } } }",
        json!({"name": form.user_name.trim(), "path": path}),
    )
    .await;
    let (notice, status) = match created {
        Ok(_) => (
            pages::Notice::Done(format!("User {} created.", form.user_name.trim())),
            StatusCode::OK,
        ),
        Err(message) => (pages::Notice::Refused(message), StatusCode::OK),
    };
    users_page(&gateway, &signed, &UsersQuery::default(), Some(notice), status).await
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    /// `datetime-local` (UTC): records at or after.
    #[serde(default)]
    from: String,
    /// Records before.
    #[serde(default)]
    to: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    principal: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    error_code: String,
    after: Option<String>,
    /// Reload every few seconds: the live tail.
    #[serde(default)]
    live: Option<String>,
}

const AUDIT: &str = "query($filter: AuditEventFilter, $after: String, $first: Int) {
  auditEvents(filter: $filter, after: $after, first: $first) {
    edges { cursor node { eventID eventTime eventName action resourceArn decision errorCode
      userIdentity { arn } requestParameters } }
    pageInfo { hasNextPage }
  }
}";

async fn audit(State(gateway): State<Gateway>, signed: Signed, Query(query): Query<AuditQuery>) -> Response {
    let given = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
    let instant = |value: &str| -> Result<Option<String>, String> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(None);
        }
        // `datetime-local` sends `2026-12-07T10:15` or with seconds; read as UTC.
        let with_seconds = if value.len() == 16 {
            format!("{value}:00")
        } else {
            value.to_owned()
        };
        chrono::NaiveDateTime::parse_from_str(&with_seconds, "%Y-%m-%dT%H:%M:%S")
            .map(|t| Some(t.and_utc().to_rfc3339()))
            .map_err(|_| format!("InvalidInput: {value:?} is not a time (YYYY-MM-DDTHH:MM)"))
    };
    let window = instant(&query.from).and_then(|from| Ok((from, instant(&query.to)?)));
    let (from, to) = window.clone().unwrap_or_default();
    let filter = json!({
        "from": from,
        "to": to,
        "resourceArn": given(&query.resource),
        "decidedPrincipalArn": given(&query.principal),
        "action": given(&query.action),
        "decision": given(&query.decision),
        "errorCode": given(&query.error_code),
    });
    let found = run(
        &gateway,
        &signed.caller,
        AUDIT,
        json!({"filter": filter, "after": query.after, "first": PAGE}),
    )
    .await
    .map(|data| {
        let edges = data["auditEvents"]["edges"].as_array().cloned().unwrap_or_default();
        let next = data["auditEvents"]["pageInfo"]["hasNextPage"]
            .as_bool()
            .unwrap_or(false)
            .then(|| edges.last().and_then(|e| e["cursor"].as_str()).map(str::to_owned))
            .flatten();
        let rows = edges
            .iter()
            .map(|edge| {
                let node = &edge["node"];
                let text = |key: &str| node[key].as_str().unwrap_or_default().to_owned();
                pages::AuditRow {
                    event_id: text("eventID"),
                    time: text("eventTime"),
                    name: text("eventName"),
                    caller: node["userIdentity"]["arn"].as_str().unwrap_or_default().to_owned(),
                    // For a decision, the principal decided on (the caller is the application).
                    principal: node["requestParameters"]["principalArn"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    action: text("action"),
                    resource: text("resourceArn"),
                    outcome: match (node["decision"].as_str(), node["errorCode"].as_str()) {
                        (Some(decision), _) => decision.to_owned(),
                        (None, Some(error)) => error.to_owned(),
                        (None, None) => "OK".to_owned(),
                    },
                }
            })
            .collect();
        (rows, next)
    });
    let found = match window {
        Ok(_) => found,
        Err(message) => Err(message),
    };
    let chart = hourly_counts(&gateway, &signed, &filter).await;
    let filters = pages::AuditFilters {
        from: &query.from,
        to: &query.to,
        resource: &query.resource,
        principal: &query.principal,
        action: &query.action,
        decision: &query.decision,
        error_code: &query.error_code,
        live: query.live.as_deref() == Some("1"),
    };
    page(StatusCode::OK, pages::audit(&signed.frame(), &filters, found, &chart))
}

/// The last 24 hours' matching records, hour by hour (oldest first): `(hour, allowed or
/// succeeded, denied or failed)`.
async fn hourly_counts(gateway: &Gateway, signed: &Signed, filter: &Value) -> Vec<(String, u64, u64)> {
    use chrono::{DurationRound, Utc};
    let hour = chrono::Duration::hours(1);
    let now = Utc::now();
    let start = now.duration_trunc(hour).unwrap_or(now) - hour * 23;
    let mut bars = Vec::with_capacity(24);
    for n in 0..24 {
        let from = start + hour * n;
        let mut window = filter.clone();
        window["from"] = json!(from);
        window["to"] = json!(from + hour);
        let counts = run(
            gateway,
            &signed.caller,
            "query($f: AuditEventFilter) { d: auditEventCounts(filter: $f, groupBy: DECISION) { value count } e: auditEventCounts(filter: $f, groupBy: ERROR_CODE) { value count } }",
            json!({"f": window}),
        )
        .await
        .unwrap_or(Value::Null);
        let total = |rows: &Value, bad: &dyn Fn(Option<&str>) -> bool| -> (u64, u64) {
            rows.as_array()
                .into_iter()
                .flatten()
                .fold((0, 0), |(good, failed), row| {
                    let count = row["count"].as_u64().unwrap_or(0);
                    if bad(row["value"].as_str()) {
                        (good, failed + count)
                    } else {
                        (good + count, failed)
                    }
                })
        };
        // Every record has an error code or not; decisions are denied or not.
        let (_, denied) = total(&counts["d"], &|v| v.is_some_and(|v| v != "Allow"));
        let (ok, errors) = total(&counts["e"], &|v| v.is_some());
        bars.push((
            from.format("%H:00").to_string(),
            ok.saturating_sub(denied),
            denied + errors,
        ));
    }
    bars
}

#[derive(Deserialize)]
struct EventQuery {
    id: String,
    /// `RECORDED` or `NOW`: replay the decision on that state.
    replay: Option<String>,
}

const EVENT: &str = "query($id: String!) { auditEvent(eventID: $id) { eventName decision cloudTrailRecord } }";
const REPLAY: &str = "query($id: String!, $at: ReplayAt!) { auditEvent(eventID: $id) {
  replay(at: $at) { decision recordedDecision matches exact statementsAdded statementsRemoved accountSequence errorMessage } } }";

/// One record: its CloudTrail JSON and, for a decision, a replay on the state then or now.
async fn audit_event(State(gateway): State<Gateway>, signed: Signed, Query(query): Query<EventQuery>) -> Response {
    let frame = signed.frame();
    let record = match run(&gateway, &signed.caller, EVENT, json!({"id": query.id})).await {
        Ok(data) if data["auditEvent"].is_null() => {
            Err(format!("NoSuchEntity: no record {} in this history", query.id))
        }
        Ok(data) => Ok(data["auditEvent"].clone()),
        Err(refusal) => Err(refusal),
    };
    let replay = match (&record, query.replay.as_deref()) {
        (Ok(event), Some(at @ ("RECORDED" | "NOW"))) if !event["decision"].is_null() => Some(
            run(&gateway, &signed.caller, REPLAY, json!({"id": query.id, "at": at}))
                .await
                .map(|data| (at.to_owned(), data["auditEvent"]["replay"].clone())),
        ),
        _ => None,
    };
    page(StatusCode::OK, pages::audit_event(&frame, &query.id, record, replay))
}
