//! The plain-HTTP port next to HTTPS (`--http-redirect-port`): every request is sent to the
//! same path on HTTPS, so an address typed without `https://` still opens the app. The one
//! exception is the local certificate authority (`/lan-ca.crt`, with `--lan-ca-file`): a
//! phone that does not trust it yet downloads it here without a certificate warning.

use std::sync::Arc;

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

/// What the redirect port needs to answer.
#[derive(Clone)]
struct Redirect {
    https_port: u16,
    ca_der: Option<Arc<[u8]>>,
}

/// The redirect port's router: `https_port` is where the gateway serves HTTPS; `ca_der`
/// the certificate authority to serve at `/lan-ca.crt`, if any.
pub fn router(https_port: u16, ca_der: Option<Arc<[u8]>>) -> Router {
    let mut router = Router::new();
    if ca_der.is_some() {
        router = router.route(
            super::CA_PATH,
            get(|State(redirect): State<Redirect>| async move {
                super::ca_response(redirect.ca_der.as_deref().unwrap_or_default())
            }),
        );
    }
    router
        .fallback(to_https)
        .with_state(Redirect { https_port, ca_der })
}

/// `308 Permanent Redirect` (the method and body are kept) to `https://HOST[:PORT]/same/path`.
async fn to_https(State(redirect): State<Redirect>, request: Request) -> Response {
    let Some(host) = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return (StatusCode::BAD_REQUEST, "a Host header is required\n").into_response();
    };
    let name = host_name(host);
    let port = match redirect.https_port {
        443 => String::new(),
        port => format!(":{port}"),
    };
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let Ok(location) = HeaderValue::try_from(format!("https://{name}{port}{path}")) else {
        return (StatusCode::BAD_REQUEST, "the Host header is not valid\n").into_response();
    };
    (
        StatusCode::PERMANENT_REDIRECT,
        [
            (header::LOCATION, location),
            // A browser would otherwise keep the redirect for good and never again open a
            // plain local demo on the same port.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

/// The host of a `Host` header without its port: `192.168.1.5:8080` → `192.168.1.5`,
/// `[fd00::1]:8080` → `[fd00::1]`, `localhost` → `localhost`.
pub fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn host_names_lose_their_port_only() {
        assert_eq!(host_name("192.168.1.5:8080"), "192.168.1.5");
        assert_eq!(host_name("[fd00::1]:8080"), "[fd00::1]");
        assert_eq!(host_name("[fd00::1]"), "[fd00::1]");
        assert_eq!(host_name("localhost"), "localhost");
        assert_eq!(host_name("pay.example.kz:80"), "pay.example.kz");
    }
}
