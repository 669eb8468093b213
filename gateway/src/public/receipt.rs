//! `GET /receipt/<transaction>/<session>` — the public receipt check the QR code on a payment
//! document opens (no login; Russian by default, `?lang=kk` / `?lang=en`): what the gateway
//! recorded about the payment, and the gateway's signature over those facts with the text it
//! signed and the key to check it with (see [`crate::payments::receipt`]).
//!
//! An unknown transaction and a wrong session get the very same 404 page: the answer never tells
//! a guesser that a transaction number exists.

use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use maud::{Markup, html};
use tolem_protocol::receipt::RECEIPT_PATH;

use super::frame::frame;
use crate::{
    db::now_ms,
    display::{local_time, tenge, utc_iso},
    payments::receipt::{self, SignedFacts},
    state::AppState,
    web::language::{self, tr},
};

/// The public route, with the public pages' language handling and headers.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/receipt/{transaction}/{session}", get(page))
        .layer(middleware::from_fn(super::security_headers))
        .layer(middleware::from_fn(language::remember))
}

/// `GET /receipt/<transaction>/<session>`.
async fn page(
    State(state): State<AppState>,
    Path((transaction, session)): Path<(String, String)>,
) -> Response {
    match receipt::find(&state.pool, &transaction, &session, now_ms()).await {
        Ok(Some(facts)) => {
            let here = format!("{RECEIPT_PATH}{transaction}/{session}");
            let signed = receipt::sign(facts, &state.gateway_key);
            frame(&tr("receipt_check.title"), &here, document(&state, &signed)).into_response()
        }
        Ok(None) => {
            tracing::info!("receipt check: no such receipt");
            let content = html! {
                section.receipt-check #receipt-check data-found="false" {
                    p.error #reason role="alert" { (tr("receipt_check.not_found")) }
                    p.muted { (tr("receipt_check.ask_cashier")) }
                }
            };
            (
                StatusCode::NOT_FOUND,
                frame(&tr("receipt_check.title"), "", content),
            )
                .into_response()
        }
        Err(error) => {
            tracing::error!(%error, "receipt check failed");
            let content = html! { p.error #reason role="alert" { (tr("errors.internal")) } };
            (
                StatusCode::SERVICE_UNAVAILABLE,
                frame(&tr("receipt_check.title"), "", content),
            )
                .into_response()
        }
    }
}

/// The facts as a person reads them, then the signature and how to check it.
fn document(state: &AppState, signed: &SignedFacts) -> Markup {
    let f = &signed.facts;
    let key = state.gateway_key.public_key();
    let state_text = if f.state == "accepted" {
        tr("receipt_check.state_accepted")
    } else {
        format!("{} ({})", tr("receipt_check.state_rejected"), f.code)
    };
    html! {
        section.receipt-check #receipt-check data-found="true" data-transaction=(f.transaction)
            data-state=(f.state) data-delivery=[f.delivery.as_deref()] {
            dl {
                dt { (tr("receipt_check.dealer")) }
                dd #dealer { (f.dealer_name) }
                @if !f.dealer_bin.is_empty() {
                    dt { (tr("receipt_check.bin")) } dd #dealer-bin { (f.dealer_bin) }
                }
                @if !f.dealer_address.is_empty() {
                    dt { (tr("receipt_check.address")) } dd #dealer-address { (f.dealer_address) }
                }
                dt { (tr("receipt_check.point")) } dd #point { (f.point_name) " (" (f.point) ")" }
                dt { (tr("receipt_check.cashier")) } dd #cashier { (f.cashier) }
                dt { (tr("receipt_check.transaction")) } dd #transaction { (f.transaction) }
                dt { (tr("receipt_check.time")) }
                dd #time { time datetime=(utc_iso(f.created_at_ms)) { (local_time(f.created_at_ms)) } }
                dt { (tr("receipt_check.provider")) } dd #provider { (f.provider_name) }
                dt { (tr("receipt_check.account")) } dd #account { (f.account) }
                dt { (tr("receipt_check.amount")) } dd #amount { (tenge(f.amount_tiyn)) " ₸" }
                dt { (tr("receipt_check.commission")) } dd #commission { (tenge(f.commission_tiyn)) " ₸" }
                dt { (tr("receipt_check.paid")) } dd { strong #paid { (tenge(f.customer_amount_tiyn)) " ₸" } }
                dt { (tr("receipt_check.state")) } dd #state { (state_text) }
                @if let Some(delivery) = &f.delivery {
                    dt { (tr("receipt_check.delivery")) }
                    dd #delivery { (tr(&format!("receipt_check.delivery_{delivery}"))) }
                }
                @if let Some(at) = f.refunded_at_ms {
                    dt { (tr("receipt_check.refunded")) } dd #refunded { (local_time(at)) }
                }
            }
            h2 { (tr("receipt_check.signature_heading")) }
            p.muted { (tr("receipt_check.signature_hint")) }
            p { (tr("receipt_check.signed_text")) }
            pre.letter #signed-text { (signed.text) }
            p { (tr("receipt_check.signature")) ": " code #signature { (signed.signature) } }
            p {
                (tr("receipt_check.gateway_key")) ": " code #gateway-key { (key) }
                " · " (tr("points.fingerprint")) ": " code { (key.fingerprint()) }
            }
            p.muted { (tr("receipt_check.checked_at")) " " (local_time(f.checked_at_ms)) }
        }
    }
}
