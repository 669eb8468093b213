//! The frame of every console page (title, language switch, who is logged in), its stylesheet,
//! error pages, and how times are shown.

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
                        span.user { (user.email()) }
                        form.logout method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(user.csrf_token());
                            button type="submit" { (tr("console.logout")) }
                        }
                    }
                }
                main { h1 { (title) } (content) }
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
        ConsoleError::Internal(_) => tr("errors.internal"),
    };
    let content = html! {
        p.error { (message) }
        p { a href="/console/keys" { (tr("errors.back")) } }
    };
    page("/console/keys", &tr("errors.title"), None, content)
}

/// A stored time (unix milliseconds, UTC) as the console shows it: `2025-03-01 09:15:07 UTC`.
/// Always UTC, labelled: the dealer's office and the point may be in different time zones
/// (Kazakhstan had two until 2024), and an unlabelled time invites the wrong one.
pub fn utc(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "—".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_and_labelled() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_740_820_507_000), "2025-03-01 09:15:07 UTC");
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
