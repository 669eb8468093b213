//! What every HTML and JSON face of the gateway shares at the HTTP level, below all of them:
//! the client's address ([`client_ip`]), the host it was sent to ([`host`]), the request's
//! language ([`language`]), cookies, and
//! the cashier app's own files ([`static_files`]), served wherever no face answers.

pub mod app_policy;
pub mod client_ip;
pub mod host;
pub mod language;
pub mod metrics_endpoint;
pub mod static_files;

use axum::http::{HeaderMap, header};
use cookie::Cookie;

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}
