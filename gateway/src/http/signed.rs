//! The pipeline of every signed step (`POST /api/v1/<step>`) as extractors, so each step gets
//! exactly the same checks ([`crate::sender`] has them and their order) by taking one:
//!
//! * [`Authorized`] — may do anything its point may: every check passed;
//! * [`KeyHolder`] — proven holder of a registered, unrevoked key (or a revoked one, for the two
//!   requests [`crate::sender::HeardRevoked`] lets through), whatever its certification
//!   and the state of its dealer, point and cashier: enough for steps that only give rights up
//!   (revoking the key), which a phone of a blocked or not yet activated point must still do.
//!
//! Before those checks: the raw body, at most `MAX_BODY_BYTES` (413 / 900), and the
//! `x-tolem-key` and `x-tolem-signature` headers present and well-formed (900).
//!
//! A batch (`/api/v1/batch`, [`super::batch`]) carries each payment's body, key serial and
//! signature inside its envelope instead of the body and headers: it runs each through
//! [`authorized`], the same function the [`Authorized`] extractor ends in.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::HeaderMap,
};
use tolem_protocol::{
    codes::ResultCode,
    keys::Signature,
    signing::{KEY_HEADER, SIGNATURE_HEADER},
};

use super::answer::{Answer, read_body, step_of};
pub use crate::sender::KeyHolder;
use crate::sender::{self, Refused, Sender};
use crate::state::AppState;

/// A signed request that passed every check: the [`Sender`] the domain works with.
#[derive(Debug)]
pub struct Authorized(pub Sender);

impl std::ops::Deref for Authorized {
    type Target = Sender;

    fn deref(&self) -> &Sender {
        &self.0
    }
}

/// The signer and signature of a signed body, from its headers (900 when missing or garbled).
pub fn signature_headers(headers: &HeaderMap) -> Result<(String, Signature), Answer> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    signer_of(text(KEY_HEADER), text(SIGNATURE_HEADER))
}

/// The signer and signature from their texts, as the headers carry them (900 when missing or
/// garbled).
pub fn signer_of(
    signer: Option<&str>,
    signature: Option<&str>,
) -> Result<(String, Signature), Answer> {
    let malformed = || Answer::refusal(None, ResultCode::Malformed);
    let signer = signer.filter(|s| !s.is_empty()).ok_or_else(malformed)?;
    let signature = signature
        .and_then(|s| s.parse::<Signature>().ok())
        .ok_or_else(malformed)?;
    Ok((signer.to_owned(), signature))
}

/// The proven [`KeyHolder`] of `body` signed by `signer` with `signature` (their texts, as the
/// headers carry them), sent as the step `step`.
pub async fn key_holder_of(
    state: &AppState,
    body: Bytes,
    signer: Option<&str>,
    signature: Option<&str>,
    step: &str,
) -> Result<KeyHolder, Answer> {
    let (serial, signature) = signer_of(signer, signature)?;
    Ok(sender::key_holder(
        &state.pool,
        Some(&state.recent_senders),
        body,
        &serial,
        signature,
        step,
    )
    .await?)
}

/// Every check of a signed request: the [`Sender`] of `body` signed by `signer` with
/// `signature`, sent as the step `step`.
pub async fn authorized(
    state: &AppState,
    body: Bytes,
    signer: Option<&str>,
    signature: Option<&str>,
    step: &str,
) -> Result<Sender, Answer> {
    let holder = key_holder_of(state, body, signer, signature, step).await?;
    Ok(sender::authorize(&state.pool, holder).await?)
}

impl From<Refused> for Answer {
    fn from(refused: Refused) -> Answer {
        match refused {
            Refused::Code { code, session } => Answer::refusal(session, code),
            Refused::Database(error) => Answer::internal(&error),
            Refused::Inconsistent(what) => Answer::internal(&what),
        }
    }
}

impl FromRequest<AppState> for KeyHolder {
    type Rejection = Answer;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Answer> {
        let step = step_of(request.uri());
        let (parts, body) = request.into_parts();
        let bytes = read_body(&parts.headers, body).await?;
        let text = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
        key_holder_of(
            state,
            bytes,
            text(KEY_HEADER),
            text(SIGNATURE_HEADER),
            &step,
        )
        .await
    }
}

impl FromRequest<AppState> for Authorized {
    type Rejection = Answer;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Answer> {
        let holder = KeyHolder::from_request(request, state).await?;
        Ok(Authorized(sender::authorize(&state.pool, holder).await?))
    }
}
