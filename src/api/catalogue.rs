//! `GET /api/v1/providers`: the provider catalogue, asked with the `ETag` of the copy the phone
//! has, so an unchanged catalogue costs an empty 304 on a 128 kbit/s line.
//!
//! The browser's own HTTP cache is bypassed (`no-store`): the app keeps the catalogue in
//! IndexedDB, where it survives the browser clearing its cache and is there offline.

use gloo_net::http::Request as HttpRequest;
use tolem_protocol::messages::{KeyCard, Message};
use tolem_protocol::providers::Catalogue;
use tolem_protocol::signing::{KEY_HEADER, SIGNATURE_HEADER};

use crate::api::{API_PREFIX, Answer, ApiError, TIMEOUT_MS, Unclear};

/// What the gateway said about the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// The phone's copy is current (304).
    NotModified,
    /// A new catalogue, its exact bytes and its `ETag`.
    Changed {
        catalogue: Catalogue,
        body: String,
        etag: Option<String>,
    },
}

/// Asks for the catalogue. With a key card its signature must verify with the card's gateway
/// key; without one (a phone that has no key yet) it is shown as it comes, for browsing only —
/// the gateway checks every payment against its own catalogue anyway.
pub async fn fetch(etag: Option<&str>, card: Option<&KeyCard>) -> Result<Fetched, ApiError> {
    if !tolem_outbox::transport::browser_online() {
        return Err(ApiError::Offline);
    }
    let timeout = web_sys::AbortSignal::timeout_with_u32(TIMEOUT_MS);
    let mut request = HttpRequest::get(&format!("{API_PREFIX}providers"))
        .cache(web_sys::RequestCache::NoStore)
        .abort_signal(Some(&timeout));
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    let response = request.send().await.map_err(|_| ApiError::Offline)?;
    match response.status() {
        304 => return Ok(Fetched::NotModified),
        status if status >= 500 => return Err(ApiError::Unclear(Unclear::ServerError(status))),
        _ => {}
    }
    let headers = response.headers();
    let etag = headers.get("etag");
    let signature = headers.get(KEY_HEADER).zip(headers.get(SIGNATURE_HEADER));
    let body = response
        .binary()
        .await
        .map_err(|_| ApiError::Unclear(Unclear::ConnectionLost))?;
    // The catalogue is the same for everyone and cached by the browser: signed over its bytes
    // alone (a GET asks for no binding), it can only ever be an older catalogue.
    let answer = Answer {
        body,
        signature,
        request_digest: None,
    };
    if let Some(card) = card {
        answer.check_signature(&card.gateway_key)?;
    }
    let not_an_answer = || ApiError::Unclear(Unclear::NotAnAnswer);
    let catalogue = Catalogue::decode(&answer.body).map_err(|_| not_an_answer())?;
    let body = String::from_utf8(answer.body).map_err(|_| not_an_answer())?;
    Ok(Fetched::Changed {
        catalogue,
        body,
        etag,
    })
}
