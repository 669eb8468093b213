//! The JSON face of the gateway: the API under `/api`, the signed protocol under `/api/v1`,
//! described (OpenAPI 3.1, generated from the handlers) at `/api/openapi.json` ([`openapi`]).
//!
//! The console (`/console`), the public pages (`/verify`) and the cashier app's files sit
//! beside this face; [`crate::app`] mounts them all.

pub mod answer;
pub mod batch;
pub mod card;
pub mod health;
pub mod key_card;
pub mod message;
pub mod openapi;
pub mod payments;
pub mod point_login;
pub mod providers;
pub mod registration;
pub mod shift;
pub mod signed;
pub mod steps;

use axum::{Router, middleware};
use tower_http::{
    compression::{
        CompressionLayer, CompressionLevel,
        predicate::{DefaultPredicate, Predicate, SizeAbove},
    },
    decompression::RequestDecompressionLayer,
};

use crate::{error::Error, state::AppState};

/// Answers of at least this many bytes go compressed to a client that accepts it: a batch's
/// answers (about 470 bytes each, up to 50 of them) and the provider catalogue. A single
/// payment's answer (under 1 KiB) stays as it is — compressing it would save a few hundred
/// bytes for processor time on every payment of a busy gateway.
const COMPRESS_FROM_BYTES: u16 = 1024;

/// The JSON API. Its own fallback answers unknown `/api/...` paths with a JSON 404 instead of
/// the cashier app's `index.html`, so a client calling a wrong endpoint sees the mistake.
pub fn api_router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(openapi::router())
        .merge(card::router())
        .nest("/v1", protocol_router(state))
        .fallback(api_not_found)
}

/// The signed protocol (`/api/v1`): every answer leaves signed by the gateway key.
///
/// A request body may come gzipped (`Content-Encoding: gzip`; any other coding is refused with
/// a signed 415, [`answer::sign_answers`]): a phone on a slow link sends its replayed batch
/// that way. It is decoded before anything reads it, so the signatures, the answer's binding
/// and every size limit apply to the bytes the phone signed — a small body that inflates past
/// a limit is refused like a large one. Large answers go back compressed ([`compress_large`]).
fn protocol_router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(key_card::router())
        .merge(registration::router())
        .merge(providers::router())
        .merge(payments::router())
        .merge(batch::router())
        .merge(message::router())
        .merge(steps::router())
        .merge(shift::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            answer::sign_answers,
        ))
        // A coding it cannot read passes through with its header, for the signing layer to
        // refuse: the layer's own 415 would leave unsigned.
        .layer(RequestDecompressionLayer::new().pass_through_unaccepted(true))
        .layer(compress_large())
}

/// Compresses a large answer (brotli or gzip, as the client's `Accept-Encoding` allows) after
/// it was signed: the signature covers the bytes the client reads once its HTTP stack has
/// decoded them, exactly as without compression. On the 128 kbit/s links the app is built for,
/// a replayed batch's answers are most of the time it takes (issue 14 item 3). Brotli's quality
/// 4 rather than its default 11, which is meant for files compressed once, not for answers.
fn compress_large() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .quality(CompressionLevel::Precise(4))
        .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_FROM_BYTES)))
}

/// `{"error":"not_found"}` for any unknown API path.
async fn api_not_found() -> Error {
    Error::NotFound
}
