//! The emulator's routes, all on one address. Paths are the services' own, relative to the
//! emulator's base URL, so an adapter pointed at the emulator speaks to it unchanged.
//!
//! TipTop Pay (API base = the emulator's base):
//! * `POST /orders/create`, `POST /payments/refund`: the API (Basic auth, `X-Request-ID`).
//!
//! Robokassa (page = `BASE/Merchant/Index.aspx`, services host = BASE):
//! * `GET|POST /Merchant/Index.aspx`: the signed link; opens the card page.
//! * `GET|POST /Merchant/WebService/Service.asmx/OpStateExt`: an invoice's operation (XML).
//! * `POST /RefundService/Refund/Create`, `GET /RefundService/Refund/GetState?id=`.
//!
//! Both: `/d/{order}` (card page), `/acs/{transaction}` (the bank's 3-D Secure page).
//!
//! Tests and demos: `/control/...`, see [`super::control`]. The control routes take no
//! credentials: the emulator is a test fixture, not to be exposed.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header as names};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;

use super::state::Emulator;
use super::{checkout, control, robokassa, tiptop};

/// The emulator's routes.
pub fn app(emulator: Arc<Emulator>) -> Router {
    Router::new()
        .route("/orders/create", post(tiptop::create_order))
        .route("/payments/refund", post(tiptop::refund))
        .route("/payments/get", post(tiptop::transaction))
        .route(
            "/Merchant/Index.aspx",
            get(robokassa::index).post(robokassa::index),
        )
        .route(
            "/Merchant/WebService/Service.asmx/OpStateExt",
            get(robokassa::op_state_ext).post(robokassa::op_state_ext),
        )
        .route(
            "/RefundService/Refund/Create",
            post(robokassa::refund_create),
        )
        .route(
            "/RefundService/Refund/GetState",
            get(robokassa::refund_state),
        )
        .route(
            "/d/{order}",
            get(checkout::show_order).post(checkout::submit_card),
        )
        .route(
            "/acs/{transaction}",
            get(checkout::show_bank).post(checkout::submit_bank),
        )
        .merge(control::routes())
        .with_state(emulator)
}

/// An HTML page.
pub fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(names::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// A header's value as text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Whether the request carries HTTP Basic credentials `user:password`.
pub fn basic_auth_is(headers: &HeaderMap, user: &str, password: &str) -> bool {
    header(headers, "authorization")
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
        })
        .is_some_and(|given| {
            crate::client::constant_time_eq(&given, format!("{user}:{password}").as_bytes())
        })
}
