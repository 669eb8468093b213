//! `POST /api/v1/keys`: the phone registers the public key it has just made (manual §9.3)
//! under the serial of its key card, with the point code and password again.
//!
//! The body is signed by the *new key itself*: proof of possession. Whoever registers a key
//! must hold its private half, so nobody can register a key they copied from someone else's
//! screen, and the key a dealer certifies is one that can sign. The gateway has no key on file
//! yet to check against, so it reads only `public_key` from the body, verifies the signature
//! over the raw bytes with it, and only then decodes and trusts the rest.
//!
//! A registered key is *pending*: it can sign nothing that matters until the dealer has
//! compared its fingerprint with the phone's and certified it in the console. That comparison
//! is what defeats someone who peeked the password and registered their own key first — which
//! is why a second key registered for the same point while one is pending is kept too, and
//! both are shown (with a warning) for the dealer to choose.
//!
//! The password enrols one key: the registration that uses it marks it used in the same
//! transaction, and a second registration with it — later, or racing this one — gets 919 until
//! the dealer gives the point a new password. So a password seen over a shoulder is worth
//! nothing once the point's own phone has registered. A dealer or the card's cashier blocked
//! since the card was issued is refused as the card would be now (52, 54), before the
//! password is spent.

use axum::{Router, extract::State, routing::post};
use serde::Deserialize;
use tolem_protocol::{
    codes::ResultCode,
    keys::PublicKey,
    messages::{KeyState, Message, Outcome, RegisterKey},
};

use super::{
    answer::{Answer, read_body},
    point_login::{self, check_point_password},
    signed::signature_headers,
};
use crate::{
    audit::{self, Action, Actor, Event},
    db::{
        begin_write,
        keys::{self, Registration},
        network, now_ms, sequence,
    },
};
use crate::{state::AppState, web::client_ip::ClientIp};

/// Routes of this resource, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/keys", post(register))
}

/// The one field read before the signature is checked.
#[derive(Deserialize)]
struct ClaimedKey {
    public_key: PublicKey,
}

/// Registers the phone's new key under its key card's serial (pending until certified).
#[utoipa::path(
    post,
    path = "/api/v1/keys",
    tag = "keys",
    summary = "Register the phone's new public key; the body is signed by that key itself.",
    params(super::openapi::SignedHeaders),
    request_body(content = RegisterKey, content_type = "application/json",
        description = "Signed by the new key (proof of possession); `x-tolem-key` is the key \
            card's serial."),
    responses(super::openapi::ProtocolAnswers),
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: axum::extract::Request,
) -> Result<Answer, Answer> {
    let (parts, body) = request.into_parts();
    let bytes = read_body(&parts.headers, body).await?;
    let (serial, signature) = signature_headers(&parts.headers)?;
    let refuse = |code| Answer::refusal(None, code);

    let claimed: ClaimedKey =
        serde_json::from_slice(&bytes).map_err(|_| refuse(ResultCode::Malformed))?;
    if claimed.public_key.verify(&bytes, &signature).is_err() {
        tracing::warn!(%serial, %ip, "key registration refused: bad self-signature");
        return Err(refuse(ResultCode::BadSignature));
    }
    let registration = RegisterKey::decode(&bytes).map_err(|e| refuse(e.code()))?;
    if registration.key_serial != serial {
        return Err(refuse(ResultCode::WrongStep));
    }
    let point = registration.point;
    let outbox_lost = registration.outbox_lost;
    // A used password is caught below, where using it and registering are one transaction:
    // the phone repeating its own registration (its answer was lost) must still hear where its
    // key stands.
    check_point_password(
        &state,
        &point,
        registration.password,
        ip,
        "key registration",
    )
    .await?;

    let public_key = registration.public_key;
    let fingerprint = public_key.fingerprint();
    let now = now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let registration = keys::register(&mut tx, &serial, &point, &public_key, now).await?;
    if matches!(registration, Registration::Registered { .. }) {
        if let Some(code) = blocked(&mut tx, &serial, &point).await? {
            tx.rollback().await?;
            tracing::warn!(%point, %serial, %ip, code = code.number(),
                "key registration refused: blocked since the card was issued");
            return Err(refuse(code));
        }
        if !network::use_point_password(&mut tx, &point, now).await? {
            tx.rollback().await?;
            return Err(point_login::used(&point, "key registration", ip));
        }
    }
    if let Registration::Registered { other_pending } = registration {
        let dealer = network::point(&mut *tx, &point)
            .await?
            .map(|p| p.dealer_code);
        let event = Event {
            action: Action::KeyRegistered,
            subject: format!("key:{serial}"),
            details: serde_json::json!({
                "point": point,
                "fingerprint": fingerprint.to_string(),
                "other_pending": other_pending,
                "after": { "state": "pending" },
            }),
        };
        let actor = Actor::new(format!("point:{point}"), dealer.as_deref(), ip);
        audit::record_in(&mut tx, &actor, &event, now).await?;
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    if let (Registration::Registered { .. }, Some(lost)) = (registration, &outbox_lost)
        && sequence::report_outbox_lost(&state.pool, &lost.key_serial, &point, &serial, now).await?
    {
        tracing::warn!(%point, lost = %lost.key_serial, new = %serial,
            "a phone registering a new key reports its outbox vanished with the old one");
    }
    match registration {
        Registration::Registered { other_pending } => {
            tracing::info!(%point, %serial, %fingerprint, %ip, "key registered, pending");
            if other_pending > 0 {
                tracing::warn!(
                    %point,
                    %serial,
                    other_pending,
                    "another key of this point is pending too: the dealer must compare fingerprints"
                );
            }
            Ok(Answer::outcome(
                None,
                Outcome::Registered {
                    key_serial: serial,
                    state: KeyState::Pending,
                },
            ))
        }
        Registration::Repeated { state } => {
            tracing::info!(%point, %serial, %ip, "key registration repeated");
            Ok(Answer::outcome(
                None,
                Outcome::Registered {
                    key_serial: serial,
                    state,
                },
            ))
        }
        // Both mean "this card cannot take this key: get a new card" — 906's message.
        outcome @ (Registration::UnknownCard | Registration::AlreadyBound) => {
            tracing::warn!(%point, %serial, ?outcome, %ip, "key registration refused");
            Err(refuse(ResultCode::KeyAlreadyRegistered))
        }
    }
}

/// Why a new key of the card `serial` may not be registered now, if it may not: its point's
/// dealer was blocked (52), or the cashier its card names (54), since the card was issued —
/// the key card refuses both. Asked before the point's password is spent on the key, so the
/// phone can register with the same password once the dealer lifts the block.
async fn blocked(
    conn: &mut sqlx::AnyConnection,
    serial: &str,
    point: &str,
) -> Result<Option<ResultCode>, sqlx::Error> {
    let dealer = match network::point(&mut *conn, point).await? {
        Some(point) => network::dealer(&mut *conn, &point.dealer_code).await?,
        None => None,
    };
    if dealer.is_some_and(|dealer| !dealer.active) {
        return Ok(Some(ResultCode::DealerBlocked));
    }
    let cashier = match keys::card_cashier(&mut *conn, serial, point).await? {
        Some(code) => network::cashier(&mut *conn, point, &code).await?,
        None => None,
    };
    Ok(cashier
        .filter(|cashier| !cashier.active)
        .map(|_| ResultCode::CashierBlocked))
}
