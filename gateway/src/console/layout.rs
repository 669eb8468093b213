//! The frame of every console page (title, menu, language switch, who is logged in), its
//! stylesheet, error pages, and how times and money are shown.

use axum::{http::header, response::IntoResponse};
use maud::{DOCTYPE, Markup, html};
use tolem_protocol::codes::Lang;

use super::{ConsoleError, language, session::ConsoleUser};

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

/// The text `key` in the language of the current request.
pub fn tr(key: &str) -> String {
    rust_i18n::t!(key, locale = language::current().tag()).into_owned()
}

/// A whole page: `path` is where the language links point (the page itself), `user` the
/// logged-in user if any (for the logout button).
pub fn page(path: &str, title: &str, user: Option<&ConsoleUser>, content: Markup) -> Markup {
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
                            @if user.has_full_access() { (tr("console.level_full")) }
                            @else { (tr("console.level_create_view")) }
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
    user: &ConsoleUser,
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

/// The console's menu; the current section is marked.
fn menu(path: &str, user: &ConsoleUser) -> Markup {
    let mut items = vec![
        ("/console/points", "menu.points"),
        ("/console/keys", "menu.keys"),
        ("/console/money", "menu.money"),
        ("/console/operations", "menu.operations"),
        ("/console/payments", "menu.payments"),
        ("/console/messages", "menu.messages"),
    ];
    if user.has_full_access() {
        items.push(("/console/audit", "menu.audit"));
        items.push(("/console/totp", "menu.totp"));
    }
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
    page(back, &tr("errors.title"), None, content)
}

/// The offset the console shows times in: Kazakhstan, UTC+5 all year since 1 March 2024.
const LOCAL_OFFSET_MS: i64 = crate::payments::BUSINESS_DAY_OFFSET_MS;

fn date_time(ms: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// A stored time (unix milliseconds, UTC) as the console shows it: in Kazakhstan's time, with
/// the offset written out — `2025-03-01 14:15:07 UTC+5`. Stored times are UTC; the dealer
/// reads local time, and the label leaves no doubt which (Kazakhstan had two zones until 2024;
/// a point may be abroad).
pub fn local_time(ms: i64) -> String {
    match date_time(ms.saturating_add(LOCAL_OFFSET_MS)) {
        Some(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC+5",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        None => "—".to_owned(),
    }
}

/// A stored time as ISO 8601 in UTC with milliseconds, `2025-03-01T09:15:07.000Z`: for CSV
/// files and machine-readable attributes.
pub fn utc_iso(ms: i64) -> String {
    match date_time(ms) {
        Some(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        None => String::new(),
    }
}

/// A time on a page: the local time, with the UTC instant in `datetime` and as a tooltip.
pub fn when(ms: i64) -> Markup {
    let iso = utc_iso(ms);
    html! { time datetime=(iso) title=(iso) { (local_time(ms)) } }
}

/// Tiyn as tenge with two decimals and thousands apart: `-1 234 567.89`. Integer arithmetic
/// only.
pub fn tenge(tiyn: i64) -> String {
    let sign = if tiyn < 0 { "-" } else { "" };
    let abs = tiyn.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            // A no-break space: an amount never wraps across lines.
            grouped.push('\u{a0}');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}.{:02}", abs % 100)
}

/// Tiyn as tenge with two decimals and nothing else (`-1234567.89`): for CSV and form fields.
pub fn tenge_plain(tiyn: i64) -> String {
    let sign = if tiyn < 0 { "-" } else { "" };
    let abs = tiyn.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_local_and_labelled() {
        assert_eq!(local_time(0), "1970-01-01 05:00:00 UTC+5");
        assert_eq!(local_time(1_740_820_507_000), "2025-03-01 14:15:07 UTC+5");
        // 21:30 UTC is already the next day in Kazakhstan.
        assert_eq!(local_time(1_740_864_600_000), "2025-03-02 02:30:00 UTC+5");
        assert_eq!(utc_iso(1_740_820_507_042), "2025-03-01T09:15:07.042Z");
    }

    #[test]
    fn money_is_shown_in_tenge() {
        assert_eq!(tenge(0), "0.00");
        assert_eq!(tenge(5), "0.05");
        assert_eq!(tenge(123_456_789), "1\u{a0}234\u{a0}567.89");
        assert_eq!(tenge(-100_000), "-1\u{a0}000.00");
        assert_eq!(tenge_plain(-123_456_789), "-1234567.89");
        assert_eq!(tenge_plain(50), "0.50");
    }

    /// rust-i18n falls back to Russian for a missing text, which would hide a gap; so compare
    /// the files' keys directly (they are flat: one `dotted.key: text` per line).
    #[test]
    fn every_language_has_every_text() {
        let keys = |text: &str| -> Vec<String> {
            let mut keys: Vec<String> = text
                .lines()
                .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
                .filter_map(|line| line.split_once(':').map(|(key, _)| key.to_owned()))
                .collect();
            keys.sort();
            keys
        };
        let ru = keys(include_str!("../../locales/ru.yml"));
        assert!(ru.len() > 20);
        assert_eq!(keys(include_str!("../../locales/kk.yml")), ru, "kk");
        assert_eq!(keys(include_str!("../../locales/en.yml")), ru, "en");
        assert_eq!(
            rust_i18n::t!("keys.certify", locale = "ru"),
            "Заверить ключ мобильной точки"
        );
        assert_eq!(rust_i18n::t!("keys.revoke", locale = "en"), "Revoke key");
    }
}
