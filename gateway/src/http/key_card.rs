//! `POST /api/v1/key-card`: the first step of a new phone (manual §9.1). The cashier types the
//! point code and password the dealer gave; the gateway answers with a key card — who the
//! point is, a fresh key serial for the key the phone is about to make, the gateway's public
//! key and the offline limits.
//!
//! Unsigned (the phone has no key yet), so the password is what protects it: checked with
//! guessing slowed down ([`super::point_login`]), and cards of one point are rate-limited
//! even with the right password ([`crate::throttle::KEY_CARDS`]): each costs a hash. Every call issues a new serial, so a phone
//! that lost its card just asks again; an unused serial costs nothing. Each card issued is
//! written to the audit trail.

use axum::{Router, extract::State, routing::post};
use tolem_protocol::{
    PROTOCOL_VERSION,
    codes::ResultCode,
    messages::{KeyCard, KeyCardRequest, Message, Outcome},
};

use super::{
    answer::{Answer, read_body},
    point_login::{self, PasswordUse, check_point_password},
};
use crate::{
    audit::{self, Action, Actor, Event},
    db::{begin_write, keys, network, now_ms},
    throttle::{self, Subject},
};
use crate::{state::AppState, web::client_ip::ClientIp};

/// Routes of this resource, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/key-card", post(key_card))
}

/// The key card of a point, for its code and password.
#[utoipa::path(
    post,
    path = "/api/v1/key-card",
    tag = "keys",
    summary = "A new phone's key card, for the point code and password the dealer gave.",
    params(super::openapi::BindHeader),
    request_body(content = KeyCardRequest, content_type = "application/json",
        description = "Unsigned: the phone has no key yet; the point password protects it."),
    responses(super::openapi::ProtocolAnswers),
)]
pub(crate) async fn key_card(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: axum::extract::Request,
) -> Result<Answer, Answer> {
    let (parts, body) = request.into_parts();
    let bytes = read_body(&parts.headers, body).await?;
    let asked = KeyCardRequest::decode(&bytes).map_err(|e| Answer::refusal(None, e.code()))?;
    // Charged before the password is checked, like a guess: a burst of right passwords is
    // stopped before it costs a hash each.
    let cards = Subject::key_cards(&asked.point);
    if let Some(blocked) = throttle::charge(&state.pool, &[&cards], now_ms()).await? {
        tracing::warn!(point = %asked.point, %ip, retry_after_s = blocked.retry_after_s,
            "key card rate-limited");
        return Err(Answer::blocked(blocked));
    }
    // A card is no use without a password that can still register its key.
    if check_point_password(&state, &asked.point, asked.password, ip, "key card").await?
        == PasswordUse::Used
    {
        return Err(point_login::used(&asked.point, "key card", ip));
    }

    // The point existed a moment ago; if it was deleted since, the credentials are now wrong.
    let point = network::point(&state.pool, &asked.point)
        .await?
        .ok_or_else(|| Answer::refusal(None, ResultCode::BadCredentials))?;
    let dealer = network::dealer(&state.pool, &point.dealer_code)
        .await?
        .ok_or_else(|| Answer::internal(&format!("point {} has no dealer", point.code)))?;
    // An inactive *point* still gets a card: a new point stays inactive until its key is
    // certified. A blocked dealer's points get nothing.
    if !dealer.active {
        tracing::warn!(point = %point.code, dealer = %dealer.code, "key card refused: dealer blocked");
        return Err(Answer::refusal(None, ResultCode::DealerBlocked));
    }
    let Some(cashier) = network::first_active_cashier(&state.pool, &point.code).await? else {
        tracing::warn!(point = %point.code, "key card refused: the point has no active cashier");
        return Err(Answer::refusal(None, ResultCode::CashierBlocked));
    };

    let now = now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let serial = keys::issue_card(&mut tx, &point.code, &cashier.code, now).await?;
    let event = Event {
        action: Action::KeyCardIssued,
        subject: format!("key:{serial}"),
        details: serde_json::json!({ "point": point.code, "cashier": cashier.code }),
    };
    let actor = Actor::new(format!("point:{}", point.code), Some(&dealer.code), ip);
    audit::record_in(&mut tx, &actor, &event, now).await?;
    tx.commit().await?;
    tracing::info!(
        point = %point.code,
        dealer = %dealer.code,
        cashier = %cashier.code,
        serial = %serial,
        %ip,
        "key card issued"
    );
    let dealer_details = Some(dealer.details());
    Ok(Answer::outcome(
        None,
        Outcome::KeyCard(KeyCard {
            v: PROTOCOL_VERSION,
            dealer: dealer.code,
            dealer_name: dealer.name,
            point: point.code,
            point_name: point.name,
            cashier: cashier.code,
            key_serial: serial,
            gateway_key: state.gateway_key.public_key(),
            offline: point.offline,
            issued_at_ms: now,
            dealer_contact: Some(dealer.contact).filter(|contact| !contact.trim().is_empty()),
            dealer_details,
        }),
    ))
}
