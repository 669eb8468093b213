//! The `message` step, `POST /api/v1/message` (CyberplatMobile manual §16): a letter signed by
//! the point key, for the gateway to countersign and e-mail. It takes [`Authorized`], so the
//! signed-step pipeline has run first (certified key, active dealer, point and cashier; a
//! tampered body is 6, a revoked key 903). Then, each refusal with its code:
//!
//! * the letter ([`Letter::check`], the same check the phone makes before signing): 912 for an
//!   address that is not one, 913 for an empty or too long text;
//! * the phone's time more than a few minutes ahead of the gateway's: 910 (the e-mail shows
//!   when the letter was written);
//! * the same session with another letter: 1; the same session with the same letter (a phone
//!   that resends after an unclear answer): the same message id again, and no second e-mail;
//! * more than the point's `messages_per_hour` in the last hour: 911.
//!
//! The answer (`MessageQueued { message_id }`) comes as soon as the letter is stored; the mail
//! server is the worker's business ([`crate::mail::worker`]).

use axum::{Router, extract::State, routing::post};
use tolem_protocol::{
    codes::ResultCode,
    messages::{Outcome, Request, Step},
};

use super::{answer::Answer, signed::Authorized};
use crate::state::AppState;
use crate::web::client_ip::ClientIp;
use crate::{
    db::now_ms,
    mail::{
        compose,
        queue::{Queued, Relay, enqueue},
    },
    payments::is_clock_ahead,
};

/// The route of the step, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/message", post(message))
}

#[utoipa::path(
    post,
    path = "/api/v1/message",
    tag = "point",
    summary = "A letter signed by the point key, for the gateway to countersign and e-mail.",
    params(super::openapi::SignedHeaders),
    request_body(content = Request, content_type = "application/json",
        description = "A signed request (at most 16 KiB); its `step` is the URL's last segment."),
    responses(super::openapi::ProtocolAnswers),
)]
pub(crate) async fn message(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Authorized(auth): Authorized,
) -> Result<Answer, Answer> {
    let now = now_ms();
    let session = auth.request.session.clone();
    let point = auth.point.code.clone();
    let refuse = |code: ResultCode, why: &str| {
        tracing::info!(%point, %session, code = code.number(), "message refused: {why}");
        Answer::refusal(Some(session.clone()), code)
    };
    let Step::Message(letter) = &auth.request.step else {
        return Err(Answer::internal(&"a non-message reached the message step"));
    };
    if let Err(error) = letter.check() {
        return Err(refuse(error.code(), &error.to_string()));
    }
    // The protocol's check is deliberately plain; the e-mail needs an address lettre can write.
    if !compose::can_write_to(&letter.to) {
        return Err(refuse(
            ResultCode::BadRecipient,
            "not an address lettre accepts",
        ));
    }
    if is_clock_ahead(auth.request.created_at_ms, now) {
        return Err(refuse(ResultCode::ClockAhead, "written in the future"));
    }

    // In its own task, as a payment: a phone that hangs up must not cut the transaction short.
    let (pool, mail, key) = (
        state.pool.clone(),
        state.mail.clone(),
        state.gateway_key.clone(),
    );
    let queued = tokio::spawn(async move {
        let relay = Relay {
            gateway_key: &key,
            verify_url: mail.verify_url(),
            ip,
            now_ms: now,
        };
        enqueue(&pool, &auth, relay).await
    })
    .await
    .map_err(|error| Answer::internal(&error))?
    .map_err(|error| {
        tracing::error!(%point, %session, %error, "message not queued");
        Answer::refusal(Some(session.clone()), ResultCode::Internal)
    })?;

    match queued {
        Queued::New { message_id } => {
            state.mail.wake();
            tracing::info!(%point, %session, %message_id, "message queued");
            Ok(Answer::outcome(
                Some(session),
                Outcome::MessageQueued { message_id },
            ))
        }
        Queued::Replayed { message_id } => {
            tracing::info!(%point, %session, %message_id, "message replayed: queued before");
            Ok(Answer::outcome(
                Some(session),
                Outcome::MessageQueued { message_id },
            ))
        }
        Queued::SessionTaken => Err(refuse(
            ResultCode::SessionExists,
            "the session has another letter",
        )),
        Queued::OverLimit { limit } => Err(refuse(
            ResultCode::TooManyMessages,
            &format!("over {limit} messages in the last hour"),
        )),
    }
}
