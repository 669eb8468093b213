//! Talking to the gateway from the app: the key card, key registration and the signed steps.
//!
//! Sending and judging answers is [`tolem_outbox::transport`]'s — the same code the outbox and
//! the service worker use, so there is one classification of answers: [`ApiError::Offline`]
//! (nothing was sent), [`ApiError::Unclear`] (it may have arrived: ask by session, never send it
//! anew under another session), [`ApiError::Rejected`] (the gateway said no, and why).

pub mod catalogue;

use tolem_outbox::transport::{self, Delivery};
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::ids::SessionId;
use tolem_protocol::keys::SecretKey;
use tolem_protocol::messages::{
    KeyCard, KeyCardRequest, KeyState, Message, Outcome, RegisterKey, Request, Response, Step,
};
use tolem_protocol::signing::Signed;

pub use tolem_outbox::transport::{
    API_PREFIX, Answer, ApiError, TIMEOUT_MS, Unclear, answered, check_signed_answer,
};

/// Asks for the key card of `point` with the password the dealer issued. Unsigned, because the
/// phone has no key yet; the card brings the gateway's key that signs every later answer.
pub async fn get_key_card(point: &str, password: &str) -> Result<KeyCard, ApiError> {
    let message = KeyCardRequest {
        v: PROTOCOL_VERSION,
        point: point.to_owned(),
        password: password.to_owned(),
    };
    let answer = send("key-card", &message.encode(), None, Delivery::Repeatable).await?;
    let response = Response::decode(&answer.body).map_err(|_| not_an_answer())?;
    match &response.outcome {
        Some(Outcome::KeyCard(card)) if response.code == ResultCode::Ok => {
            // Nothing vouches for the card's gateway key yet (HTTPS does), but the answer must
            // at least be signed by the key it hands over: no captive portal or stray proxy can.
            answer.check_signature(&card.gateway_key)?;
            card.validate().map_err(|_| not_an_answer())?;
            Ok(card.clone())
        }
        // A refusal (wrong password, too many attempts) comes before any card.
        _ => answered(response).and(Err(not_an_answer())),
    }
}

/// Registers the public half of `key` under the card's serial. The body is signed by the new key
/// itself: proof that this phone holds the private half.
///
/// `created_at_ms` is the key's creation time from its record, so a repeated registration sends
/// exactly the same bytes (Ed25519 signatures are deterministic) and the gateway can recognise it.
/// The body is signed before this returns, so the key is only borrowed, never held across the wait.
pub fn register_key(
    card: &KeyCard,
    key: &SecretKey,
    password: &str,
    created_at_ms: i64,
) -> impl Future<Output = Result<KeyState, ApiError>> + use<> {
    // The key went with a cleared storage: this registration tells the gateway (issue 13 item 5).
    let outbox_lost = crate::canary::lost_report();
    let reports_loss = outbox_lost.is_some();
    let message = RegisterKey {
        v: PROTOCOL_VERSION,
        point: card.point.clone(),
        password: password.to_owned(),
        key_serial: card.key_serial.clone(),
        public_key: key.public_key(),
        created_at_ms,
        outbox_lost,
    };
    let signed = Signed::sign(&card.key_serial, message.encode(), key);
    let card = card.clone();
    async move {
        let answer = send("keys", &signed.body, Some(&signed), Delivery::Repeatable).await?;
        // The gateway's signature is checked whenever it is there. An unsigned answer is accepted
        // here (as for the key card): it can only claim "registered", and nothing moves money
        // until the dealer has compared fingerprints and certified the key.
        let response = match answer.signature {
            Some(_) => answer.verified_by(&card)?,
            None => answer.decode()?,
        };
        match answered(response)?.outcome {
            Some(Outcome::Registered { key_serial, state }) if key_serial == card.key_serial => {
                if reports_loss {
                    crate::canary::reported();
                }
                Ok(state)
            }
            _ => Err(not_an_answer()),
        }
    }
}

/// A new request for `step` on behalf of the card's point and cashier, under a fresh session.
pub fn new_request(card: &KeyCard, step: Step) -> Request {
    // Created at the gateway's time as last measured ([`tolem_outbox::clock`]).
    let now_ms = tolem_outbox::clock::now_ms();
    let random = crate::crypto::random_bytes::<8>()
        .expect("crypto.getRandomValues exists wherever WebAssembly runs");
    Request {
        v: PROTOCOL_VERSION,
        dealer: card.dealer.clone(),
        point: card.point.clone(),
        cashier: card.cashier.clone(),
        key_serial: card.key_serial.clone(),
        session: SessionId::generate(now_ms, random),
        created_at_ms: now_ms,
        seq: None,
        outbox_lost: crate::canary::lost_report(),
        step,
    }
}

/// Sends a step signed by the point key; the answer must be signed by the gateway's key from the
/// card and be about the same session, or it is no answer at all (see [`check_signed_answer`]).
/// The body is signed before this returns, so the unlocked key is only borrowed, never held
/// across the wait.
pub fn post_signed(
    request: &Request,
    key: &SecretKey,
    card: &KeyCard,
) -> impl Future<Output = Result<Response, ApiError>> + use<> {
    let pending = post_signed_any_code(request, key, card);
    async move { answered(pending.await?) }
}

/// [`post_signed`], but a valid answer comes back whatever its code: a refused `check` (8, 7,
/// 914) carries what the provider said about the account, which the cashier must see.
pub fn post_signed_any_code(
    request: &Request,
    key: &SecretKey,
    card: &KeyCard,
) -> impl Future<Output = Result<Response, ApiError>> + use<> {
    let signed = Signed::sign(&request.key_serial, request.encode(), key);
    let step = request.step.name();
    let delivery = delivery_of(&request.step);
    let session = request.session.clone();
    let card = card.clone();
    async move {
        let answer = send(step, &signed.body, Some(&signed), delivery).await?;
        let response = transport::verify_answer(&answer, &card, &session)?;
        tolem_outbox::clock::observe(
            response.gateway_time_ms,
            tolem_outbox::clock::phone_now_ms(),
        );
        Ok(response)
    }
}

/// What a failed connection means for `step`. A pay should go through the outbox (stored
/// before it is sent); if one comes this way, a broken connection still means it may have
/// arrived. Every other step can simply be asked again.
fn delivery_of(step: &Step) -> Delivery {
    match step {
        Step::Pay(_) => Delivery::Payment,
        _ => Delivery::Repeatable,
    }
}

/// Sends an unsigned message to `/api/v1/<path>`; the answer must still be a protocol message.
/// (Its signature cannot be checked without a key card; [`get_key_card`] checks the card's.)
pub async fn post_unsigned<M: Message>(path: &str, message: &M) -> Result<Response, ApiError> {
    let answer = send(path, &message.encode(), None, Delivery::Repeatable).await?;
    answered(answer.decode()?)
}

fn not_an_answer() -> ApiError {
    ApiError::Unclear(Unclear::NotAnAnswer)
}

/// POSTs `body` to `/api/v1/<path>`, with the signature headers when signed. What the app
/// sends this way is repeatable (the gateway recognises a repeated key card or registration; a
/// balance query changes nothing), so a failed connection counts as offline. Payments go
/// through the outbox instead ([`crate::payments`]).
async fn send(
    path: &str,
    body: &[u8],
    signed: Option<&Signed>,
    delivery: Delivery,
) -> Result<Answer, ApiError> {
    let signature = signed.map(|s| (s.signer.clone(), s.signature.to_string()));
    let headers = signature.as_ref().map(|(k, s)| (k.as_str(), s.as_str()));
    transport::post(path, body, headers, delivery).await
}
