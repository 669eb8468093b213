//! The signed steps about the point itself: `POST /api/v1/balance` and `POST /api/v1/revoke`
//! (the payment steps are in [`super::payments`]). Each takes an extractor from
//! [`super::signed`], which has already run every check; `message` is in [`super::message`].

use axum::{Router, extract::State, routing::post};
use tolem_protocol::{
    codes::ResultCode,
    messages::{BalanceInfo, Outcome, Request, Step},
};

use super::{
    answer::Answer,
    signed::{Authorized, KeyHolder},
};
use crate::{
    audit::{self, Action, Actor, Event},
    db::{
        begin_write,
        day_sums::{self, Scope},
        keys, network, now_ms, revoked_waiting,
    },
    payments::business_day_start,
};
use crate::{state::AppState, web::client_ip::ClientIp};

/// Routes of the signed steps, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/balance", post(balance))
        .route("/revoke", post(revoke))
}

/// The dealer's balance (manual §15) and the point's limits: what is left of its daily limit
/// after today's accepted payments (business day, see [`crate::payments`]).
#[utoipa::path(
    post,
    path = "/api/v1/balance",
    tag = "point",
    summary = "The dealer's balance and the point's limits.",
    params(super::openapi::SignedHeaders),
    request_body(content = Request, content_type = "application/json",
        description = "A signed request (at most 16 KiB); its `step` is the URL's last segment."),
    responses(super::openapi::ProtocolAnswers),
)]
pub(crate) async fn balance(
    State(state): State<AppState>,
    Authorized(auth): Authorized,
) -> Result<Answer, Answer> {
    let point = &auth.point;
    let point_day_left_tiyn = match point.daily_limit_tiyn {
        Some(limit) => {
            let mut conn = state.pool.acquire().await?;
            let today = business_day_start(now_ms());
            let spent = day_sums::of(&mut conn, Scope::Point(&point.code), today).await?;
            Some((limit - spent).max(0))
        }
        None => None,
    };
    Ok(Answer::outcome(
        Some(auth.request.session),
        Outcome::Balance(BalanceInfo {
            dealer_balance_tiyn: auth.dealer.balance_tiyn,
            point_day_left_tiyn,
            point_payment_limit_tiyn: point.payment_limit_tiyn,
            offline: Some(point.offline.clone()),
            dealer: Some(auth.dealer.details()),
        }),
    ))
}

/// *Delete key* on the phone (manual §9.5): the key revokes itself, for good. Only a
/// [`KeyHolder`] is required — a pending key, or one of a blocked point, may always give up.
/// A key already revoked gets 903, which the phone can take as "done". Written to the audit
/// trail under `key:<serial>`.
///
/// The phone names the sessions of its payments and bills still waiting on it (the cashier
/// saved them to a file): kept with the revocation, in its transaction, and in its audit
/// record, so that a `pay` of one of them signed by this key is decided later as if the key
/// were still in force ([`crate::sender`], check 6). An older phone names none.
#[utoipa::path(
    post,
    path = "/api/v1/revoke",
    tag = "point",
    summary = "The key revokes itself, for good (903 when it was already).",
    params(super::openapi::SignedHeaders),
    request_body(content = Request, content_type = "application/json",
        description = "A signed request (at most 16 KiB); its `step` is the URL's last segment."),
    responses(super::openapi::ProtocolAnswers),
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    holder: KeyHolder,
) -> Result<Answer, Answer> {
    let serial = &holder.key.serial;
    let by = format!("key:{serial}");
    let waiting = match &holder.request.step {
        Step::RevokeWaiting(revocation) => revocation.waiting.as_slice(),
        _ => &[],
    };
    let session = holder.request.session.clone();
    let now = now_ms();
    let mut tx = begin_write(&state.pool).await?;
    if !keys::revoke(&mut tx, serial, None, &by, now).await? {
        // Revoked by a parallel request since the pipeline looked.
        return Err(Answer::refusal(Some(session), ResultCode::KeyRevoked));
    }
    revoked_waiting::record(&mut tx, serial, waiting).await?;
    let point = &holder.key.point_code;
    let dealer = network::point(&mut *tx, point)
        .await?
        .map(|p| p.dealer_code);
    let mut details = serde_json::json!({
        "point": point,
        "before": { "state": keys::state_text(holder.key.state) },
        "after": { "state": "revoked" },
    });
    // Absent when nothing waited: such a record reads as every one before the list existed.
    if !waiting.is_empty() {
        details["waiting"] = serde_json::json!(waiting);
    }
    let event = Event {
        action: Action::KeyRevokedByPhone,
        subject: format!("key:{serial}"),
        details,
    };
    audit::record_in(
        &mut tx,
        &Actor::new(by.clone(), dealer.as_deref(), ip),
        &event,
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(%serial, point = %holder.key.point_code, waiting = waiting.len(),
        "key revoked by its phone");
    Ok(Answer::outcome(Some(session), Outcome::Revoked))
}
