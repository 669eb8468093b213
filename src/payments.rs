//! The app's side of a payment's life, on top of [`tolem_outbox`]: sign it with the unlocked
//! key when the cashier confirms (pay and status, one session), store it in the history and the
//! outbox before anything is sent, then send it and settle it — or leave it deferred.
//!
//! Every send of a stored payment goes through [`settle_now`], under the replay lock the service
//! worker and every other tab take too ([`tolem_outbox::lock`]): a payment is never sent by two
//! of them at once. What is left waiting is the outbox's ([`crate::outbox::Outbox::kick`]).
//!
//! A card payment is signed as a bill ([`sign_bill`]) and stored the same way, but never sent:
//! the customer's phone carries it. The app only asks about it ([`ask_bill`]) and may cancel it
//! ([`cancel_bill`]), with requests signed together with the bill.

use std::time::Duration;

use tolem_outbox::lock::{self, LockError, Wait};
use tolem_outbox::record::{Failure, PaymentDraft, PaymentRecord, SignedPayment, State};
use tolem_outbox::store::{self, StoreError};
use tolem_outbox::{settle, transport};
use tolem_protocol::ids::SessionId;
use tolem_protocol::keys::SecretKey;
use tolem_protocol::messages::{DecodeError, KeyCard};

use crate::session::KeySession;
use crate::storage::keystore::{self, KeyStoreError};

/// Waits before each automatic status query after an unclear answer: short, because the
/// cashier and the customer are waiting; what is still unknown after them is settled later.
pub const STATUS_RETRIES: [Duration; 2] = [Duration::from_millis(1_500), Duration::from_secs(4)];

/// Why a payment could not be signed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("there is no point key on this phone")]
    NoKey,
    #[error("the key is locked")]
    Locked,
    /// The payment is not one the gateway would read (the form should have said so).
    #[error("the payment is not valid: {0}")]
    Invalid(DecodeError),
}

/// Why a stored payment could not be sent by hand.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyStoreError),
}

/// Where an execution is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The signed payment is being written to the phone.
    Saving,
    /// The pay is on its way.
    Sending,
    /// The answer was unclear: asking the gateway for the outcome by session.
    AskingStatus,
}

/// Signs `draft` with the session's unlocked key: one new session, created now, for its pay
/// and its status query.
pub fn sign(session: &KeySession, draft: &PaymentDraft) -> Result<SignedPayment, SignError> {
    sign_with(session, draft, SignedPayment::sign)
}

/// Signs `draft` as a bill for the customer to pay by card on their own phone, with the
/// session's unlocked key: one new session, created now, for the bill, its status query and its
/// cancel ([`SignedPayment::sign_bill`]).
pub fn sign_bill(session: &KeySession, draft: &PaymentDraft) -> Result<SignedPayment, SignError> {
    sign_with(session, draft, SignedPayment::sign_bill)
}

/// Signs a cash payment with its key's next number (issue 13 item 5) and stores it (history
/// and outbox, one transaction) as deferred: the number is taken together with the storing
/// ([`store::save_numbered`]), so none is skipped when storing fails and none is given twice.
/// The outer error says it could not be signed, the inner one that it could not be stored.
pub async fn sign_and_save(
    session: &KeySession,
    draft: &PaymentDraft,
) -> Result<Result<PaymentRecord, StoreError>, SignError> {
    let card = session.record_untracked().ok_or(SignError::NoKey)?.card;
    let sign = |seq| {
        sign_with(session, draft, |draft, card, key, now_ms, random| {
            SignedPayment::sign_numbered(draft, card, key, now_ms, random, seq)
        })
    };
    store::save_numbered(&card.key_serial, sign, js_sys::Date::now() as i64).await
}

fn sign_with(
    session: &KeySession,
    draft: &PaymentDraft,
    signer: impl FnOnce(
        &PaymentDraft,
        &KeyCard,
        &SecretKey,
        i64,
        [u8; 8],
    ) -> Result<SignedPayment, DecodeError>,
) -> Result<SignedPayment, SignError> {
    let card = session.record_untracked().ok_or(SignError::NoKey)?.card;
    // The gateway's time as last measured: a phone whose clock is off must not sign a payment
    // the gateway refuses as from the future (910) or as too old (909).
    let now_ms = tolem_outbox::clock::now_ms();
    let random = crate::crypto::random_bytes::<8>().map_err(|_| SignError::Locked)?;
    session
        .with_key(|key| signer(draft, &card, key, now_ms, random))
        .ok_or(SignError::Locked)?
        .map_err(SignError::Invalid)
}

/// Stores a signed payment (history and outbox, one transaction) as deferred. Nothing may be
/// sent before this succeeded; when it fails, the payment is neither made nor deferred.
pub async fn save(payment: SignedPayment) -> Result<PaymentRecord, StoreError> {
    store::save_new(payment, js_sys::Date::now() as i64).await
}

/// Sends a stored payment and follows it to an outcome: an unclear answer is settled by a
/// couple of quick status queries (never a new session); what is still unknown after them, or
/// deferred because the phone is offline, is left for the replay (the caller kicks it).
pub async fn execute(
    session: &SessionId,
    card: &KeyCard,
    progress: impl Fn(Progress),
) -> Result<PaymentRecord, StoreError> {
    progress(Progress::Sending);
    let mut record = settle_now(session, card).await?;
    for wait in STATUS_RETRIES {
        // A status query that could not even connect says the gateway is out of reach: the
        // next one would not do better, and the cashier should not wait for it.
        let unreachable = record.last_failure == Some(Failure::Offline);
        if record.state != State::Unknown || unreachable || !transport::browser_online() {
            break;
        }
        crate::task::sleep(wait).await;
        progress(Progress::AskingStatus);
        record = settle_now(session, card).await?;
    }
    Ok(record)
}

/// *Send now* from the history: a deferred or unknown payment, sent or settled at once with
/// the key card on the phone — no unlocking needed, the requests were signed long ago.
pub async fn send_now(session: &SessionId) -> Result<PaymentRecord, SendError> {
    let card = keystore::load().await?.ok_or(KeyStoreError::NoKey)?.card;
    Ok(execute(session, &card, |_| {}).await?)
}

/// Takes one stored payment a step towards its outcome ([`settle::settle`]) under the replay
/// lock, waiting for its turn if the worker or another tab is replaying (it then most likely
/// sends this very payment, and the settle finds it final). If the turn does not come in time
/// the payment is left as stored, for the replay.
pub async fn settle_now(session: &SessionId, card: &KeyCard) -> Result<PaymentRecord, StoreError> {
    match lock::with_replay_lock(Wait::Queue, |_held| settle::settle(session, card)).await {
        Ok(settled) => settled,
        Err(LockError::Storage(error)) => Err(error.into()),
        Err(LockError::Busy) => store::get(session).await?.ok_or(StoreError::NotFound),
    }
}

/// Asks the gateway once about the stored bill of `session` — its status, or its cancel once the
/// cashier cancelled it — with the key card on the phone (the requests were signed with the
/// bill, so no unlocking is needed) and stores the answer ([`settle::settle_bill`]). No lock is
/// taken: both requests may be sent any number of times, and the store keeps a final state.
pub async fn ask_bill(session: &SessionId) -> Result<PaymentRecord, StoreError> {
    let record = store::get(session).await?.ok_or(StoreError::NotFound)?;
    if record.state.is_final() {
        return Ok(record);
    }
    match store::key_card().await? {
        Some(card) => settle::settle_bill(&record, &card).await,
        None => Ok(record),
    }
}

/// *Cancel bill*: the cancel is written to the phone first — from then on the bill is
/// *cancelling* and every replay sends its pre-signed cancel until the gateway answers — then
/// sent at once. Returns the record as it now is: cancelled, expired, paid (the customer was
/// quicker: that wins), or still cancelling without a connection (the caller kicks the outbox).
pub async fn cancel_bill(session: &SessionId) -> Result<PaymentRecord, StoreError> {
    let now_ms = js_sys::Date::now() as i64;
    let record = store::mark_cancelling(session, now_ms).await?;
    if record.state != State::Cancelling {
        return Ok(record);
    }
    ask_bill(session).await
}

/// Calls `on_change` whenever a payment may have changed: announced on the outbox's channel
/// (by this tab, another tab or the service worker), or on returning to the app (a phone that
/// slept may have missed messages). Stops when the calling component goes away.
pub fn on_payment_change(on_change: impl Fn() + Clone + 'static) {
    use leptos::prelude::*;
    let heard = on_change.clone();
    let subscription = tolem_outbox::changes::subscribe(move |_| heard());
    // Dropped (and the channel closed) when the component's owner is cleaned up.
    StoredValue::new_local(subscription);
    let visible = window_event_listener(leptos::ev::visibilitychange, move |_| {
        if document().visibility_state() == web_sys::VisibilityState::Visible {
            on_change();
        }
    });
    on_cleanup(move || visible.remove());
}
