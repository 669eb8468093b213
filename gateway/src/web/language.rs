//! The language of the server-rendered pages (console and public): Russian unless the user picked Kazakh or English with `?lang=`
//! on any console page, which is then remembered in the `tolem_lang` cookie.
//!
//! The choice is made once per request by [`remember`] and held in a task-local for the
//! request's duration, so every page and error page renders in it without each handler
//! passing it around.

use axum::{
    extract::Request,
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};
use cookie::{Cookie, SameSite};
use tolem_protocol::codes::Lang;

use super::cookie_value;

/// Name of the cookie that remembers the language.
pub const COOKIE: &str = "tolem_lang";

tokio::task_local! {
    static CURRENT: Lang;
}

/// The language of the request being handled (Russian outside a request).
pub fn current() -> Lang {
    CURRENT.try_with(|lang| *lang).unwrap_or(Lang::Ru)
}

/// The text `key` of the gateway's catalogues (`locales/*.yml`) in the request's language.
pub fn tr(key: &str) -> String {
    rust_i18n::t!(key, locale = current().tag()).into_owned()
}

/// A language code Tolem speaks, exactly (`ru`, `kk`, `en`); anything else is ignored.
fn parse(tag: &str) -> Option<Lang> {
    Lang::ALL.into_iter().find(|lang| lang.tag() == tag)
}

/// Picks the request's language and, when it came from `?lang=`, remembers it for a year.
pub async fn remember(request: Request, next: Next) -> Response {
    let asked = request.uri().query().and_then(|query| {
        query
            .split('&')
            .filter_map(|pair| pair.strip_prefix("lang="))
            .find_map(parse)
    });
    let remembered = cookie_value(request.headers(), COOKIE).and_then(|tag| parse(&tag));
    let lang = asked.or(remembered).unwrap_or(Lang::Ru);

    let mut response = CURRENT.scope(lang, next.run(request)).await;
    if let Some(lang) = asked {
        let cookie = Cookie::build((COOKIE, lang.tag()))
            .path("/console")
            .same_site(SameSite::Lax)
            .http_only(true)
            .max_age(time::Duration::days(365))
            .build()
            .to_string();
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
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
