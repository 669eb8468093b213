//! The pipeline of every signed step (`POST /api/v1/<step>`), in one place so each step —
//! check, pay, status, balance and revoke now, message later — gets exactly the same checks by
//! taking an extractor:
//!
//! * [`Authorized`] — may do anything its point may: every check below passed;
//! * [`KeyHolder`] — proven holder of a registered, unrevoked key, whatever its certification
//!   and the state of its dealer, point and cashier: enough for steps that only give rights up
//!   (revoking the key), which a phone of a blocked or not yet activated point must still do.
//!
//! In this order, each failure with its own code:
//! 1. the raw body, at most `MAX_BODY_BYTES` (413 / 900);
//! 2. `x-tolem-key` and `x-tolem-signature` present and well-formed (900);
//! 3. the key with the header's serial is registered (134);
//! 4. the signature verifies over the raw bytes with that key (6) — nothing is parsed before;
//! 5. the body decodes (900 / 901) — except that a `message` whose only fault is its letter
//!    passes, so the `message` step can answer 912/913, which tell the cashier what to fix;
//! 6. the body names the header's serial and the step of the URL (907);
//! 7. the body names the key's own point (134: the key is not registered for it);
//! 8. the key is certified (pending 902, revoked 903);        ← [`KeyHolder`] stops at 903
//! 9. the body names the point's dealer (134), who is active (52);
//! 10. the point is active (53);
//! 11. the cashier exists and is active at this point (54).

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::HeaderMap,
};
use tolem_protocol::{
    codes::ResultCode,
    keys::Signature,
    messages::{DecodeError, KeyState, Letter, Message, Request as SignedRequest, Step},
    signing::{KEY_HEADER, SIGNATURE_HEADER},
};

use super::answer::{Answer, read_body};
use crate::state::AppState;
use crate::{
    db::{
        keys::{self, Key},
        network,
    },
    sender::Sender,
};

/// A signed request that passed every check: the [`Sender`] the domain works with.
#[derive(Debug)]
pub struct Authorized(pub Sender);

impl std::ops::Deref for Authorized {
    type Target = Sender;

    fn deref(&self) -> &Sender {
        &self.0
    }
}

/// A signed request from the holder of a registered key that is not revoked.
#[derive(Debug)]
pub struct KeyHolder {
    pub request: SignedRequest,
    /// The exact bytes that were signed.
    pub body: Bytes,
    /// The signature over [`Self::body`].
    pub signature: Signature,
    pub key: Key,
}

/// The signer and signature of a signed body, from its headers (900 when missing or garbled).
pub fn signature_headers(headers: &HeaderMap) -> Result<(String, Signature), Answer> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let malformed = || Answer::refusal(None, ResultCode::Malformed);
    let signer = text(KEY_HEADER)
        .filter(|s| !s.is_empty())
        .ok_or_else(malformed)?;
    let signature = text(SIGNATURE_HEADER)
        .and_then(|s| s.parse::<Signature>().ok())
        .ok_or_else(malformed)?;
    Ok((signer.to_owned(), signature))
}

/// Decodes a signed request, strictly — but a `message` whose letter fails
/// [`Letter::check`] while everything else is valid is returned as it is: the `message` step
/// checks the letter itself and refuses with 912 or 913 instead of the generic 900.
pub fn decode_request(bytes: &[u8]) -> Result<SignedRequest, DecodeError> {
    let error = match SignedRequest::decode(bytes) {
        Err(error @ DecodeError::Invalid(_)) => error,
        other => return other,
    };
    let Ok(request) = serde_json::from_slice::<SignedRequest>(bytes) else {
        return Err(error);
    };
    let Step::Message(letter) = &request.step else {
        return Err(error);
    };
    if letter.check().is_ok() {
        return Err(error);
    }
    // The same request with a letter that passes: valid means the letter was the only fault.
    let mut probe = request.clone();
    probe.step = Step::Message(Letter {
        to: "probe@tolem.kz".to_owned(),
        text: "probe".to_owned(),
    });
    match probe.validate() {
        Ok(()) => Ok(request),
        Err(_) => Err(error),
    }
}

impl FromRequest<AppState> for KeyHolder {
    type Rejection = Answer;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Answer> {
        // The step is the last segment of the path, whatever the router is nested under.
        let step = request
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let (parts, body) = request.into_parts();
        let bytes = read_body(&parts.headers, body).await?;
        let (serial, signature) = signature_headers(&parts.headers)?;

        let refuse = |code| Answer::refusal(None, code);
        let Some(key) = keys::key(&state.pool, &serial).await? else {
            tracing::info!(%serial, "signed request refused: key not registered");
            return Err(refuse(ResultCode::KeyNotRegistered));
        };
        if key.public_key.verify(&bytes, &signature).is_err() {
            tracing::warn!(%serial, point = %key.point_code, "signed request refused: bad signature");
            return Err(refuse(ResultCode::BadSignature));
        }
        let request = decode_request(&bytes).map_err(|e| refuse(e.code()))?;

        let refuse = |code: ResultCode| {
            tracing::info!(%serial, point = %key.point_code, step = %step, code = code.number(),
                "signed request refused");
            Answer::refusal(Some(request.session.clone()), code)
        };
        if request.key_serial != serial || request.step.name() != step {
            return Err(refuse(ResultCode::WrongStep));
        }
        if request.point != key.point_code {
            return Err(refuse(ResultCode::KeyNotRegistered));
        }
        if key.state == KeyState::Revoked {
            return Err(refuse(ResultCode::KeyRevoked));
        }
        Ok(KeyHolder {
            request,
            body: bytes,
            signature,
            key,
        })
    }
}

impl FromRequest<AppState> for Authorized {
    type Rejection = Answer;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Answer> {
        let KeyHolder {
            request,
            body,
            signature,
            key,
        } = KeyHolder::from_request(request, state).await?;
        let refuse = |code: ResultCode| {
            tracing::info!(serial = %key.serial, point = %key.point_code,
                step = request.step.name(), code = code.number(), "signed request refused");
            Answer::refusal(Some(request.session.clone()), code)
        };
        if key.state != KeyState::Certified {
            return Err(refuse(ResultCode::KeyNotCertified));
        }
        let point = network::point(&state.pool, &key.point_code)
            .await?
            .ok_or_else(|| Answer::internal(&format!("key {} has no point", key.serial)))?;
        if request.dealer != point.dealer_code {
            return Err(refuse(ResultCode::KeyNotRegistered));
        }
        let dealer = network::dealer(&state.pool, &point.dealer_code)
            .await?
            .ok_or_else(|| Answer::internal(&format!("point {} has no dealer", point.code)))?;
        if !dealer.active {
            return Err(refuse(ResultCode::DealerBlocked));
        }
        if !point.active {
            return Err(refuse(ResultCode::PointBlocked));
        }
        let cashier = network::cashier(&state.pool, &point.code, &request.cashier).await?;
        let Some(cashier) = cashier.filter(|c| c.active) else {
            return Err(refuse(ResultCode::CashierBlocked));
        };
        Ok(Authorized(Sender {
            request,
            body,
            signature,
            key,
            dealer,
            point,
            cashier,
        }))
    }
}
