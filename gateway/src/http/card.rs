//! The payment services' notifications: `POST` (or `GET`, which Robokassa may be set up to use)
//! `/api/card/<service>/<kind>` — TipTop Pay's `check`, `pay`, `fail` and `refund`, Robokassa's
//! `result`. The raw request goes to the service's adapter untouched (its signature is over the
//! exact bytes), the decision to [`crate::card::notify`], and the answer back in the service's
//! own format. Not part of the signed protocol: the service signs its own way.

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::any,
};
use tolem_card_payments::{Incoming, ServiceKind};

use crate::{
    card::{
        notify::{self, NotifyError},
        settle::SettleError,
    },
    db::now_ms,
    state::AppState,
    web::client_ip::ClientIp,
};

/// Notifications are a few hundred bytes of form fields.
const MAX_NOTIFICATION_BYTES: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/card/{service}/{kind}", any(notification))
}

/// A payment service's notification, answered in the service's own format.
#[utoipa::path(
    method(get, post),
    path = "/api/card/{service}/{kind}",
    tag = "card",
    summary = "A card payment service's notification (its own signature, its own answer format).",
    params(
        ("service" = String, Path, description = "`tiptop` or `robokassa`: a service this gateway is set up for."),
        ("kind" = String, Path, description = "TipTop Pay's `check`, `pay`, `fail`, `refund`; Robokassa's `result`."),
    ),
    request_body(content = std::collections::BTreeMap<String, String>, content_type = "application/x-www-form-urlencoded",
        description = "The service's form fields, signed its own way (checked over the exact bytes)."),
    responses(
        (status = 200, description = "Decided: the service's own answer (TipTop Pay: JSON `{\"code\":0}`; Robokassa: `OK<InvId>`)."),
        (status = 400, description = "Refused (a bad signature, an unknown invoice): the service's own answer."),
        (status = 404, description = "No such service, or it is not set up on this gateway."),
        (status = 413, description = "Over 64 KiB."),
        (status = 503, description = "Not decided now (the database, or the dealer's row held by another transaction longer than `TOLEM_DEALER_LOCK_WAIT_MS`): the service sends it again later."),
    ),
)]
pub(crate) async fn notification(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Path((service, kind)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(service) = ServiceKind::from_name(&service)
        .and_then(|kind| state.card.service_of(kind))
        .cloned()
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(body) = to_bytes(body, MAX_NOTIFICATION_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let incoming = Incoming {
        path: &kind,
        query: query.as_deref().unwrap_or(""),
        headers: &headers,
        body: &body,
    };
    let lock_wait = state.payments.held_dealers().wait;
    match notify::handle(
        &state.pool,
        service.as_ref(),
        &incoming,
        client,
        now_ms(),
        lock_wait,
    )
    .await
    {
        Ok((reply, settled)) => {
            if settled {
                state.delivery.wake();
                // Its receipt, when the customer left an address.
                state.mail.wake();
            }
            // A notification may have asked for a refund (a charge that could not be settled).
            state.card.refunds.notify_one();
            (
                StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK),
                [(header::CONTENT_TYPE, reply.content_type)],
                reply.body,
            )
                .into_response()
        }
        Err(error @ NotifyError::Settle(SettleError::DealerHeld(_))) => {
            // The operator's to look into (docs/operations.md), not a fault of the gateway.
            tracing::warn!(%error, service = service.kind().name(), kind = %kind,
                "card payment not settled now; the service sends it again");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Err(error) => {
            // Not answered: the service sends it again later, as it does after a timeout.
            tracing::error!(%error, service = service.kind().name(), kind = %kind,
                "card notification not decided");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
