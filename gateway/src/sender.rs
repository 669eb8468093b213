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
//!    answer (see `db::sequence`): a vanished outbox at once; a payment's sequence number
//!    with the refusal of any check below ([`note_refused_pay`]), or else with the payment's
//!    decision, in its group's transaction ([`crate::payments::group`]) — one write less per
//!    payment under the database's write lock;
//! 6. the key is certified (pending 902, revoked 903);        ← [`key_holder`] stops at 903
//!    — but for two requests of a revoked key, which are heard as if the key were still in
//!    force ([`HeardRevoked`]), every other check unchanged: a `pay` of a session its phone
//!    named as waiting when it revoked the key itself, and a `status` of the key's own
//!    session. So the payments the cashier saved to a file before deleting the key can be
//!    sent and settled later, signed as they are; a key the dealer revoked has no such list;
//!    and a key revoked before it was certified is still refused, as not certified (902);
//! 7. the body names the point's dealer (134), who is active (52);
//! 8. the point is active (53);
//! 9. the cashier is the key's own (the one its card named) and is active at this point (54:
//!    to a key, another cashier is as good as blocked; the dealer blocks a person by blocking
//!    their cashier, and that must stop their phone whatever cashier it names).
//!
//! A `pay` may be checked on the rows of its key's last sender that passed them all, a moment
//! ago ([`recent`] says why that is safe): its group checks 6–9 again under the write lock.

pub mod recent;

use std::sync::Arc;

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
    revoked_waiting,
    senders::{self, KeyRows},
    sequence,
};
use recent::RecentSenders;

/// The name of the one step that may be checked on remembered rows ([`recent`]).
pub const PAY_STEP: &str = "pay";

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
    /// Set when the key is revoked and this one request is heard anyway (check 6).
    pub heard_revoked: Option<HeardRevoked>,
}

/// Why a request signed by a revoked key is heard at all (check 6 of the module docs): its
/// phone's own revocation, which named what still waited on it, or a read that moves nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeardRevoked {
    /// A `pay` of a session the phone named as waiting when it revoked the key
    /// ([`Step::RevokeWaiting`]): decided as if the key were still in force.
    Waiting,
    /// A `status` of the key's own session (named as waiting, or a payment it signed).
    Reading,
}

/// The state a revoked key had when it was revoked, as far as paying goes: certified if it
/// ever was (certification only follows pending, and revocation is final), else pending.
fn state_in_force(key: &Key) -> KeyState {
    match key.certified_at_ms {
        Some(_) => KeyState::Certified,
        None => KeyState::Pending,
    }
}

/// The proven holder of a registered key that is not revoked (or is, for one of the requests
/// [`HeardRevoked`] lets through): enough for steps that only give rights up (revoking the
/// key), which a phone of a blocked or not yet activated point must still be able to do.
#[derive(Debug)]
pub struct KeyHolder {
    pub request: SignedRequest,
    /// The exact bytes that were signed.
    pub body: Bytes,
    /// The signature over [`Self::body`].
    pub signature: Signature,
    pub key: Key,
    /// The rows the key speaks for, read with it in one statement: not checked yet, that is
    /// [`authorize`]'s work.
    unchecked: Unchecked,
    /// Set when the key is revoked and this request is heard anyway (check 6).
    heard_revoked: Option<HeardRevoked>,
    /// Where [`authorize`] remembers the sender it passes: set when the rows were read now for
    /// a step that may use remembered ones.
    remember: Option<Arc<RecentSenders>>,
}

/// The key's point, dealer and card's cashier as read with the key ([`senders::key_rows`]).
#[derive(Debug)]
struct Unchecked {
    point: Option<Point>,
    dealer: Option<Dealer>,
    cashier: Option<Cashier>,
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
/// must be the step named `step`. With `recent`, a `pay` is checked on the rows its key's last
/// authorised sender had, if they are remembered ([`recent`]), and passing senders are
/// remembered.
pub async fn key_holder(
    pool: &AnyPool,
    recent: Option<&Arc<RecentSenders>>,
    body: Bytes,
    serial: &str,
    signature: Signature,
    step: &str,
) -> Result<KeyHolder, Refused> {
    let refuse = |code| Refused::Code {
        code,
        session: None,
    };
    let recent = recent.filter(|_| step == PAY_STEP);
    let (rows, remember) = match recent.and_then(|recent| recent.rows(serial)) {
        Some(rows) => (Some(rows), None),
        None => (senders::key_rows(pool, serial).await?, recent.cloned()),
    };
    let Some(KeyRows {
        key,
        point,
        dealer,
        cashier,
    }) = rows
    else {
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
    // A revoked key's word about the phone is not kept: whoever holds it now (a stolen phone,
    // a key the dealer took back) could otherwise flag another key of its point as having
    // lost its outbox — an alert that stays on the dealer's point page.
    let heard_revoked = if key.state == KeyState::Revoked {
        let Some(heard) = heard_though_revoked(pool, &key, &request).await? else {
            note_refused_pay(pool, &key.serial, &request).await?;
            return Err(refuse(ResultCode::KeyRevoked));
        };
        tracing::info!(%serial, point = %key.point_code, step = %step, heard = ?heard,
            "a request of a revoked key heard: its own session");
        Some(heard)
    } else {
        note_what_the_phone_says(pool, &key, &request).await?;
        None
    };
    Ok(KeyHolder {
        request,
        body,
        signature,
        key,
        unchecked: Unchecked {
            point,
            dealer,
            cashier,
        },
        heard_revoked,
        remember,
    })
}

/// Whether a request of the revoked `key` is one of the two it may still make ([`HeardRevoked`]).
/// Only on the database's word, read now: the list is written with the revocation, so a key
/// revoked from the console, or by a phone that named nothing, has none.
async fn heard_though_revoked(
    pool: &AnyPool,
    key: &Key,
    request: &SignedRequest,
) -> Result<Option<HeardRevoked>, sqlx::Error> {
    let session = request.session.as_str();
    Ok(match request.step {
        Step::Pay(_) => revoked_waiting::names(pool, &key.serial, session)
            .await?
            .then_some(HeardRevoked::Waiting),
        Step::Status => revoked_waiting::own_session(pool, &key.serial, &key.point_code, session)
            .await?
            .then_some(HeardRevoked::Reading),
        _ => None,
    })
}

/// Keeps what a proven holder's request says about the phone itself, before any refusal that
/// may follow (a pending key, a blocked point): the phone's outbox vanished, when it says so.
/// A revoked key is refused before this: its holder may no longer be the point's phone.
async fn note_what_the_phone_says(
    pool: &AnyPool,
    key: &Key,
    request: &SignedRequest,
) -> Result<(), sqlx::Error> {
    let now = crate::db::now_ms();
    if let Some(lost) = &request.outbox_lost
        && sequence::report_outbox_lost(pool, &lost.key_serial, &key.point_code, &key.serial, now)
            .await?
    {
        tracing::warn!(serial = %lost.key_serial, point = %key.point_code,
            "a phone reports its outbox vanished: payments that waited on it are lost");
    }
    Ok(())
}

/// The sequence number of a numbered `pay` request, if it is one.
pub fn pay_number(request: &SignedRequest) -> Option<i64> {
    match (&request.step, request.seq) {
        (Step::Pay(_), Some(seq)) => Some(seq),
        _ => None,
    }
}

/// Records that a numbered `pay` of the key `serial` arrived although a check refuses it now:
/// so it is no gap, whatever the answer (a number the gateway decides is recorded with its
/// decision instead). Anything but a numbered `pay` records nothing.
pub async fn note_refused_pay(
    pool: &AnyPool,
    serial: &str,
    request: &SignedRequest,
) -> Result<(), sqlx::Error> {
    match RefusedPay::of(serial, request) {
        Some(refused) => refused.record(pool).await,
        None => Ok(()),
    }
}

/// What [`note_refused_pay`] records of a numbered `pay`, kept apart from its request.
struct RefusedPay {
    serial: String,
    seq: i64,
    session: String,
}

impl RefusedPay {
    fn of(serial: &str, request: &SignedRequest) -> Option<RefusedPay> {
        Some(RefusedPay {
            serial: serial.to_owned(),
            seq: pay_number(request)?,
            session: request.session.as_str().to_owned(),
        })
    }

    async fn record(self, pool: &AnyPool) -> Result<(), sqlx::Error> {
        let now = crate::db::now_ms();
        sequence::record(pool, &self.serial, self.seq, &self.session, now).await
    }
}

/// Checks 6–9 of the module docs: the holder may do anything its point may.
pub async fn authorize(pool: &AnyPool, mut holder: KeyHolder) -> Result<Sender, Refused> {
    // What a refusal must record, kept before the holder moves into the checks.
    let numbered = RefusedPay::of(&holder.key.serial, &holder.request);
    let remember = holder.remember.take();
    let authorized = authorize_holder(pool, holder).await;
    match (&authorized, numbered, remember) {
        (Err(Refused::Code { .. }), Some(refused), _) => refused.record(pool).await?,
        // Only a key in force is remembered: a revoked one is asked about its list each time.
        (Ok(sender), _, Some(recent)) if sender.heard_revoked.is_none() => recent.remember(sender),
        _ => {}
    }
    authorized
}

async fn authorize_holder(pool: &AnyPool, holder: KeyHolder) -> Result<Sender, Refused> {
    let KeyHolder {
        request,
        body,
        signature,
        key,
        unchecked,
        heard_revoked,
        remember: _,
    } = holder;
    let refuse = |code: ResultCode| {
        tracing::info!(serial = %key.serial, point = %key.point_code,
            step = request.step.name(), code = code.number(), "signed request refused");
        Refused::Code {
            code,
            session: Some(request.session.clone()),
        }
    };
    let state = match heard_revoked {
        Some(_) => state_in_force(&key),
        None => key.state,
    };
    if state != KeyState::Certified {
        return Err(refuse(ResultCode::KeyNotCertified));
    }
    let point = unchecked
        .point
        .ok_or_else(|| Refused::Inconsistent(format!("key {} has no point", key.serial)))?;
    if request.dealer != point.dealer_code {
        return Err(refuse(ResultCode::KeyNotRegistered));
    }
    let dealer = unchecked
        .dealer
        .ok_or_else(|| Refused::Inconsistent(format!("point {} has no dealer", point.code)))?;
    if !dealer.active {
        return Err(refuse(ResultCode::DealerBlocked));
    }
    if !point.active {
        return Err(refuse(ResultCode::PointBlocked));
    }
    let cashier = match &key.cashier_code {
        Some(own) if *own != request.cashier => return Err(refuse(ResultCode::CashierBlocked)),
        // Read with the key: the one its card named, the request's own.
        Some(_) => unchecked.cashier,
        None => network::cashier(pool, &point.code, &request.cashier).await?,
    };
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
        heard_revoked,
    })
}

/// The sender's rows as they are now, read again under the write lock by the payment step
/// ([`crate::payments::group_state`]): the key's state and whether its dealer, point and
/// cashier are active (a row that is gone reads as inactive, a key that is gone as `None`).
#[derive(Debug, Clone, Copy)]
pub struct SenderRows<'a> {
    pub key_state: Option<&'a str>,
    pub dealer_active: bool,
    pub point_active: bool,
    pub cashier_active: bool,
}

/// Checks 6–9 of the module docs again for an authorised `sender`, on its rows read inside
/// the payment's transaction: the state read by [`authorize`] may have changed while the
/// request waited for the database's write lock (a key revoked, a dealer, point or cashier
/// blocked), and what the payment step decides is decided on the state it commits on.
/// `Ok(Err(code))` is the refusal [`authorize`] would answer now.
///
/// A sender heard though its key is revoked ([`HeardRevoked`]) finds it revoked still, and is
/// checked on the state the key had: its revocation and its list never change. One whose key
/// was in force when authorised and is revoked now is refused (903) even if the revocation
/// named its session — the list is not read here, under the lock, for that race: the payment
/// waits in the cashier's file and is decided when it is sent again.
pub fn still_authorized(
    sender: &Sender,
    now: SenderRows<'_>,
) -> Result<Result<(), ResultCode>, sqlx::Error> {
    let state = match now.key_state.map(keys::parse_state).transpose()? {
        Some(KeyState::Revoked) if sender.heard_revoked.is_some() => {
            Some(state_in_force(&sender.key))
        }
        state => state,
    };
    let code = match state {
        Some(KeyState::Certified) => None,
        Some(KeyState::Revoked) => Some(ResultCode::KeyRevoked),
        Some(_) => Some(ResultCode::KeyNotCertified),
        None => Some(ResultCode::KeyNotRegistered),
    };
    let code = match code {
        Some(code) => Some(code),
        None if !now.dealer_active => Some(ResultCode::DealerBlocked),
        None if !now.point_active => Some(ResultCode::PointBlocked),
        None if !now.cashier_active => Some(ResultCode::CashierBlocked),
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
