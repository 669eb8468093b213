//! The payment steps: `POST /api/v1/check`, `/pay` and `/status` (CyberplatMobile manual
//! §10–11). Each takes [`Authorized`], so the signed-step pipeline has run first; the rules are
//! in [`crate::payments`].
//!
//! * `check` — would this payment go through now? The gateway's rules, then (when the provider
//!   is connected) the provider's own answer about the account (`delivery::check`): its holder's
//!   name, or why it refuses (8, 7, 914 with the reason). No money moves, nothing is stored.
//! * `pay` — decides and stores the payment; answers a code and a receipt (accepted, or
//!   rejected with the code). The same session with the same content gets the stored decision
//!   again (stamped with the gateway's time now, as `status` is); with other content, 1.
//! * `status` — the stored outcome of the request's session (the pay answer's code and receipt,
//!   stamped with the gateway's time now, with the delivery to the provider as it is now), or
//!   11 when no pay of that session was received. For a card bill ([`crate::card`]) not paid
//!   yet: 915 (awaiting), 916 (expired) or 917 (cancelled) with the bill's state. A read only
//!   (but for marking an awaiting bill past its time expired): the phone may pre-sign it and
//!   send the same bytes as often as it needs.
//! * `cancel` — cancels the unpaid card bill of the session (917), or answers with its payment
//!   when the customer paid first.

use std::sync::Arc;

use axum::{Router, extract::State, routing::post};
use tolem_protocol::{
    codes::ResultCode,
    messages::{DeliveryState, Message, Outcome, Payment, Request, Response, Step},
};

use super::{answer::Answer, signed::Authorized};
use crate::sender::{self, Sender};
use crate::state::AppState;
use crate::{
    card,
    db::{deliveries, now_ms, payments as stored, providers},
    delivery,
    payments::{
        is_clock_ahead, judge,
        pay::{Paid, PayError},
        read_standing, screen,
    },
};

/// The pay step's name, the last segment of its URL.
pub(crate) const PAY: &str = crate::sender::PAY_STEP;

/// Routes of the payment steps, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/check", post(check))
        .route("/pay", post(pay_step))
        .route("/status", post(status))
        .route("/cancel", post(cancel))
}

/// The payment of a `check` or `pay` request (the pipeline made sure the step fits the URL).
fn payment_of(auth: &Sender) -> Result<&Payment, Answer> {
    match &auth.request.step {
        Step::Check(payment) | Step::Pay(payment) => Ok(payment),
        other => Err(Answer::internal(&format!(
            "{} reached a payment handler",
            other.name()
        ))),
    }
}

/// `check`: the rules of [`crate::payments`] against the figures of this moment.
#[utoipa::path(
    post,
    path = "/api/v1/check",
    tag = "payments",
    summary = "Would this payment go through now? No money moves, nothing is stored.",
    params(super::openapi::SignedHeaders),
    request_body(content = Request, content_type = "application/json",
        description = "A signed request (at most 16 KiB); its `step` is the URL's last segment."),
    responses(super::openapi::ProtocolAnswers),
)]
pub(crate) async fn check(
    State(state): State<AppState>,
    Authorized(auth): Authorized,
) -> Result<Answer, Answer> {
    let now = now_ms();
    let session = auth.request.session.clone();
    let payment = payment_of(&auth)?;
    let refuse = |code: ResultCode| {
        tracing::info!(point = %auth.point.code, %session, provider = %payment.provider,
            code = code.number(), "check refused");
        Answer::refusal(Some(session.clone()), code)
    };
    let created_at = auth.request.created_at_ms;
    if is_clock_ahead(created_at, now) {
        return Err(refuse(ResultCode::ClockAhead));
    }
    let mut conn = state.pool.acquire().await?;
    let provider = providers::payable_provider(&mut conn, &payment.provider).await?;
    let max_age = auth.point.offline.max_age_ms;
    let provider = provider.as_ref().map_err(|code| *code);
    let account = screen(payment, provider, created_at, now, max_age).map_err(refuse)?;
    let standing = read_standing(
        &mut conn,
        &auth.point.code,
        payment,
        &account,
        created_at,
        now,
    )
    .await?;
    judge(payment.amount_tiyn, &standing).map_err(refuse)?;
    drop(conn);
    // The gateway's rules pass: ask the provider too, when it is connected.
    let asked = delivery::check::ask(
        &state.pool,
        &state.adapters,
        &payment.provider,
        &account,
        payment.amount_tiyn,
    )
    .await;
    let (code, account) = match asked {
        Some((code, account)) => (code, Some(account)),
        None => (ResultCode::Ok, None),
    };
    tracing::info!(point = %auth.point.code, %session, provider = %payment.provider,
        amount_tiyn = payment.amount_tiyn, code = code.number(),
        asked_provider = account.is_some(), "check answered");
    let mut response = Response::code(Some(session.clone()), code, now_ms());
    response.outcome = Some(Outcome::Checked { account });
    Ok(Answer::response(response))
}

/// `pay`: see [`crate::payments::pay`].
#[utoipa::path(
    post,
    path = "/api/v1/pay",
    tag = "payments",
    summary = "Make the payment: the same session with the same content gets the stored answer again.",
    params(super::openapi::SignedHeaders),
    request_body(content = Request, content_type = "application/json",
        description = "A signed request (at most 16 KiB); its `step` is the URL's last segment."),
    responses(super::openapi::ProtocolAnswers),
)]
pub(crate) async fn pay_step(
    State(state): State<AppState>,
    Authorized(auth): Authorized,
) -> Result<Answer, Answer> {
    pay_authorized(&state, auth).await
}

/// The `pay` of a sender that passed every check, decided and answered: the single step's.
pub(crate) async fn pay_authorized(state: &AppState, auth: Sender) -> Result<Answer, Answer> {
    let ready = ready_to_pay(state, auth).await?;
    let paid = state.payments.pay(ready.sender.clone(), ready.now).await;
    Ok(answer_paid(state, &ready, paid))
}

/// A `pay` that passed the checks before its decision, waiting for it.
pub(crate) struct ReadyToPay {
    pub(crate) sender: Arc<Sender>,
    /// When it was received: its decision's time.
    pub(crate) now: i64,
}

/// The checks of a `pay` before its decision (the phone's clock), so that the single step and
/// each item of a batch ([`super::batch`]) decide and answer alike: `Err` is the refusal to
/// answer, nothing stored but its sequence number ([`sender::note_refused_pay`]).
pub(crate) async fn ready_to_pay(state: &AppState, auth: Sender) -> Result<ReadyToPay, Answer> {
    let now = now_ms();
    payment_of(&auth)?;
    if is_clock_ahead(auth.request.created_at_ms, now) {
        let session = auth.request.session.clone();
        tracing::info!(point = %auth.point.code, %session,
            created_at_ms = auth.request.created_at_ms,
            gateway_time_ms = now, "payment refused: created in the future");
        sender::note_refused_pay(&state.pool, &auth.key.serial, &auth.request)
            .await
            .map_err(|error| Answer::internal(&error))?;
        return Err(Answer::refusal(Some(session), ResultCode::ClockAhead));
    }
    Ok(ReadyToPay {
        sender: Arc::new(auth),
        now,
    })
}

/// The answer to a `pay` decided by the group writer (which owns the decision from the
/// moment it was submitted: a phone that hangs up cannot cut it short). The signature was
/// verified before, and the answer is signed by the caller, both in the request's task.
pub(crate) fn answer_paid(
    state: &AppState,
    ready: &ReadyToPay,
    paid: Result<Paid, PayError>,
) -> Answer {
    let auth = &ready.sender;
    let session = auth.request.session.clone();
    let point = &auth.point.code;
    let amount_tiyn = payment_of(auth).map_or(0, |payment| payment.amount_tiyn);
    let paid = match paid {
        Ok(paid) => paid,
        Err(error) => {
            tracing::error!(%point, %session, %error, "payment not decided");
            return Answer::refusal(Some(session), ResultCode::Internal);
        }
    };
    match paid {
        Paid::Decided {
            code,
            transaction_id,
            answer,
        } => {
            tracing::info!(%point, %session, %transaction_id, amount_tiyn, code = code.number(),
                "payment {}", if code == ResultCode::Ok { "accepted" } else { "rejected" });
            if code == ResultCode::Ok {
                state.delivery.wake();
            }
            Answer::stored(code, answer)
        }
        Paid::Replayed(payment) => {
            tracing::info!(%point, %session, transaction_id = %payment.transaction_id,
                code = payment.code.number(), "payment replayed: the stored answer again");
            // The stored decision with the gateway's time of now, as `status` answers: the phone
            // sets its signing clock from every signed answer, and a decision hours old (a pay
            // sent again after the phone was offline) would set it back by hours — its next
            // offline payments signed in the past, refused as too old (909) hours early.
            match Response::decode(&payment.response_body) {
                Ok(mut response) => {
                    response.gateway_time_ms = now_ms();
                    Answer::response(response)
                }
                Err(error) => Answer::internal(&format!("stored answer of {session}: {error}")),
            }
        }
        Paid::SessionTaken => {
            tracing::warn!(%point, %session, "payment refused: the session has other content");
            Answer::refusal(Some(session), ResultCode::SessionExists)
        }
        Paid::Refused(code) => {
            tracing::info!(%point, %session, code = code.number(),
                "payment refused: the sender may no longer pay; nothing stored");
            Answer::refusal(Some(session), code)
        }
    }
}

/// `status`: the stored outcome of the session.
#[utoipa::path(
    post,
    path = "/api/v1/status",
    tag = "payments",
    summary = "The stored outcome of the request's session (11: none).",
    params(super::openapi::SignedHeaders),
    request_body(content = Request, content_type = "application/json",
        description = "A signed request (at most 16 KiB); its `step` is the URL's last segment."),
    responses(super::openapi::ProtocolAnswers),
)]
pub(crate) async fn status(
    State(state): State<AppState>,
    Authorized(auth): Authorized,
) -> Result<Answer, Answer> {
    payment_status(&state, &auth).await
}

/// `cancel`: the bill of the session cancelled, or its payment if the customer paid first.
#[utoipa::path(
    post,
    path = "/api/v1/cancel",
    tag = "payments",
    summary = "Cancel the unpaid card bill of the session (917), or get its payment.",
    params(super::openapi::SignedHeaders),
    request_body(content = Request, content_type = "application/json",
        description = "A signed request (at most 16 KiB); its `step` is the URL's last segment."),
    responses(super::openapi::ProtocolAnswers),
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Authorized(auth): Authorized,
) -> Result<Answer, Answer> {
    match card::cancel::cancel(&state.pool, &auth, now_ms()).await? {
        card::cancel::Cancelled::Unpaid(answer) => Ok(Answer::response(*answer)),
        card::cancel::Cancelled::Paid => payment_status(&state, &auth).await,
    }
}

/// The stored outcome of the sender's session, with its delivery as it is now; for an unpaid
/// card bill, the bill's state.
async fn payment_status(state: &AppState, auth: &Sender) -> Result<Answer, Answer> {
    let session = auth.request.session.clone();
    let point = &auth.point.code;
    let mut conn = state.pool.acquire().await?;
    let Some(payment) = stored::find(&mut conn, point, session.as_str()).await? else {
        let now = now_ms();
        if let Some(bill) = card::cancel::find(&mut conn, point, session.as_str()).await?
            && let Some(answer) = card::cancel::unpaid_answer(&bill, now)
        {
            tracing::info!(%point, %session, invoice = bill.invoice,
                code = answer.code.number(), "status: a card bill not paid");
            return Ok(Answer::response(answer));
        }
        tracing::info!(%point, %session, "status: no such session");
        return Err(Answer::refusal(Some(session), ResultCode::NoSuchSession));
    };
    let mut response = Response::decode(&payment.response_body)
        .map_err(|error| Answer::internal(&format!("stored answer of {session}: {error}")))?;
    let now = now_ms();
    response.gateway_time_ms = now;
    // The delivery as it is now (the stored answer has it as it was: queued).
    if let Some(Outcome::Payment(receipt)) = response.outcome.as_mut()
        && let Some(stored) = deliveries::find(&mut conn, &payment.transaction_id).await?
    {
        let mut delivery = delivery::for_phone(&stored, now);
        // A card payment refunded to the card from the console after it was delivered: the
        // phone's history says refunded (to the card: the receipt's method says which).
        if delivery.state == DeliveryState::Delivered
            && let Some(refunded_at) =
                stored::refunded_at(&mut conn, &payment.transaction_id).await?
        {
            delivery.state = DeliveryState::Refunded;
            delivery.updated_at_ms = refunded_at;
        }
        receipt.delivery = Some(delivery);
    }
    tracing::info!(%point, %session, transaction_id = %payment.transaction_id,
        code = payment.code.number(), "status answered");
    Ok(Answer::response(response))
}
