//! Who sent a signed request, once every check of the signed-step pipeline has passed: the
//! request and the exact bytes signed, the key, and the dealer, point and cashier it speaks
//! for. The domain (payments, letters, bills) takes this value, never an HTTP extractor, so a
//! test, a batch step or another way in (a bill the customer's phone brings) gets the same
//! checks and hands over the same thing.
//!
//! The checks, in this order, each failure with its own code:
//! 1. the key with the signer's serial is registered (134);
//! 2. the signature verifies over the raw bytes with that key (6) — nothing is parsed before;
//! 3. the body decodes (900 / 901) — except that a `message` whose only fault is its letter
//!    passes, so the `message` step can answer 912/913, which tell the cashier what to fix;
//! 4. the body names the signer's serial and the expected step (907);
//! 5. the body names the key's own point (134: the key is not registered for it); from here on
//!    the request is the point's own, and what it says about the phone is kept whatever the
//!    answer: a payment's sequence number, a vanished outbox (see `db::sequence`);
//! 6. the key is certified (pending 902, revoked 903);        ← [`key_holder`] stops at 903
//! 7. the body names the point's dealer (134), who is active (52);
//! 8. the point is active (53);
//! 9. the cashier is the key's own (the one its card named) and is active at this point (54:
//!    to a key, another cashier is as good as blocked; the dealer blocks a person by blocking
//!    their cashier, and that must stop their phone whatever cashier it names).

use axum::body::Bytes;
use sqlx::AnyPool;
use tolem_protocol::{
    codes::ResultCode,
    ids::SessionId,
    keys::Signature,
    messages::{DecodeError, KeyState, Letter, Message, Request as SignedRequest, Step},
};

use crate::db::{
    keys::{self, Key},
    network::{self, Cashier, Dealer, Point},
    sequence,
};

/// A signed request whose signature, key, dealer, point and cashier were all checked.
#[derive(Debug)]
pub struct Sender {
    pub request: SignedRequest,
    /// The exact bytes that were signed (a payment keeps them as proof).
    pub body: Bytes,
    /// The signature over [`Self::body`], as it came in the header.
    pub signature: Signature,
    pub key: Key,
    pub dealer: Dealer,
    pub point: Point,
    pub cashier: Cashier,
}

/// The proven holder of a registered key that is not revoked: enough for steps that only give
/// rights up (revoking the key), which a phone of a blocked or not yet activated point must
/// still be able to do.
#[derive(Debug)]
pub struct KeyHolder {
    pub request: SignedRequest,
    /// The exact bytes that were signed.
    pub body: Bytes,
    /// The signature over [`Self::body`].
    pub signature: Signature,
    pub key: Key,
}

/// Why a signed request was refused: the code to answer, and the request's session once the
/// body could be read.
#[derive(Debug)]
pub enum Refused {
    Code {
        code: ResultCode,
        session: Option<SessionId>,
    },
    Database(sqlx::Error),
    /// The database contradicts itself (a key without its point).
    Inconsistent(String),
}

impl From<sqlx::Error> for Refused {
    fn from(error: sqlx::Error) -> Refused {
        Refused::Database(error)
    }
}

/// Checks 1–6 of the module docs for `body`, signed by the key `serial` with `signature`, that
/// must be the step named `step`.
pub async fn key_holder(
    pool: &AnyPool,
    body: Bytes,
    serial: &str,
    signature: Signature,
    step: &str,
) -> Result<KeyHolder, Refused> {
    let refuse = |code| Refused::Code {
        code,
        session: None,
    };
    let Some(key) = keys::key(pool, serial).await? else {
        tracing::info!(%serial, "signed request refused: key not registered");
        return Err(refuse(ResultCode::KeyNotRegistered));
    };
    if key.public_key.verify(&body, &signature).is_err() {
        tracing::warn!(%serial, point = %key.point_code, "signed request refused: bad signature");
        return Err(refuse(ResultCode::BadSignature));
    }
    let request = decode_request(&body).map_err(|e| refuse(e.code()))?;

    let refuse = |code: ResultCode| {
        tracing::info!(%serial, point = %key.point_code, step = %step, code = code.number(),
            "signed request refused");
        Refused::Code {
            code,
            session: Some(request.session.clone()),
        }
    };
    if request.key_serial != serial || request.step.name() != step {
        return Err(refuse(ResultCode::WrongStep));
    }
    if request.point != key.point_code {
        return Err(refuse(ResultCode::KeyNotRegistered));
    }
    note_what_the_phone_says(pool, &key, &request).await?;
    if key.state == KeyState::Revoked {
        return Err(refuse(ResultCode::KeyRevoked));
    }
    Ok(KeyHolder {
        request,
        body,
        signature,
        key,
    })
}

/// Keeps what a proven holder's request says about the phone itself, before any refusal that
/// may follow (a pending key, a blocked point): a payment's sequence number arrived — so it is
/// no gap, whatever the answer — and the phone's outbox vanished, when it says so.
async fn note_what_the_phone_says(
    pool: &AnyPool,
    key: &Key,
    request: &SignedRequest,
) -> Result<(), sqlx::Error> {
    let now = crate::db::now_ms();
    if let (Some(seq), Step::Pay(_)) = (request.seq, &request.step) {
        sequence::record(pool, &key.serial, seq, request.session.as_str(), now).await?;
    }
    if let Some(lost) = &request.outbox_lost
        && sequence::report_outbox_lost(pool, &lost.key_serial, &key.point_code, now).await?
    {
        tracing::warn!(serial = %lost.key_serial, point = %key.point_code,
            "a phone reports its outbox vanished: payments that waited on it are lost");
    }
    Ok(())
}

/// Checks 6–9 of the module docs: the holder may do anything its point may.
pub async fn authorize(pool: &AnyPool, holder: KeyHolder) -> Result<Sender, Refused> {
    let KeyHolder {
        request,
        body,
        signature,
        key,
    } = holder;
    let refuse = |code: ResultCode| {
        tracing::info!(serial = %key.serial, point = %key.point_code,
            step = request.step.name(), code = code.number(), "signed request refused");
        Refused::Code {
            code,
            session: Some(request.session.clone()),
        }
    };
    if key.state != KeyState::Certified {
        return Err(refuse(ResultCode::KeyNotCertified));
    }
    let point = network::point(pool, &key.point_code)
        .await?
        .ok_or_else(|| Refused::Inconsistent(format!("key {} has no point", key.serial)))?;
    if request.dealer != point.dealer_code {
        return Err(refuse(ResultCode::KeyNotRegistered));
    }
    let dealer = network::dealer(pool, &point.dealer_code)
        .await?
        .ok_or_else(|| Refused::Inconsistent(format!("point {} has no dealer", point.code)))?;
    if !dealer.active {
        return Err(refuse(ResultCode::DealerBlocked));
    }
    if !point.active {
        return Err(refuse(ResultCode::PointBlocked));
    }
    if key
        .cashier_code
        .as_ref()
        .is_some_and(|own| *own != request.cashier)
    {
        return Err(refuse(ResultCode::CashierBlocked));
    }
    let cashier = network::cashier(pool, &point.code, &request.cashier).await?;
    let Some(cashier) = cashier.filter(|c| c.active) else {
        return Err(refuse(ResultCode::CashierBlocked));
    };
    Ok(Sender {
        request,
        body,
        signature,
        key,
        dealer,
        point,
        cashier,
    })
}

/// Checks 6–9 of the module docs again for an authorised `sender`, inside the caller's
/// transaction: the state read by [`authorize`] may have changed while the request waited for
/// the database's write lock (a key revoked, a dealer, point or cashier blocked). The payment
/// step calls it once the lock is held, so what it decides is decided on the state it commits
/// on. `Ok(Err(code))` is the refusal [`authorize`] would answer now.
pub async fn still_authorized_in(
    tx: &mut sqlx::AnyConnection,
    sender: &Sender,
) -> Result<Result<(), ResultCode>, sqlx::Error> {
    use sqlx::Row;
    // One statement for the key and the three rows' states (a missing row reads NULL): it
    // runs under the write lock for every payment, and each statement is a round trip to
    // the database.
    let row = sqlx::query(
        "SELECT (SELECT state FROM keys WHERE serial = $1) AS key_state, \
         CAST((SELECT active FROM dealers WHERE code = $2) AS BIGINT) AS dealer_active, \
         CAST((SELECT active FROM points WHERE code = $3) AS BIGINT) AS point_active, \
         CAST((SELECT active FROM cashiers WHERE point_code = $3 AND code = $4) AS BIGINT) \
         AS cashier_active",
    )
    .bind(&sender.key.serial)
    .bind(&sender.point.dealer_code)
    .bind(&sender.point.code)
    .bind(&sender.cashier.code)
    .fetch_one(&mut *tx)
    .await?;
    let key_state: Option<String> = row.try_get("key_state")?;
    let active = |column: &str| -> Result<bool, sqlx::Error> {
        Ok(row
            .try_get::<Option<i64>, _>(column)?
            .is_some_and(|active| active != 0))
    };
    let code = match key_state.as_deref().map(keys::parse_state).transpose()? {
        Some(KeyState::Certified) => None,
        Some(KeyState::Revoked) => Some(ResultCode::KeyRevoked),
        Some(_) => Some(ResultCode::KeyNotCertified),
        None => Some(ResultCode::KeyNotRegistered),
    };
    let code = match code {
        Some(code) => Some(code),
        None if !active("dealer_active")? => Some(ResultCode::DealerBlocked),
        None if !active("point_active")? => Some(ResultCode::PointBlocked),
        None if !active("cashier_active")? => Some(ResultCode::CashierBlocked),
        None => None,
    };
    if let Some(code) = code {
        tracing::info!(serial = %sender.key.serial, point = %sender.point.code,
            step = sender.request.step.name(), code = code.number(),
            "signed request refused: the sender's state changed while it waited for the lock");
        return Ok(Err(code));
    }
    Ok(Ok(()))
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
