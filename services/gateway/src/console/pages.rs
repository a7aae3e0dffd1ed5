//! The console's pages. maud escapes every interpolated value, so names, ARNs and messages from
//! the API are text, never markup.

use maud::{html, Markup, DOCTYPE};

/// The signed-in frame every page shares: who is signed in, and the CSRF token its forms carry.
pub(super) struct Frame<'a> {
    pub(super) principal: &'a str,
    pub(super) csrf: &'a str,
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
    pub(super) principal: &'a str,
    pub(super) action: &'a str,
    pub(super) decision: &'a str,
    pub(super) error_code: &'a str,
}

fn layout(title: &str, frame: Option<&Frame<'_>>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Gatehouse" }
                link rel="stylesheet" href="/console/console.css";
            }
            body {
                header.top {
                    a.brand href="/console" { "Gatehouse" }
                    @if let Some(frame) = frame {
                        nav aria-label="Main" {
                            a href="/console/users" { "Users" }
                            a href="/console/audit" { "Audit" }
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

pub(super) fn signin(error: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(error) = error { p.notice.refused role="alert" id="signin-error" { (error) } }
            section.card {
                h2 { "IAM user" }
                form method="post" action="/console/signin" id="signin-password" {
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
                                tr { td.name { (row.name) } td { (row.path) } td.arn { (row.arn) } td { (row.created) } }
                            }
                        }
                    }
                    @if let Some(next) = next {
                        p { a href={ "/console/users?after=" (percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC)) "&path_prefix=" (percent_encoding::utf8_percent_encode(path_prefix, percent_encoding::NON_ALPHANUMERIC)) } { "Next page" } }
                    }
                }
                Err(refusal) => { p.notice.refused role="alert" { (refusal) } }
            }
            section.card {
                h2 { "Create a user" }
                form method="post" action="/console/users" id="create-user" {
                    input type="hidden" name="csrf" value=(frame.csrf);
                    label { "User name" input name="user_name" required maxlength="64"; }
                    label { "Path" input name="path" placeholder="/"; }
                    button type="submit" { "Create user" }
                }
            }
        },
    )
}

pub(super) fn audit(
    frame: &Frame<'_>,
    filters: &AuditFilters<'_>,
    found: Result<(Vec<AuditRow>, Option<String>), String>,
) -> Markup {
    let option = |value: &str, label: &str| {
        html! { option value=(value) selected[filters.decision == value] { (label) } }
    };
    layout(
        "Audit",
        Some(frame),
        html! {
            h1 { "Audit history" }
            form.filters method="get" action="/console/audit" role="search" {
                label { "Principal decided on (ARN)" input name="principal" value=(filters.principal); }
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
                                    td { (row.time) } td { (row.name) } td.arn { (row.caller) } td.arn { (row.principal) }
                                    td { (row.action) } td.arn { (row.resource) } td.outcome { (row.outcome) }
                                }
                            }
                        }
                    }
                    @if let Some(next) = next {
                        p { a href={ "/console/audit?after=" (percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC))
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
