//! The HTTP client both adapters share: how a service's URL is checked, how a request is sent
//! and its answer read, and what a failure means for the gateway.
//!
//! No retries here: the gateway owns the retry policy. Requests that change something carry
//! the service's idempotency key where it has one, so the gateway may repeat them.

use std::time::Duration;

use crate::config::ConfigError;
use crate::service::ServiceError;

/// A service that takes longer than this is treated as unreachable; the gateway asks again.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// Answers are a few kilobytes; a service sending more is broken.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// The client, built once per adapter. Building it only fails when TLS cannot be set up at
/// all; that is reported at the first call (as unreachable) rather than as a configuration
/// error, since no setting would fix it.
pub(crate) fn build() -> Result<reqwest::Client, String> {
    // A payment endpoint that moved is a configuration change to make on purpose, not a
    // redirect to follow with the customer's money.
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent(concat!("tolem-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| error_chain(&e))
}

/// Parses a service URL: http(s), a host, no credentials (they would end up in logs).
pub(crate) fn check_url(text: &str) -> Result<url::Url, ConfigError> {
    let url = url::Url::parse(text).map_err(|e| ConfigError::BadUrl(format!("{text}: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(ConfigError::BadUrl(format!("{text}: not http(s)")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::CredentialsInUrl);
    }
    if url.host().is_none() {
        return Err(ConfigError::BadUrl(format!("{text}: no host")));
    }
    Ok(url)
}

/// `base` with `path` appended to its path (`https://api.x.kz` + `orders/create`), keeping a
/// path prefix the base may have (an emulator or a proxy under a folder).
pub(crate) fn join(base: &url::Url, path: &str) -> url::Url {
    let mut url = base.clone();
    let joined = format!("{}/{}", base.path().trim_end_matches('/'), path);
    url.set_path(&joined);
    url.set_query(None);
    url
}

/// Sends a request and reads its whole answer as text, with its status.
pub(crate) async fn send(
    client: &Result<reqwest::Client, String>,
    request: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder,
) -> Result<(u16, String), ServiceError> {
    let client = client
        .as_ref()
        .map_err(|e| ServiceError::Unreachable(format!("no HTTP client: {e}")))?;
    let mut response = request(client).send().await.map_err(unreachable)?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(ServiceError::Unreadable(format!(
                "the answer is larger than {MAX_ANSWER_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// What a status outside 2xx means: the credentials are wrong (final), or the service is not
/// answering properly now (the gateway asks again).
pub(crate) fn status_error(status: u16, body: &str) -> ServiceError {
    let excerpt: String = body.chars().take(200).collect();
    match status {
        401 | 403 => ServiceError::CredentialsRefused(status),
        _ => ServiceError::Unreachable(format!("HTTP {status}: {excerpt}")),
    }
}

fn unreachable(error: reqwest::Error) -> ServiceError {
    // The URL is the configured one and carries no secret, but the message is clearer
    // without it; timeouts, refused connections and cut answers alike mean "ask again".
    ServiceError::Unreachable(error_chain(&error.without_url()))
}

/// An error with its causes ("error sending request: connection refused").
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Compares two byte strings in time that depends only on their lengths, so a signature
/// check does not tell an attacker how many leading bytes were right.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_urls() {
        assert!(check_url("https://api.tiptoppay.kz").is_ok());
        assert!(check_url("http://127.0.0.1:8092/").is_ok());
        assert_eq!(
            check_url("https://id:secret@api.tiptoppay.kz"),
            Err(ConfigError::CredentialsInUrl)
        );
        assert!(matches!(
            check_url("ftp://x.kz"),
            Err(ConfigError::BadUrl(_))
        ));
        assert!(matches!(check_url("api.kz"), Err(ConfigError::BadUrl(_))));
    }

    #[test]
    fn joins_under_a_prefix() {
        let base = url::Url::parse("http://127.0.0.1:1/emu/").unwrap();
        assert_eq!(
            join(&base, "orders/create").as_str(),
            "http://127.0.0.1:1/emu/orders/create"
        );
        let bare = url::Url::parse("https://api.tiptoppay.kz").unwrap();
        assert_eq!(
            join(&bare, "payments/refund").as_str(),
            "https://api.tiptoppay.kz/payments/refund"
        );
    }

    #[test]
    fn compares_in_constant_time() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
