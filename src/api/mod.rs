//! Talking to the gateway: the exact bytes that were signed go out, and an answer counts only
//! when it is a valid protocol message — signed by the gateway's key wherever the app has it.
//!
//! Every failure is one of three kinds, because each asks for a different next step:
//! [`ApiError::Offline`] (nothing was sent: keep the request and send it later),
//! [`ApiError::Unclear`] (it may have arrived: ask for the outcome by session, never send it anew
//! under another session) and [`ApiError::Rejected`] (the gateway said no, and why).

use std::time::Duration;

use gloo_net::http::Request as HttpRequest;
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::ids::SessionId;
use tolem_protocol::keys::{PublicKey, SecretKey, Signature};
use tolem_protocol::messages::{
    KeyCard, KeyCardRequest, KeyState, Message, Outcome, RegisterKey, Request, Response, Step,
};
use tolem_protocol::signing::{GATEWAY_SIGNER, KEY_HEADER, SIGNATURE_HEADER, Signed};

/// How long the app waits for an answer. Long enough for a 128 kbit/s line with a poor signal;
/// a cashier with a customer in front of them should not wait longer.
pub const TIMEOUT_MS: u32 = 20_000;

/// Where the protocol's steps are sent.
pub const API_PREFIX: &str = "/api/v1/";

/// Why a step got no usable answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request did not leave the phone: the browser is offline, or could not connect.
    #[error("no connection: the request was not sent")]
    Offline,
    /// The request may have reached the gateway, but no trustworthy answer came back.
    #[error("no clear answer from the gateway ({0:?})")]
    Unclear(Unclear),
    /// The gateway answered (validly) with a code other than Ok; after
    /// [`ResultCode::TooManyAttempts`] it says how long to wait.
    #[error("refused by the gateway: code {}", .0.number())]
    Rejected(ResultCode, Option<Duration>),
}

/// What made an answer unclear (for logs and tests; the cashier is told the same for all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unclear {
    /// No answer within [`TIMEOUT_MS`].
    Timeout,
    /// The gateway (or a proxy before it) failed with this HTTP status.
    ServerError(u16),
    /// The connection broke while the answer was arriving.
    ConnectionLost,
    /// Something answered, but not the gateway: not a protocol message, unsigned or badly
    /// signed, or for another session (a captive portal's login page, say).
    NotAnAnswer,
}

/// Asks for the key card of `point` with the password the dealer issued. Unsigned, because the
/// phone has no key yet; the card brings the gateway's key that signs every later answer.
pub async fn get_key_card(point: &str, password: &str) -> Result<KeyCard, ApiError> {
    let message = KeyCardRequest {
        v: PROTOCOL_VERSION,
        point: point.to_owned(),
        password: password.to_owned(),
    };
    let answer = send("key-card", &message.encode(), None).await?;
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
    let message = RegisterKey {
        v: PROTOCOL_VERSION,
        point: card.point.clone(),
        password: password.to_owned(),
        key_serial: card.key_serial.clone(),
        public_key: key.public_key(),
        created_at_ms,
    };
    let signed = Signed::sign(&card.key_serial, message.encode(), key);
    let card = card.clone();
    async move {
        let answer = send("keys", &signed.body, Some(&signed)).await?;
        // The gateway's signature is checked whenever it is there. An unsigned answer is accepted
        // here (as for the key card): it can only claim "registered", and nothing moves money
        // until the dealer has compared fingerprints and certified the key.
        let response = match answer.signature {
            Some(_) => answer.verified_by(&card)?,
            None => answer.decode()?,
        };
        match answered(response)?.outcome {
            Some(Outcome::Registered { key_serial, state }) if key_serial == card.key_serial => {
                Ok(state)
            }
            _ => Err(not_an_answer()),
        }
    }
}

/// A new request for `step` on behalf of the card's point and cashier, under a fresh session.
pub fn new_request(card: &KeyCard, step: Step) -> Request {
    let now_ms = js_sys::Date::now() as i64;
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
    let signed = Signed::sign(&request.key_serial, request.encode(), key);
    let step = request.step.name();
    let session = request.session.clone();
    let card = card.clone();
    async move {
        let answer = send(step, &signed.body, Some(&signed)).await?;
        check_signed_answer(answer, &card, &session)
    }
}

/// Whether the bytes that came back answer a signed request of `session`: signed by the card's
/// gateway key, a protocol message, and about this session — then Ok or the refusal it carries.
/// An answer about another session is a replayed old one. Only a refusal may name none: the
/// gateway refuses a bad signature or an unknown key before it reads the body.
pub fn check_signed_answer(
    answer: Answer,
    card: &KeyCard,
    session: &SessionId,
) -> Result<Response, ApiError> {
    let response = answer.verified_by(card)?;
    let about_this_request = match &response.session {
        Some(answered) => answered == session,
        None => response.code != ResultCode::Ok,
    };
    if !about_this_request {
        return Err(not_an_answer());
    }
    answered(response)
}

/// Sends an unsigned message to `/api/v1/<path>`; the answer must still be a protocol message.
/// (Its signature cannot be checked without a key card; [`get_key_card`] checks the card's.)
pub async fn post_unsigned<M: Message>(path: &str, message: &M) -> Result<Response, ApiError> {
    let answer = send(path, &message.encode(), None).await?;
    answered(answer.decode()?)
}

/// A valid answer: Ok, or the code it refused with.
fn answered(response: Response) -> Result<Response, ApiError> {
    match response.code {
        ResultCode::Ok => Ok(response),
        code => Err(ApiError::Rejected(
            code,
            response
                .retry_after_s
                .map(|s| Duration::from_secs(s.into())),
        )),
    }
}

/// The raw answer to a request: its bytes and the signature headers (signer, signature) that
/// came with them, if any.
pub struct Answer {
    pub body: Vec<u8>,
    pub signature: Option<(String, String)>,
}

impl Answer {
    /// Checks that the gateway signed exactly these bytes with `key`.
    fn check_signature(&self, key: &PublicKey) -> Result<(), ApiError> {
        let Some((signer, signature)) = &self.signature else {
            return Err(not_an_answer());
        };
        let signature: Signature = signature.parse().map_err(|_| not_an_answer())?;
        if signer != GATEWAY_SIGNER || key.verify(&self.body, &signature).is_err() {
            return Err(not_an_answer());
        }
        Ok(())
    }

    /// The answer, once the gateway's signature (with the key on the card) checks out.
    fn verified_by(self, card: &KeyCard) -> Result<Response, ApiError> {
        self.check_signature(&card.gateway_key)?;
        self.decode()
    }

    fn decode(self) -> Result<Response, ApiError> {
        Response::decode(&self.body).map_err(|_| not_an_answer())
    }
}

fn not_an_answer() -> ApiError {
    ApiError::Unclear(Unclear::NotAnAnswer)
}

/// POSTs `body` to `/api/v1/<path>` with the signature headers when signed, and reads the answer.
///
/// A browser reports a refused connection and one that broke while sending alike (a `TypeError`
/// from `fetch`); both count as [`ApiError::Offline`]. That is safe because nothing is ever sent
/// again under a new session: a payment kept as unsent is replayed under its own session, which
/// the gateway answers with the original outcome if it did arrive after all.
async fn send(path: &str, body: &[u8], signed: Option<&Signed>) -> Result<Answer, ApiError> {
    if !leptos::prelude::window().navigator().on_line() {
        return Err(ApiError::Offline);
    }
    let timeout = web_sys::AbortSignal::timeout_with_u32(TIMEOUT_MS);
    let mut request = HttpRequest::post(&format!("{API_PREFIX}{path}"))
        .header("content-type", "application/json")
        .abort_signal(Some(&timeout));
    if let Some(signed) = signed {
        request = request
            .header(KEY_HEADER, &signed.signer)
            .header(SIGNATURE_HEADER, &signed.signature.to_string());
    }
    let request = request
        .body(js_sys::Uint8Array::from(body))
        .map_err(|_| ApiError::Offline)?;
    let response = request.send().await.map_err(|error| {
        if is_timeout(&error) {
            ApiError::Unclear(Unclear::Timeout)
        } else {
            ApiError::Offline
        }
    })?;
    let status = response.status();
    // A failing gateway, or a proxy in front of it: the request may have been processed.
    if status >= 500 {
        return Err(ApiError::Unclear(Unclear::ServerError(status)));
    }
    let headers = response.headers();
    let signature = headers.get(KEY_HEADER).zip(headers.get(SIGNATURE_HEADER));
    let body = response.binary().await.map_err(|error| {
        ApiError::Unclear(if is_timeout(&error) {
            Unclear::Timeout
        } else {
            Unclear::ConnectionLost
        })
    })?;
    Ok(Answer { body, signature })
}

fn is_timeout(error: &gloo_net::Error) -> bool {
    matches!(error, gloo_net::Error::JsError(e) if e.name == "TimeoutError" || e.name == "AbortError")
}
