//! The cashier's shifts on the phone (issue 16): opening one (its start kept in the settings),
//! closing it (the totals of [`crate::shift`] signed with the point key as the `shift` step and
//! stored with an outbox entry, in one transaction), the last [`SHIFTS_KEEP`] reports, and
//! sending a report — by the same replayer, under the same lock, as payments and letters.
//!
//! A report is like a letter ([`crate::letters`]): it moves no money and the gateway answers a
//! repeated session with the same outcome (storing it once), so an unclear answer is settled by
//! sending the very same signed bytes again. States are the payments' [`State`]: deferred →
//! sending → accepted (the gateway stored it) | rejected (code) | held (the gateway's "not
//! now": point blocked, key not certified — sent again on a later pass) | unknown (sent again).
//!
//! The reports live in their own store ([`SHIFTS`], database version 3) and have an entry of
//! kind [`EntryKind::Shift`] in the shared [`OUTBOX`] while not final.

use idb::Query;
use serde::{Deserialize, Serialize};
use tolem_protocol::PROTOCOL_VERSION;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::ids::SessionId;
use tolem_protocol::keys::SecretKey;
use tolem_protocol::messages::{KeyCard, Message, Outcome, Request, Step};
use tolem_protocol::shift::ShiftReport;
use tolem_protocol::signing::Signed;
use wasm_bindgen::JsValue;

use crate::boxed::Boxed;
use crate::db::{self, OUTBOX, SETTINGS, SHIFTS, from_js, to_js};
use crate::record::{Failure, SignedRequest, State, StoredAnswer};
use crate::settle::{Reply, is_held, read_reply_now};
use crate::store::{self, EntryKind, OutboxEntry, StoreError, Tracked, change, key};
use crate::transport::{self, ApiError, Delivery};
use crate::{changes, shift};

/// The step's name, as in `/api/v1/shift`.
pub const SHIFT: &str = "shift";
/// Reports kept on the phone; older ones are dropped as new ones are closed (never one that
/// has not reached the gateway yet).
pub const SHIFTS_KEEP: usize = 30;
/// The setting that holds the open shift.
pub const OPEN_SETTING: &str = "shift.open";

/// A shift the cashier opened and has not closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenShift {
    /// When it opened (UTC milliseconds, the clock requests are signed with).
    pub opened_at_ms: i64,
}

/// A closed shift's report as stored, with its progress towards the gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftRecord {
    /// The store's key, and the idempotency key of the signed report.
    pub session: SessionId,
    pub report: ShiftReport,
    pub point: String,
    pub cashier: String,
    /// The signed `shift` request: the same bytes every time it is sent.
    pub request: SignedRequest,
    pub state: State,
    /// When the gateway stored it, once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_answer: Option<StoredAnswer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Failure>,
    pub attempts: u32,
    pub updated_at_ms: i64,
}

impl Tracked for ShiftRecord {
    fn state(&self) -> State {
        self.state
    }
}

/// Why a shift could not be closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShiftError {
    #[error("no shift is open")]
    NotOpen,
    /// The report would not be read by the gateway (a bad card, a clock gone backwards).
    #[error("the report is not valid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The open shift, if there is one.
pub async fn open_shift() -> Result<Option<OpenShift>, StoreError> {
    Ok(db::read_value(OPEN_SETTING).await?)
}

/// The history keys a shift opened at `open`'s time still needs: its payments must stay until
/// it is closed and counted, however many there are. A session starts with its creation time in
/// 32 ms steps, so the ones from the open shift's step on sort at or after its prefix.
pub(crate) fn needed_by(open: Option<&JsValue>, history_keys: &[String]) -> Vec<String> {
    let Some(open) = open.and_then(|v| from_js::<OpenShift>(v).ok()) else {
        return Vec::new();
    };
    let from = SessionId::generate(open.opened_at_ms, [0; 8]);
    let prefix = &from.as_str()[..8];
    history_keys
        .iter()
        .filter(|k| k.get(..8).is_some_and(|p| p >= prefix))
        .cloned()
        .collect()
}

/// Opens a shift at `now_ms`; a shift already open (another tab, a second press) stays as it is
/// and is returned.
pub async fn open(now_ms: i64) -> Result<OpenShift, StoreError> {
    if let Some(open) = open_shift().await? {
        return Ok(open);
    }
    let open = OpenShift {
        opened_at_ms: now_ms,
    };
    db::write_value(OPEN_SETTING, &open).await?;
    changes::announce(&SessionId::generate(now_ms, [0; 8]));
    Ok(open)
}

/// Signs `report` as the card's `shift` step under a new session made from `now_ms` and
/// `random` (8 bytes from a cryptographic source). Refuses what the gateway would refuse.
pub fn sign(
    report: ShiftReport,
    card: &KeyCard,
    key: &SecretKey,
    now_ms: i64,
    random: [u8; 8],
) -> Result<ShiftRecord, ShiftError> {
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
        step: Step::Shift(report.clone()),
    };
    request
        .validate()
        .map_err(|e| ShiftError::Invalid(e.to_string()))?;
    let signed = Signed::sign(&card.key_serial, request.encode(), key);
    Ok(ShiftRecord {
        session,
        report,
        point: card.point.clone(),
        cashier: card.cashier.clone(),
        request: SignedRequest {
            signer: signed.signer,
            body: String::from_utf8(signed.body).expect("protocol messages are UTF-8 JSON"),
            signature: signed.signature.to_string(),
        },
        state: State::Deferred,
        recorded_at_ms: None,
        last_answer: None,
        last_failure: None,
        attempts: 0,
        updated_at_ms: now_ms,
    })
}

/// Closes the open shift at `now_ms`: counts its payments from the history, signs the report,
/// and stores it with its outbox entry while the open shift is cleared — one transaction, so a
/// shift is either still open or closed with its report waiting, never both or neither. Send it
/// afterwards ([`settle`], or let the replay do it).
pub async fn close(
    card: &KeyCard,
    key: &SecretKey,
    now_ms: i64,
    random: [u8; 8],
) -> Result<ShiftRecord, ShiftError> {
    let open = open_shift().await?.ok_or(ShiftError::NotOpen)?;
    // A clock corrected backwards since opening still gives a shift that closes after it opened.
    let closed_at_ms = now_ms.max(open.opened_at_ms + 1);
    let payments = store::history().await?;
    let report = shift::totals(&payments, open.opened_at_ms, closed_at_ms);
    let record = sign(report, card, key, closed_at_ms, random)?;
    save_closed(&record).await?;
    Ok(record)
}

/// Stores a closed shift's report (see [`close`]), dropping the oldest sent reports beyond
/// [`SHIFTS_KEEP`].
pub async fn save_closed(record: &ShiftRecord) -> Result<(), StoreError> {
    let entry = OutboxEntry {
        session: record.session.clone(),
        created_at_ms: record.report.closed_at_ms,
        amount_tiyn: 0,
        kind: EntryKind::Shift,
        format: crate::compat::OUTBOX_FORMAT,
    };
    let (record_js, entry_js) = (to_js(record)?, to_js(&entry)?);
    let database = db::open().await?;
    let transaction = database.durable_transaction(&[SHIFTS, OUTBOX, SETTINGS])?;
    let written = async {
        let shifts = transaction.object_store(SHIFTS)?;
        let outbox = transaction.object_store(OUTBOX)?;
        // `add`, not `put`: a session already there is an error, never overwritten.
        shifts.add(&record_js, None)?.await?;
        outbox.add(&entry_js, None)?.await?;
        transaction
            .object_store(SETTINGS)?
            .delete(Query::Key(JsValue::from_str(OPEN_SETTING)))?
            .await?;
        let keys = shifts.get_all_keys(None, None)?.await?;
        if keys.len() > SHIFTS_KEEP {
            let waiting = outbox.get_all_keys(None, None)?.await?;
            let keys: Vec<String> = keys.iter().filter_map(|k| k.as_string()).collect();
            let waiting = waiting.iter().filter_map(|k| k.as_string()).collect();
            for old in store::prune_plan(&keys, &waiting, SHIFTS_KEEP) {
                shifts.delete(Query::Key(JsValue::from_str(&old)))?.await?;
            }
        }
        Ok::<(), StoreError>(())
    }
    .await;
    if let Err(error) = written {
        let _ = transaction.abort();
        return Err(error);
    }
    db::finish(transaction).await?;
    changes::announce(&record.session);
    Ok(())
}

/// The report of `session`, if the phone has it.
pub async fn get(session: &SessionId) -> Result<Option<ShiftRecord>, StoreError> {
    let value = db::read_one(SHIFTS, key(session)).await?;
    Ok(value.map(|value| from_js(&value)).transpose()?)
}

/// Every report on the phone, newest shift first (a damaged record is skipped).
pub async fn all() -> Result<Vec<ShiftRecord>, StoreError> {
    let values = db::read_all(SHIFTS).await?;
    let mut records: Vec<ShiftRecord> = values.iter().filter_map(|v| from_js(v).ok()).collect();
    records.sort_unstable_by(|a, b| {
        (b.report.closed_at_ms, &b.session).cmp(&(a.report.closed_at_ms, &a.session))
    });
    Ok(records)
}

/// The reports not final yet, oldest first: what a replayer sends.
pub async fn waiting() -> Result<Vec<ShiftRecord>, StoreError> {
    let mut records: Vec<ShiftRecord> = all()
        .await?
        .into_iter()
        .filter(|r| !r.state.is_final())
        .collect();
    records.reverse();
    Ok(records)
}

/// Records the progress of `updated` (never replacing a final state; the signed report itself
/// is never changed), dropping the outbox entry when it becomes final.
pub async fn update(updated: &ShiftRecord) -> Result<ShiftRecord, StoreError> {
    change(SHIFTS, &updated.session, |record: &mut ShiftRecord| {
        if record.state.is_final() {
            return false;
        }
        record.state = updated.state;
        record.recorded_at_ms = updated.recorded_at_ms;
        record.last_answer.clone_from(&updated.last_answer);
        record.last_failure = updated.last_failure;
        record.attempts = updated.attempts;
        record.updated_at_ms = updated.updated_at_ms;
        true
    })
    .await
}

/// The record after the reply to its `shift` request: stored (accepted), held by the gateway's
/// "not now", refused with a code, or — without a decision — deferred (nothing left the phone,
/// or the gateway asked to wait) or unknown (it may have arrived: the same bytes go again).
pub fn after_shift(record: &ShiftRecord, reply: Reply, now_ms: i64) -> ShiftRecord {
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
                (ResultCode::Ok, Some(Outcome::ShiftRecorded { recorded_at_ms })) => {
                    next.recorded_at_ms = Some(*recorded_at_ms);
                    State::Accepted
                }
                (ResultCode::Ok | ResultCode::TooManyAttempts | ResultCode::Internal, _) => {
                    State::Deferred
                }
                (code, _) if is_held(code) => State::Held(code),
                (code, _) => State::Rejected(code),
            };
        }
    }
    next
}

/// Takes the stored report of `session` one step towards the gateway: marks it as being sent
/// and sends its signed request. A final report is returned as it is. Run it under the replay
/// lock, like [`crate::settle::settle`].
///
/// Boxed here ([`crate::boxed`]): the app's pages await it, and so does the replay pass.
#[inline(never)]
pub fn settle<'a>(
    session: &'a SessionId,
    card: &'a KeyCard,
) -> Boxed<'a, Result<ShiftRecord, StoreError>> {
    Box::pin(settle_once(session, card))
}

async fn settle_once(session: &SessionId, card: &KeyCard) -> Result<ShiftRecord, StoreError> {
    let record = get(session).await?.ok_or(StoreError::NotFound)?;
    if record.state.is_final() {
        return Ok(record);
    }
    let now = js_sys::Date::now() as i64;
    let sending = change(SHIFTS, session, |r: &mut ShiftRecord| {
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
    let request = &sending.request;
    let sent = transport::post(
        SHIFT,
        request.bytes(),
        Some((&request.signer, &request.signature)),
        // Resending is safe (the gateway recognises the session); a broken connection may
        // still mean it arrived: unknown, and the next pass sends it again.
        Delivery::Payment,
    )
    .await;
    let (reply, now) = read_reply_now(SHIFT, sent, card, session);
    update(&after_shift(&sending, reply, now)).await
}
