//! The frame of every console page (title, menu, language switch, who is logged in), its
//! stylesheet, error pages, and how times and money are shown.

use axum::{http::header, response::IntoResponse};
use maud::{DOCTYPE, Markup, html};
use tolem_protocol::codes::Lang;

use super::{ConsoleError, session::SignedIn};
// Re-exported so every page imports its helpers from one place.
pub use crate::{
    display::{local_time, tenge, tenge_plain, utc_iso},
    web::language::{self, tr},
};

/// The console's stylesheet: one small file, so the Content-Security-Policy can forbid inline
/// styles along with everything else.
const STYLESHEET: &str = include_str!("console.css");

/// `GET /console/console.css`.
pub async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
}

/// A whole page: `path` is where the language links point (the page itself), `user` the
/// logged-in user if any (for the menu of their party, the logout button and when the session
/// ends). A page without a user passes `None::<&SignedIn>`.
pub fn page<U: AsRef<SignedIn>>(
    path: &str,
    title: &str,
    user: Option<&U>,
    content: Markup,
) -> Markup {
    let user = user.map(AsRef::as_ref);
    let lang = language::current();
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (tr("console.title")) }
                link rel="stylesheet" href="/console/console.css";
            }
            body {
                header.top {
                    span.brand { (tr("console.title")) }
                    nav.languages {
                        @for other in Lang::ALL {
                            @if other == lang {
                                strong { (tr(&format!("lang.{}", other.tag()))) }
                            } @else {
                                a href={ (path) "?lang=" (other.tag()) } hreflang=(other.tag()) {
                                    (tr(&format!("lang.{}", other.tag())))
                                }
                            }
                        }
                    }
                    @if let Some(user) = user {
                        span.user {
                            (user.email())
                            " · "
                            @if user.is_operator() { (tr("console.party_operator")) " · " }
                            @if user.has_full_access() { (tr("console.level_full")) }
                            @else { (tr("console.level_create_view")) }
                        }
                        // Kaspi §1.11: the user sees how long the session lasts.
                        span.session #session-ends title=(tr("console.session_idle")) {
                            (tr("console.session_ends")) " " (local_time(user.expires_at_ms()))
                        }
                        form.logout method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(user.csrf_token());
                            button type="submit" { (tr("console.logout")) }
                        }
                    }
                }
                @if let Some(user) = user {
                    (menu(path, user))
                }
                main { h1 { (title) } (content) }
            }
        }
    }
}

/// The one-time code field of a sensitive action's form (`name="otp"`).
pub fn otp_field() -> Markup {
    html! {
        input.otp type="text" name="otp" inputmode="numeric" autocomplete="one-time-code"
            pattern="[0-9 ]{6,7}" maxlength="7" size="7" required
            placeholder=(tr("confirm.otp_placeholder")) title=(tr("confirm.otp_title"))
            aria-label=(tr("confirm.otp_title"));
    }
}

/// A one-button form: `class` names it for styling and tests, `action` is where it posts,
/// `label` the button's text key. A sensitive action (`confirmed`) carries the one-time code
/// field; `back` is the page to return to.
pub fn button_form(
    class: &str,
    action: &str,
    label: &str,
    user: &SignedIn,
    confirmed: bool,
    back: Option<&str>,
) -> Markup {
    html! {
        form class=(class) method="post" action=(action) {
            input type="hidden" name="csrf" value=(user.csrf_token());
            @if let Some(back) = back {
                input type="hidden" name="back" value=(back);
            }
            @if confirmed { (otp_field()) }
            button type="submit" { (tr(label)) }
        }
    }
}

/// The console's menu for the user's party; the current section is marked.
fn menu(path: &str, user: &SignedIn) -> Markup {
    let mut items = if user.is_operator() {
        vec![
            ("/console/operator/dealers", "menu.dealers"),
            ("/console/operator/top-ups", "menu.top_ups"),
            ("/console/operator/providers", "menu.providers"),
            ("/console/operator/deliveries", "menu.deliveries"),
            ("/console/operator/card", "menu.card"),
            ("/console/operator/users", "menu.users"),
        ]
    } else {
        vec![
            ("/console/points", "menu.points"),
            ("/console/keys", "menu.keys"),
            ("/console/money", "menu.money"),
            ("/console/operations", "menu.operations"),
            ("/console/payments", "menu.payments"),
            ("/console/deliveries", "menu.deliveries"),
            ("/console/card", "menu.card"),
            ("/console/messages", "menu.messages"),
        ]
    };
    // The trail names every user and where they log in from: full access only.
    if user.has_full_access() {
        if user.is_operator() {
            items.push(("/console/operator/audit", "menu.audit"));
        } else {
            items.push(("/console/users", "menu.users"));
            items.push(("/console/audit", "menu.audit"));
        }
    }
    items.push(("/console/totp", "menu.totp"));
    items.push(("/console/password", "menu.password"));
    html! {
        nav.menu {
            @for (href, key) in items {
                @if path.starts_with(href) {
                    a.current href=(href) aria-current="page" { (tr(key)) }
                } @else {
                    a href=(href) { (tr(key)) }
                }
            }
        }
    }
}

/// The page for a refused or failed request.
pub fn error_page(error: &ConsoleError) -> Markup {
    let message = match error {
        ConsoleError::BadCsrf => tr("errors.csrf"),
        ConsoleError::Forbidden => tr("errors.forbidden"),
        ConsoleError::NotFound => tr("errors.not_found"),
        ConsoleError::TotpRequired => tr("errors.totp_required"),
        ConsoleError::BadCode { reused: false } => tr("errors.code_wrong"),
        ConsoleError::BadCode { reused: true } => tr("errors.code_reused"),
        ConsoleError::TooManyCodes { retry_after_s } => rust_i18n::t!(
            "errors.code_blocked",
            locale = language::current().tag(),
            minutes = retry_after_s.div_ceil(60)
        )
        .into_owned(),
        ConsoleError::Invalid { message, .. } => message.clone(),
        ConsoleError::Internal(_) => tr("errors.internal"),
    };
    let back = match error {
        ConsoleError::Invalid { back, .. } => back.as_str(),
        _ => "/console/keys",
    };
    let kind = match error {
        ConsoleError::BadCsrf => "csrf",
        ConsoleError::Forbidden => "forbidden",
        ConsoleError::NotFound => "not-found",
        ConsoleError::TotpRequired => "totp-required",
        ConsoleError::BadCode { reused: false } => "code-wrong",
        ConsoleError::BadCode { reused: true } => "code-reused",
        ConsoleError::TooManyCodes { .. } => "code-blocked",
        ConsoleError::Invalid { .. } => "invalid",
        ConsoleError::Internal(_) => "internal",
    };
    let content = html! {
        p.error #error data-error=(kind) role="alert" { (message) }
        p { a href=(back) { (tr("errors.back")) } }
    };
    page(back, &tr("errors.title"), None::<&SignedIn>, content)
}

/// A time on a page: the local time, with the UTC instant in `datetime` and as a tooltip.
pub fn when(ms: i64) -> Markup {
    let iso = utc_iso(ms);
    html! { time datetime=(iso) title=(iso) { (local_time(ms)) } }
}
