//! The console's language: Russian unless the user picked Kazakh or English with `?lang=`
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

use super::session::cookie_value;

/// Name of the cookie that remembers the language.
pub const COOKIE: &str = "tolem_lang";

tokio::task_local! {
    static CURRENT: Lang;
}

/// The language of the request being handled (Russian outside a request).
pub fn current() -> Lang {
    CURRENT.try_with(|lang| *lang).unwrap_or(Lang::Ru)
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
