//! `GET /api/v1/providers`: the provider catalogue (a [`Catalogue`]), public — a phone needs
//! it before it has a key — and signed by the gateway like every protocol answer.
//!
//! Made for 128 kbit/s: the answer carries an `ETag` (a hash of its exact bytes) and
//! `Cache-Control: no-cache`, so the phone (or its browser cache) asks again each time with
//! `If-None-Match` and gets an empty 304 unless the catalogue changed.

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use sha2::{Digest, Sha256};
use tolem_protocol::{PROTOCOL_VERSION, messages::Message, providers::Catalogue};

use super::answer::Answer;
use crate::db::providers;
use crate::state::AppState;

/// Routes of the catalogue, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/providers", get(catalogue))
}

/// The catalogue, or 304 when the phone's copy is current.
#[utoipa::path(
    get,
    path = "/api/v1/providers",
    tag = "payments",
    summary = "The provider catalogue: public, signed, cached by ETag.",
    params(
        ("if-none-match" = Option<String>, Header,
            description = "The ETag of the phone's copy: 304 when it is current."),
        super::openapi::BindHeader,
    ),
    responses(
        (status = 200, description = "The catalogue, signed by the gateway like every protocol answer.",
            body = Catalogue,
            headers(
                ("etag" = String, description = "A strong tag of the exact body bytes."),
                ("x-tolem-key" = String, description = "`gateway`."),
                ("x-tolem-signature" = String, description = "The gateway's signature (see the rules above)."),
            )),
        (status = 304, description = "The phone's copy is current: no body, no signature."),
        (status = 500, description = "999: something failed inside the gateway.",
            body = tolem_protocol::messages::Response),
    ),
)]
pub(crate) async fn catalogue(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Answer> {
    let (providers, updated_at_ms) = providers::catalogue(&state.pool).await?;
    let body = Catalogue {
        v: PROTOCOL_VERSION,
        providers,
        updated_at_ms,
    }
    .encode();
    let etag = etag_of(&body);
    let cache_headers = [
        (header::ETAG, etag.clone()),
        // Stored, but checked with the gateway before each use.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    if is_current(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache_headers).into_response());
    }
    let json = (
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok((StatusCode::OK, cache_headers, [json], body).into_response())
}

/// A strong entity tag: the first 128 bits of the body's SHA-256, quoted.
fn etag_of(body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex in quotes is a valid header")
}

/// Whether `If-None-Match` names `etag` (or is `*`). Weak tags (`W/"..."`) match too, as
/// RFC 9110 asks of `If-None-Match`: proxies may weaken a tag when they compress.
fn is_current(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_and_weak_tags_match() {
        let etag = etag_of(b"catalogue");
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
            is_current(&headers, &etag)
        };
        let tag = etag.to_str().unwrap();
        assert!(with(tag));
        assert!(with(&format!("\"other\", {tag}")));
        assert!(with(&format!("W/{tag}")));
        assert!(with("*"));
        assert!(!with("\"other\""));
        assert!(!is_current(&HeaderMap::new(), &etag));
    }
}
