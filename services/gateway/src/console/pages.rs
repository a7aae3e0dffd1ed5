//! The console's pages. maud escapes every interpolated value, so names, ARNs and messages from
//! the API are text, never markup.

use maud::{html, Markup, DOCTYPE};

/// The signed-in frame every page shares: who is signed in, and the CSRF token its forms carry.
pub(super) struct Frame<'a> {
    pub(super) principal: &'a str,
    pub(super) csrf: &'a str,
    pub(super) may: &'a Permits,
}

impl Frame<'_> {
    /// Whether the principal could be allowed `action`: its form is shown.
    fn may(&self, action: &str) -> bool {
        self.may.0.contains(&action)
    }
}

/// The changes (`iam:CreateUser`, ...) the signed-in principal could be allowed.
#[derive(Default)]
pub(super) struct Permits(pub(super) Vec<&'static str>);

/// In place of a form the principal could never use.
fn read_only(what: &str) -> Markup {
    html! { p.read-only { "Read-only: your policies do not allow you to " (what) "." } }
}

/// The outcome of a change, shown above the page.
pub(super) enum Notice {
    Done(String),
    /// The API's refusal, as `Code: message` (`AccessDenied: User: ... is not authorized ...`).
    Refused(String),
}

pub(super) struct UserRow {
    pub(super) name: String,
    pub(super) path: String,
    pub(super) arn: String,
    pub(super) created: String,
}

pub(super) struct AuditRow {
    pub(super) event_id: String,
    pub(super) time: String,
    pub(super) name: String,
    pub(super) caller: String,
    pub(super) principal: String,
    pub(super) action: String,
    pub(super) resource: String,
    pub(super) outcome: String,
}

pub(super) struct AuditFilters<'a> {
    pub(super) from: &'a str,
    pub(super) to: &'a str,
    pub(super) resource: &'a str,
    pub(super) principal: &'a str,
    pub(super) action: &'a str,
    pub(super) decision: &'a str,
    pub(super) error_code: &'a str,
    pub(super) live: bool,
}

fn layout(title: &str, frame: Option<&Frame<'_>>, content: Markup) -> Markup {
    layout_with(title, frame, false, content)
}

fn layout_with(title: &str, frame: Option<&Frame<'_>>, refresh: bool, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if refresh { meta http-equiv="refresh" content="5"; }
                title { (title) " · Gatehouse" }
                link rel="stylesheet" href="/console/console.css";
                script src="/console/console.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/console" { "Gatehouse" }
                    @if let Some(frame) = frame {
                        nav aria-label="Main" {
                            a href="/console/users" { "Users" }
                            a href="/console/groups" { "Groups" }
                            a href="/console/roles" { "Roles" }
                            a href="/console/policies" { "Policies" }
                            a href="/console/credentials" { "Credentials" }
                            a href="/console/audit" { "Audit" }
                            a href="/console/organization" { "Organization" }
                        }
                        div.who {
                            span.principal title=(frame.principal) { (frame.principal) }
                            form method="post" action="/console/signout" {
                                input type="hidden" name="csrf" value=(frame.csrf);
                                button type="submit" id="signout" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" { (content) }
            }
        }
    }
}

fn notice(notice: Option<&Notice>) -> Markup {
    html! {
        @match notice {
            Some(Notice::Done(text)) => { p.notice.done role="status" { (text) } }
            Some(Notice::Refused(text)) => { p.notice.refused role="alert" { (text) } }
            None => {}
        }
    }
}

pub(super) fn message(title: &str, text: &str) -> Markup {
    layout(
        title,
        None,
        html! {
            h1 { (title) }
            p.notice.refused role="alert" { (text) }
            p { a href="/console" { "Back to the console" } }
        },
    )
}

pub(super) fn signin(error: Option<&str>, token: &str) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(error) = error { p.notice.refused role="alert" id="signin-error" { (error) } }
            section.card {
                h2 { "IAM user" }
                form method="post" action="/console/signin" id="signin-password" {
                    input type="hidden" name="signin_token" value=(token);
                    label { "Account (12-digit id or alias)" input name="account" required autocomplete="organization"; }
                    label { "User name" input name="user_name" required autocomplete="username"; }
                    label { "Password" input name="password" type="password" required autocomplete="current-password"; }
                    label { "MFA code (if the user has a device)" input name="mfa_code" inputmode="numeric" autocomplete="one-time-code"; }
                    button type="submit" { "Sign in" }
                }
            }
            section.card {
                h2 { "Root user (access key)" }
                form method="post" action="/console/signin/keys" id="signin-keys" {
                    input type="hidden" name="signin_token" value=(token);
                    label { "Access key id" input name="access_key_id" required autocomplete="off"; }
                    label { "Secret access key" input name="secret_access_key" type="password" required autocomplete="off"; }
                    button type="submit" { "Sign in with the key" }
                }
            }
        },
    )
}

pub(super) fn users(
    frame: &Frame<'_>,
    path_prefix: &str,
    search: &str,
    view: Result<(Vec<UserRow>, Option<String>), String>,
    change: Option<Notice>,
) -> Markup {
    layout(
        "Users",
        Some(frame),
        html! {
            h1 { "Users" }
            (notice(change.as_ref()))
            form.filters method="get" action="/console/users" role="search" {
                label { "Name contains" input name="search" value=(search); }
                label { "Path prefix" input name="path_prefix" value=(path_prefix) placeholder="/"; }
                button type="submit" { "Filter" }
            }
            @match view {
                Ok((rows, next)) => {
                    table id="users" {
                        caption { (rows.len()) " users on this page" }
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Path" } th scope="col" { "ARN" } th scope="col" { "Created" } } }
                        tbody {
                            @for row in &rows {
                                tr { td.name { a href={ "/console/users/detail?name=" (encoded(&row.name)) } { (row.name) } } td { (row.path) } td.arn { (row.arn) } td { (row.created) } }
                            }
                        }
                    }
                    @if let Some(next) = next {
                        p { a href={ "/console/users?after=" (percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC)) "&path_prefix=" (percent_encoding::utf8_percent_encode(path_prefix, percent_encoding::NON_ALPHANUMERIC)) "&search=" (percent_encoding::utf8_percent_encode(search, percent_encoding::NON_ALPHANUMERIC)) } { "Next page" } }
                    }
                }
                Err(refusal) => { p.notice.refused role="alert" { (refusal) } }
            }
            @if frame.may("iam:CreateUser") {
                section.card {
                    h2 { "Create a user" }
                    form method="post" action="/console/users" id="create-user" {
                        input type="hidden" name="csrf" value=(frame.csrf);
                        label { "User name" input name="user_name" required maxlength="64"; }
                        label { "Path" input name="path" placeholder="/"; }
                        button type="submit" { "Create user" }
                    }
                }
            } @else { (read_only("create users")) }
        },
    )
}

pub(super) fn audit(
    frame: &Frame<'_>,
    filters: &AuditFilters<'_>,
    found: Result<(Vec<AuditRow>, Option<String>), String>,
    chart: &[(String, u64, u64)],
) -> Markup {
    let option = |value: &str, label: &str| {
        html! { option value=(value) selected[filters.decision == value] { (label) } }
    };
    let query = |live: bool| {
        format!(
            "/console/audit?from={}&to={}&resource={}&principal={}&action={}&decision={}&error_code={}{}",
            encoded(filters.from),
            encoded(filters.to),
            encoded(filters.resource),
            encoded(filters.principal),
            encoded(filters.action),
            encoded(filters.decision),
            encoded(filters.error_code),
            if live { "&live=1" } else { "" }
        )
    };
    let highest = chart.iter().map(|(_, ok, bad)| ok + bad).max().unwrap_or(0).max(1);
    layout_with(
        "Audit",
        Some(frame),
        filters.live,
        html! {
            h1 { "Audit history" }
            p {
                @if filters.live { a id="live" href=(query(false)) { "Stop the live tail" } " (reloading every 5 seconds)" }
                @else { a id="live" href=(query(true)) { "Live tail" } }
            }
            figure.chart aria-label="Matching records per hour, the last 24 hours" {
                div.bars {
                    @for (hour, ok, bad) in chart {
                        div.bar title={ (hour) ": " (ok) " allowed or succeeded, " (bad) " denied or failed" } {
                            // Heights in tenths, as classes: the page's CSP allows no inline style.
                            div class={ "bad h" (tenths(*bad, highest)) } {}
                            div class={ "ok h" (tenths(*ok, highest)) } {}
                        }
                    }
                }
                figcaption { "Records per hour, last 24 hours (dark: denied or failed)" }
                table.visually-hidden {
                    caption { "Records per hour" }
                    tbody { @for (hour, ok, bad) in chart { tr { th scope="row" { (hour) } td { (ok) } td { (bad) } } } }
                }
            }
            form.filters method="get" action="/console/audit" role="search" {
                label { "From (UTC)" input name="from" type="datetime-local" step="1" value=(filters.from); }
                label { "To (UTC)" input name="to" type="datetime-local" step="1" value=(filters.to); }
                label { "Principal decided on (ARN)" input name="principal" value=(filters.principal); }
                label { "Resource (ARN)" input name="resource" value=(filters.resource); }
                label { "Action" input name="action" value=(filters.action) placeholder="s3:GetObject"; }
                label { "Decision"
                    select name="decision" {
                        (option("", "Any"))
                        (option("Allow", "Allow"))
                        (option("ImplicitDeny", "Implicit deny"))
                        (option("ExplicitDeny", "Explicit deny"))
                    }
                }
                label { "Error code" input name="error_code" value=(filters.error_code) placeholder="AccessDenied"; }
                button type="submit" { "Filter" }
            }
            @match found {
                Ok((rows, next)) => {
                    table id="audit" {
                        caption { (rows.len()) " records, newest first" }
                        thead { tr {
                            th scope="col" { "Time" } th scope="col" { "Event" } th scope="col" { "Caller" }
                            th scope="col" { "Principal" } th scope="col" { "Action" } th scope="col" { "Resource" }
                            th scope="col" { "Outcome" }
                        } }
                        tbody {
                            @for row in &rows {
                                tr data-event-id=(row.event_id) {
                                    td { a href={ "/console/audit/event?id=" (encoded(&row.event_id)) } { (row.time) } } td { (row.name) } td.arn { (row.caller) } td.arn { (row.principal) }
                                    td { (row.action) } td.arn { (row.resource) } td.outcome { (row.outcome) }
                                }
                            }
                        }
                    }
                    @if let Some(next) = next {
                        p { a href={ "/console/audit?after=" (percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC))
                            "&from=" (encoded(filters.from)) "&to=" (encoded(filters.to)) "&resource=" (encoded(filters.resource))
                            "&principal=" (percent_encoding::utf8_percent_encode(filters.principal, percent_encoding::NON_ALPHANUMERIC))
                            "&action=" (percent_encoding::utf8_percent_encode(filters.action, percent_encoding::NON_ALPHANUMERIC))
                            "&decision=" (percent_encoding::utf8_percent_encode(filters.decision, percent_encoding::NON_ALPHANUMERIC))
                            "&error_code=" (percent_encoding::utf8_percent_encode(filters.error_code, percent_encoding::NON_ALPHANUMERIC)) } { "Older records" } }
                    }
                }
                Err(refusal) => { p.notice.refused role="alert" { (refusal) } }
            }
        },
    )
}

pub(super) struct PolicyRow {
    pub(super) name: String,
    pub(super) arn: String,
    pub(super) version: String,
    pub(super) attachments: i64,
    pub(super) updated: String,
}

pub(super) struct FindingRow {
    /// The line it names; `None` for the document as a whole.
    pub(super) line: Option<u32>,
    pub(super) kind: String,
    pub(super) code: String,
    pub(super) details: String,
}

pub(super) enum Simulation {
    /// The decision and the lines (first, last) of the statements that decided it.
    Decided {
        decision: String,
        lines: Vec<(u32, u32)>,
    },
    Refused(String),
}

pub(super) enum Preview {
    Flips {
        decisions: i64,
        allow_to_deny: i64,
        deny_to_allow: i64,
        /// (principal, action, resource, flip, count)
        groups: Vec<(String, String, String, String, i64)>,
    },
    Refused(String),
}

/// `part` of `whole` in tenths, rounded up so that any record shows.
fn tenths(part: u64, whole: u64) -> u64 {
    (part * 10).div_ceil(whole.max(1)).min(10)
}

fn encoded(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The policy list's filters.
pub(super) struct PolicyFilters<'a> {
    pub(super) search: &'a str,
    pub(super) path_prefix: &'a str,
    /// `LOCAL`, `AWS` or `ALL`.
    pub(super) scope: &'a str,
}

pub(super) fn policies(
    frame: &Frame<'_>,
    filters: &PolicyFilters<'_>,
    found: Result<(Vec<PolicyRow>, Option<String>), String>,
) -> Markup {
    let option = |value: &str, label: &str| {
        html! { option value=(value) selected[filters.scope == value] { (label) } }
    };
    layout(
        "Policies",
        Some(frame),
        html! {
            h1 { "Managed policies" }
            p { a.button href="/console/policies/edit" id="new-policy" {
                @if frame.may("iam:CreatePolicy") { "New policy" } @else { "Draft and simulate a policy" } } }
            form.filters method="get" action="/console/policies" role="search" {
                label { "Name contains" input name="search" value=(filters.search); }
                label { "Path prefix" input name="path_prefix" value=(filters.path_prefix) placeholder="/"; }
                label { "Managed by"
                    select name="scope" {
                        (option("LOCAL", "This account"))
                        (option("AWS", "AWS"))
                        (option("ALL", "Both"))
                    }
                }
                button type="submit" { "Filter" }
            }
            @match found {
                Ok((rows, next)) => {
                    table id="policies" {
                        caption { (rows.len()) " policies on this page" }
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Default version" } th scope="col" { "Attachments" } th scope="col" { "Updated" } } }
                        tbody {
                            @for row in &rows {
                                tr {
                                    td { a href={ "/console/policies/edit?arn=" (encoded(&row.arn)) } { (row.name) } }
                                    td { (row.version) } td { (row.attachments) } td { (row.updated) }
                                }
                            }
                        }
                    }
                    @if let Some(next) = next { p { a href={ "/console/policies?after=" (encoded(&next)) "&search=" (encoded(filters.search))
                        "&path_prefix=" (encoded(filters.path_prefix)) "&scope=" (encoded(filters.scope)) } { "Next page" } } }
                }
                Err(refusal) => { p.notice.refused role="alert" { (refusal) } }
            }
        },
    )
}

pub(super) fn policy_editor(
    frame: &Frame<'_>,
    draft: &super::policies::Draft,
    findings: &[FindingRow],
    outcome: &super::policies::Outcome,
) -> Markup {
    let decided: &[(u32, u32)] = match &outcome.simulation {
        Some(Simulation::Decided { lines, .. }) => lines,
        _ => &[],
    };
    let title = if draft.arn.is_some() {
        draft.name.as_str()
    } else {
        "New policy"
    };
    html! {
        (layout(title, Some(frame), html! {
            h1 { "Policy: " (title) }
            (notice(outcome.notice.as_ref()))
            form method="post" action="/console/policies/edit" id="policy-editor" {
                input type="hidden" name="csrf" value=(frame.csrf);
                @if let Some(arn) = &draft.arn {
                    input type="hidden" name="arn" value=(arn);
                    p.arn { (arn) }
                } @else {
                    label { "Policy name" input name="name" value=(draft.name) required maxlength="128"; }
                }
                div.editor {
                    label for="document" { "Document (JSON)" }
                    textarea id="document" name="document" rows="18" spellcheck="false" { (draft.document) }
                }
                section.lines aria-label="The document by line, with its findings" {
                    h2 { "By line" }
                    ol id="numbered" {
                        @for (number, text) in draft.document.lines().enumerate() {
                            @let number = u32::try_from(number + 1).unwrap_or(u32::MAX);
                            @let matched = decided.iter().any(|(first, last)| (*first..=*last).contains(&number));
                            li.matched[matched] data-line=(number) {
                                code { (text) }
                                @for finding in findings.iter().filter(|f| f.line == Some(number)) {
                                    span.finding role="note" { (finding.kind) " " (finding.code) ": " (finding.details) }
                                }
                            }
                        }
                    }
                    @let general: Vec<&FindingRow> = findings.iter().filter(|f| f.line.is_none()).collect();
                    @for finding in general { p.finding role="note" { (finding.kind) " " (finding.code) ": " (finding.details) } }
                    p id="findings-count" { (findings.len()) " findings" }
                }
                fieldset.simulator {
                    legend { "Simulator" }
                    label { "Action" input name="action" value=(draft.action) placeholder="s3:GetObject"; }
                    label { "Resource" input name="resource" value=(draft.resource) placeholder="arn:aws:s3:::example-bucket/report.csv"; }
                    label { "As user (optional: simulate with every policy the user has; attach to this user)" input name="user" value=(draft.user); }
                    label for="context" { "Context (one `key = value[, value]` a line, e.g. aws:SourceIp = 203.0.113.7)" }
                    textarea id="context" name="context" rows="3" spellcheck="false" { (draft.context) }
                    @match &outcome.simulation {
                        Some(Simulation::Decided { decision, lines }) => {
                            p id="simulation" { "Decision: " strong { (decision) }
                                @if !lines.is_empty() { " — decided by the statement" @if lines.len() > 1 { "s" } " marked above" } }
                        }
                        Some(Simulation::Refused(text)) => { p.notice.refused role="alert" id="simulation" { (text) } }
                        None => {}
                    }
                }
                @match &outcome.preview {
                    Some(Preview::Flips { decisions, allow_to_deny, deny_to_allow, groups }) => {
                        section id="preview" {
                            h2 { "Impact on recent decisions" }
                            p { (decisions) " audited decisions re-evaluated: " strong { (allow_to_deny) } " would become denied, " strong { (deny_to_allow) } " would become allowed." }
                            @if !groups.is_empty() {
                                table { thead { tr { th scope="col" { "Principal" } th scope="col" { "Action" } th scope="col" { "Resource" } th scope="col" { "Flip" } th scope="col" { "Count" } } }
                                    tbody { @for (principal, action, resource, flip, count) in groups {
                                        tr { td.arn { (principal) } td { (action) } td.arn { (resource) } td { (flip) } td { (count) } } } } }
                            }
                        }
                    }
                    Some(Preview::Refused(text)) => { p.notice.refused role="alert" id="preview" { (text) } }
                    None => {}
                }
                div.actions {
                    button type="submit" name="intent" value="check" { "Check" }
                    button type="submit" name="intent" value="simulate" id="simulate" { "Simulate" }
                    @if draft.arn.is_some() { button type="submit" name="intent" value="preview" id="preview-button" { "Preview impact" } }
                    @if frame.may(if draft.arn.is_some() { "iam:CreatePolicyVersion" } else { "iam:CreatePolicy" }) {
                        button type="submit" name="intent" value="save" id="save" { "Save" }
                    }
                    @if draft.arn.is_some() && frame.may("iam:AttachUserPolicy") { button type="submit" name="intent" value="attach" id="attach" { "Attach to the user" } }
                    @if draft.arn.is_some() && frame.may("iam:DeletePolicy") { button type="submit" name="intent" value="delete" id="delete-policy" { "Delete the policy" } }
                }
            }
        }))
    }
}

pub(super) fn audit_event(
    frame: &Frame<'_>,
    event_id: &str,
    record: Result<serde_json::Value, String>,
    replay: Option<Result<(String, serde_json::Value), String>>,
) -> Markup {
    layout(
        "Audit record",
        Some(frame),
        html! {
            h1 { "Audit record" }
            p.arn { (event_id) }
            @match record {
                Ok(event) => {
                    @if !event["decision"].is_null() {
                        p.actions {
                            a.button id="replay-now" href={ "/console/audit/event?id=" (encoded(event_id)) "&replay=NOW" } { "Replay now" }
                            a.button href={ "/console/audit/event?id=" (encoded(event_id)) "&replay=RECORDED" } { "Replay as recorded" }
                        }
                    }
                    @match replay {
                        Some(Ok((at, result))) => {
                            section id="replay" {
                                h2 { "Replayed " @if at == "NOW" { "on the state now" } @else { "on the state it was made on" } }
                                @if let Some(error) = result["errorMessage"].as_str() { p.notice.refused role="alert" { (error) } }
                                p { "Recorded: " strong { (result["recordedDecision"].as_str().unwrap_or("?")) }
                                    " · replayed: " strong id="replayed-decision" { (result["decision"].as_str().unwrap_or("?")) }
                                    @if result["matches"].as_bool() == Some(true) { " · the same" } @else { " · different" } }
                                @let added = result["statementsAdded"].as_array().map_or(0, Vec::len);
                                @let removed = result["statementsRemoved"].as_array().map_or(0, Vec::len);
                                @if added + removed > 0 {
                                    p { (added) " statements now match that did not; " (removed) " matched then and no longer do." }
                                    pre { (serde_json::to_string_pretty(&serde_json::json!({"added": result["statementsAdded"], "removed": result["statementsRemoved"]})).unwrap_or_default()) }
                                }
                            }
                        }
                        Some(Err(refusal)) => { p.notice.refused role="alert" { (refusal) } }
                        None => {}
                    }
                    @let detail = &event["cloudTrailRecord"]["additionalEventData"];
                    @if let Some(statements) = detail["matchedStatements"].as_array() {
                        h2 { "What decided it" }
                        table id="matched" {
                            thead { tr { th scope="col" { "Policy" } th scope="col" { "Type" } th scope="col" { "Version" } th scope="col" { "Statement" } th scope="col" { "Effect" } } }
                            tbody { @for m in statements {
                                tr { td.arn { (m["sourcePolicyId"].as_str().unwrap_or_default()) } td { (m["sourcePolicyType"].as_str().unwrap_or_default()) }
                                     td { (m["versionId"].as_str().unwrap_or("")) }
                                     td { "#" (m["statementIndex"].as_u64().unwrap_or(0)) @if let Some(sid) = m["sid"].as_str() { " (" (sid) ")" } }
                                     td { (m["effect"].as_str().unwrap_or_default()) } }
                            } }
                        }
                        @if statements.is_empty() { p { "No statement matched: nothing allowed it (an implicit deny)." } }
                    }
                    @if let Some(policies) = detail["policies"].as_array() {
                        h2 { "Policies evaluated" }
                        table id="evaluated" {
                            thead { tr { th scope="col" { "Policy" } th scope="col" { "Type" } th scope="col" { "Version" } } }
                            tbody { @for p in policies {
                                tr { td.arn { (p["id"].as_str().unwrap_or_default()) } td { (p["policyType"].as_str().unwrap_or_default()) } td { (p["versionId"].as_str().unwrap_or("")) } }
                            } }
                        }
                    }
                    h2 { "CloudTrail record" }
                    pre id="record" { (serde_json::to_string_pretty(&event["cloudTrailRecord"]).unwrap_or_default()) }
                }
                Err(refusal) => { p.notice.refused role="alert" { (refusal) } }
            }
        },
    )
}

fn user_action(frame: &Frame<'_>, name: &str, intent: &str, label: &str, extra: Option<(&str, &str)>) -> Markup {
    entity_action(frame, USER_DETAIL, name, intent, label, extra)
}

/// Where a user's changes are posted.
const USER_DETAIL: &str = "/console/users/detail";

/// A form of one field that posts `intent` about the entity `name` to `action`.
fn one_field_form(
    frame: &Frame<'_>,
    action: &str,
    name: &str,
    id: &str,
    intent: &str,
    field: (&str, &str),
    button: &str,
) -> Markup {
    let (field, label) = field;
    html! {
        form method="post" action=(action) id=(id) {
            input type="hidden" name="csrf" value=(frame.csrf);
            input type="hidden" name="name" value=(name);
            input type="hidden" name="intent" value=(intent);
            label { (label) input name=(field) required maxlength="2048"; }
            button type="submit" { (button) }
        }
    }
}

/// What a user's or role's changes may be, for [`boundary_and_tags`].
struct Changes {
    set_boundary: bool,
    remove_boundary: bool,
    tag: bool,
    untag: bool,
}

/// A user's or role's permissions boundary and tags, each with the changes the principal could
/// make.
fn boundary_and_tags(
    frame: &Frame<'_>,
    action: &str,
    name: &str,
    entity: &serde_json::Value,
    whose: &str,
    may: &Changes,
) -> Markup {
    html! {
        h2 { "Permissions boundary" }
        @match entity["permissionsBoundary"]["permissionsBoundaryArn"].as_str() {
            Some(boundary) => { p id="boundary" { (boundary) " "
                @if may.remove_boundary { (entity_action(frame, action, name, "remove-boundary", "Remove", None)) } } }
            None => { p id="boundary" { "None: the " (whose) " policies alone decide." } }
        }
        @if may.set_boundary {
            (one_field_form(frame, action, name, "set-boundary", "set-boundary", ("policy_arn", "Boundary policy ARN"), "Set boundary"))
        }
        h2 { "Tags" }
        ul id="tags" {
            @for tag in entity["tags"].as_array().into_iter().flatten() {
                @let key = tag["key"].as_str().unwrap_or_default();
                li { code { (key) } " = " (tag["value"].as_str().unwrap_or_default()) " "
                    @if may.untag { (entity_action(frame, action, name, "untag", "Remove", Some(("tag_key", key)))) } }
            }
        }
        @if may.tag {
            form method="post" action=(action) id="add-tag" {
                input type="hidden" name="csrf" value=(frame.csrf);
                input type="hidden" name="name" value=(name);
                input type="hidden" name="intent" value="tag";
                label { "Key" input name="tag_key" required maxlength="128"; }
                label { "Value" input name="tag_value" maxlength="256"; }
                button type="submit" { "Add tag" }
            }
        }
    }
}

pub(super) fn user(
    frame: &Frame<'_>,
    name: &str,
    user: Result<serde_json::Value, String>,
    change: Option<Notice>,
    secret: Option<&(String, zeroize::Zeroizing<String>)>,
) -> Markup {
    layout(
        name,
        Some(frame),
        html! {
            h1 { "User: " (name) }
            (notice(change.as_ref()))
            @if let Some((id, secret)) = secret {
                section.card.secret id="new-key" {
                    h2 { "New access key" }
                    p { "The secret is shown now and never again: copy it somewhere safe." }
                    p { "Access key id: " code id="new-key-id" { (id) } }
                    p { "Secret access key: " code id="new-key-secret" { (secret.as_str()) }
                        " " button type="button" data-copy="new-key-secret" { "Copy" } }
                }
            }
            @match user {
                Ok(user) => {
                    p.arn { (user["arn"].as_str().unwrap_or_default()) }
                    h2 { "Attached policies" }
                    ul id="attached" {
                        @for policy in user["attachedPolicies"].as_array().into_iter().flatten() {
                            @let arn = policy["policyArn"].as_str().unwrap_or_default();
                            li { (policy["policyName"].as_str().unwrap_or_default()) " "
                                @if frame.may("iam:DetachUserPolicy") { (user_action(frame, name, "detach", "Detach", Some(("policy_arn", arn)))) } }
                        }
                    }
                    @if frame.may("iam:AttachUserPolicy") {
                        (one_field_form(frame, USER_DETAIL, name, "attach-policy", "attach", ("policy_arn", "Policy ARN"), "Attach"))
                    } @else { (read_only("attach policies to users")) }
                    @if frame.may("iam:UpdateUser") {
                        (one_field_form(frame, USER_DETAIL, name, "rename", "rename", ("new_name", "New name"), "Rename"))
                    }
                    (boundary_and_tags(frame, USER_DETAIL, name, &user, "user's", &Changes {
                        set_boundary: frame.may("iam:PutUserPermissionsBoundary"),
                        remove_boundary: frame.may("iam:DeleteUserPermissionsBoundary"),
                        tag: frame.may("iam:TagUser"),
                        untag: frame.may("iam:UntagUser"),
                    }))
                    h2 { "Groups" }
                    ul { @for group in user["groups"]["nodes"].as_array().into_iter().flatten() { li { (group["groupName"].as_str().unwrap_or_default()) } } }
                    h2 { "Access keys" }
                    table id="access-keys" {
                        thead { tr { th scope="col" { "Key id" } th scope="col" { "Status" } th scope="col" { "Created" } th scope="col" { "" } } }
                        tbody {
                            @for key in user["accessKeys"].as_array().into_iter().flatten() {
                                @let id = key["accessKeyId"].as_str().unwrap_or_default();
                                tr { td.arn { (id) } td { (key["status"].as_str().unwrap_or_default()) } td { (key["createDate"].as_str().unwrap_or_default()) }
                                    td { @if key["status"] == "Active" && frame.may("iam:UpdateAccessKey") { (user_action(frame, name, "deactivate-key", "Deactivate", Some(("access_key_id", id)))) }
                                         @if frame.may("iam:DeleteAccessKey") { (user_action(frame, name, "delete-key", "Delete", Some(("access_key_id", id)))) } } }
                            }
                        }
                    }
                    @if frame.may("iam:CreateAccessKey") { (user_action(frame, name, "create-key", "Create access key", None)) }
                    @if frame.may("iam:DeleteUser") {
                        h2 { "Delete" }
                        (user_action(frame, name, "delete", "Delete this user", None))
                    }
                }
                Err(refusal) => { p.notice.refused role="alert" { (refusal) } }
            }
        },
    )
}

/// One node of the organization tree.
pub(super) struct OrgNode {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) kind: &'static str,
    pub(super) depth: usize,
    /// SCPs attached to the node itself.
    pub(super) attached: Vec<String>,
    /// SCPs of the nodes above it, each level of which must allow too.
    pub(super) inherited: Vec<String>,
}

pub(super) fn organization(frame: &Frame<'_>, tree: Result<(Vec<OrgNode>, bool), String>) -> Markup {
    layout(
        "Organization",
        Some(frame),
        html! {
            h1 { "Organization" }
            @match tree {
                Ok((nodes, truncated)) => {
                    ul id="org-tree" {
                        @for node in &nodes {
                            li.node data-kind=(node.kind) data-id=(node.id) class={ "depth-" (node.depth.min(6)) } {
                                span.kind { (node.kind) } " " strong { (node.name) } " " code { (node.id) }
                                div.scps {
                                    "SCPs here: "
                                    @if node.attached.is_empty() { em { "none" } }
                                    @for scp in &node.attached { span.scp.attached { (scp) } " " }
                                    @if !node.inherited.is_empty() {
                                        " · inherited: "
                                        @for scp in &node.inherited { span.scp.inherited { (scp) } " " }
                                    }
                                }
                            }
                        }
                    }
                    @if truncated { p.notice.refused { "The organization has more nodes than this page shows." } }
                }
                Err(refusal) => { p.notice.refused role="alert" { (refusal) } }
            }
        },
    )
}

/// Which list an entities page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntityKind {
    Group,
    Role,
}

impl EntityKind {
    /// The IAM action `verb` (`Create`, `AttachRolePolicy`'s `Attach…Policy`...) for this kind:
    /// `iam:{verb}Group` or `iam:{verb}Role`, `suffix` after the noun.
    fn action(self, verb: &str, suffix: &str) -> String {
        let noun = match self {
            EntityKind::Group => "Group",
            EntityKind::Role => "Role",
        };
        format!("iam:{verb}{noun}{suffix}")
    }
}

pub(super) fn entities(
    frame: &Frame<'_>,
    kind: EntityKind,
    path_prefix: &str,
    search: &str,
    listed: Result<(Vec<UserRow>, Option<String>), String>,
    change: Option<Notice>,
) -> Markup {
    let (title, base, id) = match kind {
        EntityKind::Group => ("Groups", "/console/groups", "groups"),
        EntityKind::Role => ("Roles", "/console/roles", "roles"),
    };
    layout(
        title,
        Some(frame),
        html! {
            h1 { (title) }
            (notice(change.as_ref()))
            form.filters method="get" action=(base) role="search" {
                label { "Name contains" input name="search" value=(search); }
                label { "Path prefix" input name="path_prefix" value=(path_prefix) placeholder="/"; }
                button type="submit" { "Filter" }
            }
            @match listed {
                Ok((rows, next)) => {
                    table id=(id) {
                        caption { (rows.len()) " on this page" }
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Path" } th scope="col" { "ARN" } th scope="col" { "Created" } th scope="col" { "" } } }
                        tbody {
                            @for row in &rows {
                                tr { td.name { a href={ (base) "/detail?name=" (encoded(&row.name)) } { (row.name) } } td { (row.path) } td.arn { (row.arn) } td { (row.created) }
                                    td { @if frame.may(&kind.action("Delete", "")) { form.inline method="post" action=(base) {
                                        input type="hidden" name="csrf" value=(frame.csrf);
                                        input type="hidden" name="intent" value="delete";
                                        input type="hidden" name="name" value=(row.name);
                                        button type="submit" aria-label={ "Delete " (row.name) } { "Delete" }
                                    } } } }
                            }
                        }
                    }
                    @if let Some(next) = next { p { a href={ (base) "?after=" (encoded(&next)) "&path_prefix=" (encoded(path_prefix)) "&search=" (encoded(search)) } { "Next page" } } }
                }
                Err(refusal) => { p.notice.refused role="alert" { (refusal) } }
            }
            @if frame.may(&kind.action("Create", "")) {
                section.card {
                    h2 { "Create" }
                    form method="post" action=(base) id={ "create-" (id) } {
                        input type="hidden" name="csrf" value=(frame.csrf);
                        input type="hidden" name="intent" value="create";
                        label { "Name" input name="name" required maxlength="64"; }
                        label { "Path" input name="path" placeholder="/"; }
                        @if kind == EntityKind::Role {
                            label for="trust_policy" { "Trust policy (who may assume the role)" }
                            textarea id="trust_policy" name="trust_policy" rows="8" spellcheck="false" required {
                                "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"Service\": \"ec2.amazonaws.com\"}, \"Action\": \"sts:AssumeRole\"}]}"
                            }
                        }
                        button type="submit" { "Create" }
                    }
                }
            } @else { (read_only(&format!("create {id}"))) }
        },
    )
}

fn entity_action(
    frame: &Frame<'_>,
    action: &str,
    name: &str,
    intent: &str,
    label: &str,
    extra: Option<(&str, &str)>,
) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(frame.csrf);
            input type="hidden" name="name" value=(name);
            input type="hidden" name="intent" value=(intent);
            @if let Some((field, value)) = extra { input type="hidden" name=(field) value=(value); }
            button type="submit" data-intent=(intent) { (label) }
        }
    }
}

pub(super) fn entity_detail(
    frame: &Frame<'_>,
    kind: EntityKind,
    name: &str,
    entity: Result<serde_json::Value, String>,
    change: Option<Notice>,
) -> Markup {
    let (noun, action) = match kind {
        EntityKind::Group => ("Group", "/console/groups/detail"),
        EntityKind::Role => ("Role", "/console/roles/detail"),
    };
    let field_form = |id: &str, intent: &str, field: &str, label: &str, button: &str| {
        one_field_form(frame, action, name, id, intent, (field, label), button)
    };
    let may = |verb: &str, suffix: &str| frame.may(&kind.action(verb, suffix));
    layout(
        name,
        Some(frame),
        html! {
            h1 { (noun) ": " (name) }
            (notice(change.as_ref()))
            @match entity {
                Ok(entity) => {
                    p.arn { (entity["arn"].as_str().unwrap_or_default()) }
                    @if kind == EntityKind::Group && frame.may("iam:UpdateGroup") {
                        (field_form("rename", "rename", "new_name", "New name", "Rename"))
                    }
                    @if kind == EntityKind::Role {
                        p id="description" { "Description: " (entity["description"].as_str().unwrap_or("none"))
                            " · longest session: " (entity["maxSessionDuration"].as_i64().unwrap_or(3600)) " s" }
                        @if frame.may("iam:UpdateRole") {
                            (field_form("describe", "describe", "description", "Description", "Update the description"))
                        }
                        h2 { "Trust policy" }
                        @let trust = serde_json::from_str::<serde_json::Value>(entity["assumeRolePolicyDocument"].as_str().unwrap_or("{}"))
                            .ok().and_then(|v| serde_json::to_string_pretty(&v).ok()).unwrap_or_default();
                        @if frame.may("iam:UpdateAssumeRolePolicy") {
                            form method="post" action=(action) id="trust" {
                                input type="hidden" name="csrf" value=(frame.csrf);
                                input type="hidden" name="name" value=(name);
                                input type="hidden" name="intent" value="trust";
                                label for="trust_policy" { "Who may assume the role" }
                                textarea id="trust_policy" name="trust_policy" rows="8" spellcheck="false" { (trust) }
                                button type="submit" { "Update the trust policy" }
                            }
                        } @else { pre id="trust" { (trust) } }
                    }
                    @if kind == EntityKind::Group {
                        h2 { "Members" }
                        ul id="members" {
                            @for user in entity["users"]["nodes"].as_array().into_iter().flatten() {
                                @let member = user["userName"].as_str().unwrap_or_default();
                                li { (member) " "
                                    @if frame.may("iam:RemoveUserFromGroup") { (entity_action(frame, action, name, "remove-member", "Remove", Some(("user_name", member)))) } }
                            }
                        }
                        @if frame.may("iam:AddUserToGroup") {
                            (field_form("add-member", "add-member", "user_name", "User name", "Add to the group"))
                        }
                    }
                    h2 { "Attached policies" }
                    ul id="attached" {
                        @for policy in entity["attachedPolicies"].as_array().into_iter().flatten() {
                            @let arn = policy["policyArn"].as_str().unwrap_or_default();
                            li { (policy["policyName"].as_str().unwrap_or_default()) " "
                                @if may("Detach", "Policy") { (entity_action(frame, action, name, "detach", "Detach", Some(("policy_arn", arn)))) } }
                        }
                    }
                    @if may("Attach", "Policy") {
                        (field_form("attach-policy", "attach", "policy_arn", "Policy ARN", "Attach"))
                    } @else { (read_only(&format!("attach policies to {}s", noun.to_lowercase()))) }
                    @if kind == EntityKind::Role {
                        (boundary_and_tags(frame, action, name, &entity, "role's", &Changes {
                            set_boundary: frame.may("iam:PutRolePermissionsBoundary"),
                            remove_boundary: frame.may("iam:DeleteRolePermissionsBoundary"),
                            tag: frame.may("iam:TagRole"),
                            untag: frame.may("iam:UntagRole"),
                        }))
                    }
                    @if may("Delete", "") {
                        h2 { "Delete" }
                        (entity_action(frame, action, name, "delete", &format!("Delete this {}", noun.to_lowercase()), None))
                    }
                }
                Err(refusal) => { p.notice.refused role="alert" { (refusal) } }
            }
        },
    )
}

/// One row of the credential report, as the console shows it.
pub(super) struct CredentialRow {
    pub(super) user: String,
    pub(super) created: String,
    /// `enabled, last used ...`, `none`, or `—` for the root user.
    pub(super) password: String,
    pub(super) mfa: bool,
    /// Each active key: `key 1: rotated ..., last used ...`.
    pub(super) keys: Vec<String>,
    /// What a security review would look at.
    pub(super) findings: Vec<String>,
}

pub(super) struct CredentialReport {
    pub(super) generated: String,
    pub(super) total: usize,
    pub(super) with_findings: usize,
    pub(super) rows: Vec<CredentialRow>,
}

pub(super) fn credentials(
    frame: &Frame<'_>,
    report: Result<CredentialReport, String>,
    only_findings: bool,
    change: Option<Notice>,
) -> Markup {
    layout(
        "Credentials",
        Some(frame),
        html! {
            h1 { "Credential report" }
            (notice(change.as_ref()))
            @if frame.may("iam:GenerateCredentialReport") {
                form method="post" action="/console/credentials" id="generate-report" {
                    input type="hidden" name="csrf" value=(frame.csrf);
                    button type="submit" { "Generate a report" }
                }
            }
            @match report {
                Ok(report) => {
                    p id="report-summary" { "Generated " (report.generated) ": " (report.total) " rows, "
                        strong { (report.with_findings) } " with findings. "
                        @if only_findings { a href="/console/credentials" { "Show every row" } }
                        @else { a href="/console/credentials?only=findings" id="only-findings" { "Only rows with findings" } }
                        " · " a href="/console/credentials.csv" download { "Download the CSV" } }
                    table id="credentials" {
                        caption { (report.rows.len()) " rows shown" }
                        thead { tr { th scope="col" { "User" } th scope="col" { "Created" } th scope="col" { "Password" }
                            th scope="col" { "MFA" } th scope="col" { "Active access keys" } th scope="col" { "Findings" } } }
                        tbody {
                            @for row in &report.rows {
                                tr.flagged[!row.findings.is_empty()] {
                                    td.name { (row.user) } td { (row.created) } td { (row.password) }
                                    td { @if row.mfa { "yes" } @else { "no" } }
                                    td { @for key in &row.keys { div { (key) } } }
                                    td.findings { @for finding in &row.findings { div { (finding) } } }
                                }
                            }
                        }
                    }
                    @if report.rows.len() < report.total && !only_findings {
                        p { "The first " (report.rows.len()) " rows are shown; the CSV has every row." }
                    }
                }
                Err(refusal) => { p.notice.refused role="alert" id="report-missing" { (refusal) } }
            }
        },
    )
}
