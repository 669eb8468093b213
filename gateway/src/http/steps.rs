//! The signed steps implemented so far: `POST /api/v1/balance` and `POST /api/v1/revoke`.
//! Each takes an extractor from [`super::signed`], which has already run every check; the
//! other steps (check, pay, status, message) answer 404 until they are built the same way.

use axum::{Router, extract::State, routing::post};
use tolem_protocol::{
    codes::ResultCode,
    messages::{BalanceInfo, Outcome},
};

use super::{
    AppState,
    answer::Answer,
    signed::{Authorized, KeyHolder},
};
use crate::db::{keys, now_ms};

/// Routes of the signed steps, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/balance", post(balance))
        .route("/revoke", post(revoke))
}

/// The dealer's balance (manual §15) and the point's limits.
async fn balance(auth: Authorized) -> Answer {
    Answer::outcome(
        Some(auth.request.session),
        Outcome::Balance(BalanceInfo {
            dealer_balance_tiyn: auth.dealer.balance_tiyn,
            // Payments do not exist yet, so nothing is spent today: once they do, today's
            // accepted payments of the point are subtracted here.
            point_day_left_tiyn: auth.point.daily_limit_tiyn,
            point_payment_limit_tiyn: auth.point.payment_limit_tiyn,
        }),
    )
}

/// *Delete key* on the phone (manual §9.5): the key revokes itself, for good. Only a
/// [`KeyHolder`] is required — a pending key, or one of a blocked point, may always give up.
/// A key already revoked gets 903, which the phone can take as "done".
async fn revoke(State(state): State<AppState>, holder: KeyHolder) -> Result<Answer, Answer> {
    let serial = &holder.key.serial;
    let by = format!("key:{serial}");
    let session = holder.request.session;
    if !keys::revoke(&state.pool, serial, None, &by, now_ms()).await? {
        // Revoked by a parallel request since the pipeline looked.
        return Err(Answer::refusal(Some(session), ResultCode::KeyRevoked));
    }
    tracing::info!(%serial, point = %holder.key.point_code, "key revoked by its phone");
    Ok(Answer::outcome(Some(session), Outcome::Revoked))
}
