//! Signed letters (manual §16, the `message` step) in the same outbox as payments: written with
//! the point key at the moment the cashier sends them, stored before anything is sent, replayed
//! by the same replayer under the same lock when the phone is offline.
//!
//! A letter is simpler than a payment: it moves no money, and the gateway answers a repeated
//! session with the same letter by the message id it gave the first time (and sends no second
//! e-mail). So an unclear answer is settled by sending the very same signed bytes again — no
//! status query is needed — and a letter is never re-signed or sent under a new session.
//!
//! States are the payments' [`State`]: deferred → sending → accepted (queued for e-mail at the
//! gateway, with its message id) | rejected (code) | unknown (sent again as it is).
//!
//! Letters live in their own store ([`LETTERS`]) and have an entry in the shared [`OUTBOX`]
//! store (of kind [`EntryKind::Letter`]) while not final, written in one transaction like a
//! payment's; every change is announced on the same broadcast channel.

use serde::{Deserialize, Serialize};
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::ids::SessionId;
use tolem_protocol::keys::SecretKey;
use tolem_protocol::messages::{KeyCard, Letter, Message, Outcome, Request, Step};
use tolem_protocol::signing::Signed;

use crate::boxed::Boxed;
use crate::changes;
use crate::db::{self, LETTERS, OUTBOX, from_js, to_js};
use crate::record::{Failure, SignedRequest, State, StoredAnswer};
use crate::settle::{Reply, read_reply_now};
use crate::store::{EntryKind, OutboxEntry, StoreError, Tracked, change, key};
use crate::transport::{self, ApiError, Delivery};

/// The step's name, as in `/api/v1/message`.
pub const MESSAGE: &str = "message";

/// A letter signed when the cashier sent it. Never changes again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedLetter {
    /// The idempotency key of the letter (also its key in IndexedDB).
    pub session: SessionId,
    pub to: String,
    pub text: String,
    /// When the cashier wrote it (UTC milliseconds); signed.
    pub created_at_ms: i64,
    pub point: String,
    pub point_name: String,
    pub cashier: String,
    /// The signed `message` request.
    pub request: SignedRequest,
}

/// Why a letter could not be signed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LetterSignError {
    /// The letter breaks the rules the gateway would refuse it for (912, 913).
    #[error(transparent)]
    Letter(#[from] tolem_protocol::messages::LetterError),
    /// The request would not be read by the gateway (a bad card).
    #[error("the request is not valid: {0}")]
    Invalid(String),
}

impl SignedLetter {
    /// Signs `letter` for the card's point and cashier under a new session made from `now_ms`
    /// and `random` (8 bytes from a cryptographic source). Refuses what the gateway would refuse.
    pub fn sign(
        letter: &Letter,
        card: &KeyCard,
        key: &SecretKey,
        now_ms: i64,
        random: [u8; 8],
    ) -> Result<SignedLetter, LetterSignError> {
        letter.check()?;
        let session = SessionId::generate(now_ms, random);
        let request = Request {
            v: PROTOCOL_VERSION,
            dealer: card.dealer.clone(),
            point: card.point.clone(),
            cashier: card.cashier.clone(),
            key_serial: card.key_serial.clone(),
            session: session.clone(),
            created_at_ms: now_ms,
            seq: None,
            outbox_lost: None,
            step: Step::Message(letter.clone()),
        };
        request
            .validate()
            .map_err(|e| LetterSignError::Invalid(e.to_string()))?;
        let signed = Signed::sign(&card.key_serial, request.encode(), key);
        Ok(SignedLetter {
            session,
            to: letter.to.clone(),
            text: letter.text.clone(),
            created_at_ms: now_ms,
            point: card.point.clone(),
            point_name: card.point_name.clone(),
            cashier: card.cashier.clone(),
            request: SignedRequest {
                signer: signed.signer,
                body: String::from_utf8(signed.body).expect("protocol messages are UTF-8 JSON"),
                signature: signed.signature.to_string(),
            },
        })
    }
}

impl Tracked for LetterRecord {
    fn state(&self) -> State {
        self.state
    }
}

/// A letter as stored, with its progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterRecord {
    /// The store's key: always `letter.session`.
    pub session: SessionId,
    pub letter: SignedLetter,
    pub state: State,
    /// The gateway's id for the queued e-mail, once it took the letter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_answer: Option<StoredAnswer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Failure>,
    pub attempts: u32,
    pub updated_at_ms: i64,
}

impl LetterRecord {
    /// A freshly signed letter as first stored: deferred.
    pub fn new(letter: SignedLetter, now_ms: i64) -> LetterRecord {
        LetterRecord {
            session: letter.session.clone(),
            letter,
            state: State::Deferred,
            message_id: None,
            last_answer: None,
            last_failure: None,
            attempts: 0,
            updated_at_ms: now_ms,
        }
    }
}

/// Stores a freshly signed letter as deferred: its record and its outbox entry in one
/// transaction, before anything is sent. On any error nothing is stored.
pub async fn save_new(letter: SignedLetter, now_ms: i64) -> Result<LetterRecord, StoreError> {
    let record = LetterRecord::new(letter, now_ms);
    let entry = OutboxEntry {
        session: record.session.clone(),
        created_at_ms: record.letter.created_at_ms,
        amount_tiyn: 0,
        kind: EntryKind::Letter,
        format: crate::compat::OUTBOX_FORMAT,
    };
    let (record_js, entry_js) = (to_js(&record)?, to_js(&entry)?);
    let database = db::open().await?;
    let transaction = database.durable_transaction(&[LETTERS, OUTBOX])?;
    let written = async {
        // `add`, not `put`: a session already there is an error, never overwritten.
        transaction
            .object_store(LETTERS)?
            .add(&record_js, None)?
            .await?;
        transaction
            .object_store(OUTBOX)?
            .add(&entry_js, None)?
            .await?;
        Ok::<(), StoreError>(())
    }
    .await;
    if let Err(error) = written {
        let _ = transaction.abort();
        return Err(error);
    }
    db::finish(transaction).await?;
    changes::announce(&record.session);
    Ok(record)
}

/// The letter of `session`, if the phone has it.
pub async fn get(session: &SessionId) -> Result<Option<LetterRecord>, StoreError> {
    let value = db::read_one(LETTERS, key(session)).await?;
    Ok(value.map(|value| from_js(&value)).transpose()?)
}

/// Every letter on the phone, newest first (a damaged record is skipped).
pub async fn all() -> Result<Vec<LetterRecord>, StoreError> {
    let values = db::read_all(LETTERS).await?;
    let mut records: Vec<LetterRecord> = values.iter().filter_map(|v| from_js(v).ok()).collect();
    records.sort_unstable_by(|a, b| {
        (b.letter.created_at_ms, &b.session).cmp(&(a.letter.created_at_ms, &a.session))
    });
    Ok(records)
}

/// The letters not final yet, oldest first: what a replayer sends.
pub async fn waiting() -> Result<Vec<LetterRecord>, StoreError> {
    let mut records: Vec<LetterRecord> = all()
        .await?
        .into_iter()
        .filter(|r| !r.state.is_final())
        .collect();
    records.reverse();
    Ok(records)
}

/// Records the progress of `updated` (never replacing a final state; the signed letter itself
/// is never changed), dropping the outbox entry when it becomes final. Returns it as stored.
pub async fn update(updated: &LetterRecord) -> Result<LetterRecord, StoreError> {
    change(LETTERS, &updated.session, |record: &mut LetterRecord| {
        if record.state.is_final() {
            return false;
        }
        record.state = updated.state;
        record.message_id.clone_from(&updated.message_id);
        record.last_answer.clone_from(&updated.last_answer);
        record.last_failure = updated.last_failure;
        record.attempts = updated.attempts;
        record.updated_at_ms = updated.updated_at_ms;
        true
    })
    .await
}

/// The record after the reply to its `message` request: queued (accepted, with the message id),
/// refused with a code, or — without a decision — deferred (nothing left the phone, or the
/// gateway asked to wait) or unknown (it may have arrived: the same bytes go again).
pub fn after_message(record: &LetterRecord, reply: Reply, now_ms: i64) -> LetterRecord {
    let mut next = record.clone();
    next.attempts = record.attempts.saturating_add(1);
    next.updated_at_ms = now_ms;
    match reply {
        Reply::Failed(error) => {
            next.state = match error {
                ApiError::Offline => State::Deferred,
                _ => State::Unknown,
            };
            next.last_failure = error.failure();
        }
        Reply::Answered { response, answer } => {
            next.last_failure = None;
            next.last_answer = Some(answer);
            next.state = match (response.code, &response.outcome) {
                (ResultCode::Ok, Some(Outcome::MessageQueued { message_id })) => {
                    next.message_id = Some(message_id.clone());
                    State::Accepted
                }
                // Not a decision about the letter: send the same bytes again later.
                (ResultCode::Ok | ResultCode::TooManyAttempts | ResultCode::Internal, _) => {
                    State::Deferred
                }
                (code, _) => State::Rejected(code),
            };
        }
    }
    next
}

/// Takes the stored letter of `session` one step towards its outcome: marks it as being sent
/// and sends its signed request (the same bytes every time). A final letter is returned as it
/// is. Run it under the replay lock, like [`crate::settle::settle`].
///
/// Boxed here ([`crate::boxed`]): the app's pages await it, and so does the replay pass.
#[inline(never)]
pub fn settle<'a>(
    session: &'a SessionId,
    card: &'a KeyCard,
) -> Boxed<'a, Result<LetterRecord, StoreError>> {
    Box::pin(settle_once(session, card))
}

async fn settle_once(session: &SessionId, card: &KeyCard) -> Result<LetterRecord, StoreError> {
    let record = get(session).await?.ok_or(StoreError::NotFound)?;
    if record.state.is_final() {
        return Ok(record);
    }
    let now = js_sys::Date::now() as i64;
    let sending = change(LETTERS, session, |r: &mut LetterRecord| {
        if r.state.is_final() {
            return false;
        }
        r.state = State::Sending;
        r.updated_at_ms = now;
        true
    })
    .await?;
    if sending.state.is_final() {
        return Ok(sending);
    }
    let request = &sending.letter.request;
    let sent = transport::post(
        MESSAGE,
        request.bytes(),
        Some((&request.signer, &request.signature)),
        // Resending is safe (the gateway recognises the session), but a broken connection
        // may still mean it arrived: unknown, and the next pass sends it again.
        Delivery::Payment,
    )
    .await;
    let (reply, now) = read_reply_now(MESSAGE, sent, card, session);
    update(&after_message(&sending, reply, now)).await
}
