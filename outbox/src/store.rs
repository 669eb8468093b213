//! The payments on the phone: the `history` store holds every [`PaymentRecord`], the `outbox`
//! store an [`OutboxEntry`] for each one not final yet — the queue a replayer walks. (Signed
//! letters wait in the same outbox, with entries of their own kind: [`crate::letters`].)
//!
//! Rules:
//! - A new payment goes into both stores in ONE transaction, before anything is sent; the
//!   transaction awaits only IndexedDB requests (awaiting anything else would commit it early)
//!   and is aborted explicitly on any error, so a payment is either in both or in neither.
//! - A record is in the outbox exactly while its state is not final; [`update`] removes the
//!   entry in the same transaction that makes the state final.
//! - [`update`] never replaces a final state with a non-final one (two senders — two tabs, a tab
//!   and the worker — may finish in any order), and never changes the signed payment itself.
//! - An accepted payment's delivery to the provider changes after it is final: only through
//!   [`update_delivery`], which writes that one field and never moves it backwards.
//! - A bill (a card payment) waits in the outbox too, as an entry of its own kind
//!   ([`EntryKind::Bill`]): the replay asks its status, but it is no cash on the phone, so it is
//!   left out of what the header and the offline limits add up. Once the cashier cancels it
//!   ([`mark_cancelling`]), no late answer turns it back into awaiting.
//! - The history keeps at least the last [`HISTORY_KEEP`] payments and never drops one that is
//!   not final; older final ones are pruned as new ones are saved.
//! - Every committed change is announced on the [`crate::changes`] channel.

use std::collections::HashSet;

use idb::{Query, TransactionMode};
use serde::{Deserialize, Serialize};
use tolem_protocol::ids::SessionId;
use tolem_protocol::messages::{Delivery, KeyCard};
use wasm_bindgen::JsValue;

use crate::boxed::Boxed;
use crate::db::{self, HISTORY, KEYS, OUTBOX, SETTINGS, StorageError, from_js, to_js};
use crate::record::{PaymentRecord, SignedPayment, State, is_newer_delivery};
use crate::{changes, sequence};

/// Payments the history keeps at least (the manual's "last 100").
pub const HISTORY_KEEP: usize = 100;

/// How long a payment marked as being sent is left to its sender before a replayer takes it as
/// interrupted: the sender's timeout and a margin.
pub const SENDING_GRACE_MS: i64 = crate::transport::TIMEOUT_MS as i64 + 10_000;

/// A payment waiting in the outbox: a pointer into the history, with what a replayer needs to
/// order the queue and to add up what is waiting without reading every record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub session: SessionId,
    pub created_at_ms: i64,
    pub amount_tiyn: i64,
    /// What waits: a payment (in the history) or a letter (in the letters store). Entries
    /// written before letters existed have no kind: they are payments.
    #[serde(default)]
    pub kind: EntryKind,
    /// The format this entry was written in ([`crate::compat`]): a new worker takes over only
    /// if it reads the format of everything waiting. Entries from before it existed are 1.
    #[serde(default = "first_format")]
    pub format: u32,
}

fn first_format() -> u32 {
    1
}

/// The kinds of signed requests that wait in the outbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    #[default]
    Payment,
    /// A signed letter ([`crate::letters`]).
    Letter,
    /// A bill for the customer's card (in the history, like a payment): its status is asked,
    /// nothing is paid from the phone, and it is no cash waiting.
    Bill,
    /// A closed shift's report ([`crate::shifts`]): no payment, no cash.
    Shift,
}

tolem_protocol::read_by_name!(EntryKind {
    Payment = "payment",
    Letter = "letter",
    Bill = "bill",
    Shift = "shift",
});

/// Why a payment could not be stored or found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The phone's storage is full: nothing was saved.
    #[error("the phone's storage is full: the payment was not saved")]
    Full,
    /// A payment with this session is already stored (sessions are never reused).
    #[error("a payment with this session is already stored")]
    Exists,
    /// No payment with this session on the phone.
    #[error("no payment with this session on this phone")]
    NotFound,
    /// The payment's number was taken meanwhile (another tab stored a payment first): nothing
    /// was saved; sign it again with the next number ([`save_numbered`] does).
    #[error("the payment's number was taken by another payment")]
    SequenceTaken,
    /// The storage failed otherwise: nothing was saved.
    #[error(transparent)]
    Storage(StorageError),
}

impl From<StorageError> for StoreError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Full(_) => StoreError::Full,
            other => StoreError::Storage(other),
        }
    }
}

impl From<idb::Error> for StoreError {
    fn from(error: idb::Error) -> Self {
        StorageError::from(error).into()
    }
}

/// The IndexedDB key of a record: its session id.
pub(crate) fn key(session: &SessionId) -> JsValue {
    JsValue::from_str(session.as_str())
}

/// A record kept by session whose outbox entry goes when its state is final: a payment, a letter
/// or a shift's report. Lets one read-modify-write ([`change`]) serve every store.
pub(crate) trait Tracked: Serialize + serde::de::DeserializeOwned {
    fn state(&self) -> State;
}

impl Tracked for PaymentRecord {
    fn state(&self) -> State {
        self.state
    }
}

/// Stores a freshly signed payment as deferred: its history record and its outbox entry in one
/// transaction, and prunes old final payments from the history in the same transaction. Call it
/// before anything is sent. On any error nothing is stored; [`StoreError::Full`] means the
/// phone's storage is full.
pub async fn save_new(payment: SignedPayment, now_ms: i64) -> Result<PaymentRecord, StoreError> {
    let record = PaymentRecord::new(payment, now_ms);
    let entry = OutboxEntry {
        session: record.session().clone(),
        created_at_ms: record.payment.created_at_ms,
        amount_tiyn: record.payment.amount_tiyn,
        kind: if record.payment.is_bill() {
            EntryKind::Bill
        } else {
            EntryKind::Payment
        },
        format: crate::compat::OUTBOX_FORMAT,
    };
    let (record_js, entry_js) = (to_js(&record)?, to_js(&entry)?);
    let database = db::open().await?;
    let transaction = database.durable_transaction(&[HISTORY, OUTBOX, SETTINGS])?;
    let written = async {
        let history = transaction.object_store(HISTORY)?;
        let outbox = transaction.object_store(OUTBOX)?;
        if let Some(seq) = record.payment.seq {
            // The number is taken here, with the payment, or not at all (see `sequence`).
            let settings = transaction.object_store(SETTINGS)?;
            let name = JsValue::from_str(&sequence::setting(&record.payment.pay.signer));
            let last = sequence::last_from(settings.get(name.clone())?.await?);
            if seq != last + 1 {
                return Err(StoreError::SequenceTaken);
            }
            settings
                .put(&JsValue::from_f64(seq as f64), Some(&name))?
                .await?;
        }
        let exists = history
            .count(Some(Query::Key(key(record.session()))))?
            .await?
            > 0;
        if exists {
            return Err(StoreError::Exists);
        }
        // `add`, not `put`: a session already there is an error, never overwritten.
        history.add(&record_js, None)?.await?;
        outbox.add(&entry_js, None)?.await?;
        // Pruning needs only keys: history keys sort by creation (a session starts with its
        // time), and the outbox's keys are exactly the payments not final yet.
        if history.count(None)?.await? as usize > HISTORY_KEEP {
            let history_keys = history.get_all_keys(None, None)?.await?;
            let waiting_keys = outbox.get_all_keys(None, None)?.await?;
            let history_keys: Vec<String> =
                history_keys.iter().filter_map(|k| k.as_string()).collect();
            let mut waiting: HashSet<String> =
                waiting_keys.iter().filter_map(|k| k.as_string()).collect();
            // The payments of an open shift stay until it is closed and counted (issue 16).
            let open_shift = transaction
                .object_store(SETTINGS)?
                .get(JsValue::from_str(crate::shifts::OPEN_SETTING))?
                .await?;
            waiting.extend(crate::shifts::needed_by(open_shift.as_ref(), &history_keys));
            for old in prune_plan(&history_keys, &waiting, HISTORY_KEEP) {
                history.delete(Query::Key(JsValue::from_str(&old)))?.await?;
            }
        }
        Ok::<(), StoreError>(())
    }
    .await;
    if let Err(error) = written {
        // The failed request may have aborted it already; either way nothing is kept.
        let _ = transaction.abort();
        return Err(error);
    }
    db::finish(transaction).await?;
    changes::announce(record.session());
    Ok(record)
}

/// How often a numbered payment is signed again when another tab took its number first.
const NUMBERING_TRIES: usize = 5;

/// Signs a cash payment with its key's next number (`sign` signs for a given number) and
/// stores it like [`save_new`]. Should another tab take the number between reading it and
/// storing, the payment is signed again with the next one: it was not stored, so nothing was
/// sent and nothing is lost.
pub async fn save_numbered<E>(
    key_serial: &str,
    sign: impl Fn(i64) -> Result<SignedPayment, E>,
    now_ms: i64,
) -> Result<Result<PaymentRecord, StoreError>, E> {
    let mut outcome = Err(StoreError::SequenceTaken);
    for _ in 0..NUMBERING_TRIES {
        let seq = match sequence::next(key_serial).await {
            Ok(seq) => seq,
            Err(error) => return Ok(Err(error.into())),
        };
        outcome = save_new(sign(seq)?, now_ms).await;
        if outcome != Err(StoreError::SequenceTaken) {
            break;
        }
    }
    Ok(outcome)
}

/// Which history keys to delete so that at least `keep` of the newest remain, never touching
/// a payment that is still waiting. `history_keys` come oldest first, as IndexedDB's
/// `getAllKeys` gives a store's keys (ascending; sessions sort by creation time): no sorting
/// here, and none of its code in the download.
pub fn prune_plan(history_keys: &[String], waiting: &HashSet<String>, keep: usize) -> Vec<String> {
    history_keys
        .iter()
        .rev()
        .skip(keep)
        .filter(|session| !waiting.contains(*session))
        .cloned()
        .collect()
}

/// The payment of `session`, if the phone has it.
pub async fn get(session: &SessionId) -> Result<Option<PaymentRecord>, StoreError> {
    let value = db::read_one(HISTORY, key(session)).await?;
    Ok(value.map(|value| from_js(&value)).transpose()?)
}

/// Every payment in the history, newest first. A damaged record is skipped rather than
/// hiding all the others.
pub async fn history() -> Result<Vec<PaymentRecord>, StoreError> {
    let values = db::read_all(HISTORY).await?;
    let mut records: Vec<PaymentRecord> = values.iter().filter_map(|v| from_js(v).ok()).collect();
    newest_first(&mut records);
    Ok(records)
}

/// Sorts payments newest first (by creation time, then session). Sessions are unique, so an
/// unstable sort gives the same order, with less code in the download than a stable one.
pub fn newest_first(records: &mut [PaymentRecord]) {
    records.sort_unstable_by(|a, b| {
        (b.payment.created_at_ms, b.session()).cmp(&(a.payment.created_at_ms, a.session()))
    });
}

/// Every payment still waiting (in the outbox), bills included, oldest first: what a replayer
/// walks.
///
/// Boxed here ([`crate::boxed`]): the app awaits it, and so does the replay.
#[inline(never)]
pub fn waiting() -> Boxed<'static, Result<Vec<PaymentRecord>, StoreError>> {
    Box::pin(waiting_once())
}

async fn waiting_once() -> Result<Vec<PaymentRecord>, StoreError> {
    let database = db::open().await?;
    let transaction = database.transaction(&[HISTORY, OUTBOX], TransactionMode::ReadOnly)?;
    let history = transaction.object_store(HISTORY)?;
    let entries = transaction
        .object_store(OUTBOX)?
        .get_all(None, None)?
        .await?;
    // Every read is asked for before the first answer is awaited: hundreds of deferred
    // payments cost one wait for the browser's storage, not one each.
    let mut reads = Vec::with_capacity(entries.len());
    for entry in &entries {
        let Ok(entry) = from_js::<OutboxEntry>(entry) else {
            continue;
        };
        if matches!(entry.kind, EntryKind::Letter | EntryKind::Shift) {
            continue;
        }
        reads.push(history.get(key(&entry.session))?.into_future());
    }
    let mut records = Vec::with_capacity(reads.len());
    for read in reads {
        if let Some(value) = read.await?
            && let Ok(record) = from_js::<PaymentRecord>(&value)
        {
            records.push(record);
        }
    }
    db::finish(transaction).await?;
    // Oldest first: the history's order reversed (one sort in the download, not two).
    newest_first(&mut records);
    records.reverse();
    Ok(records)
}

/// How many entries wait in the outbox (payments and letters): one cheap count, so a replayer
/// with nothing to do, or offline, reads no records at all.
pub async fn outbox_len() -> Result<usize, StoreError> {
    let database = db::open().await?;
    let transaction = database.transaction(&[OUTBOX], TransactionMode::ReadOnly)?;
    let count = transaction.object_store(OUTBOX)?.count(None)?.await?;
    db::finish(transaction).await?;
    Ok(count as usize)
}

/// What waits, summed up for the header and the offline limits from the outbox entries alone
/// (a few numbers each), not from the full records: the header is re-read after every change,
/// and a phone may hold hundreds of deferred payments. Bills are only counted, apart: no cash
/// was taken for them.
pub async fn waiting_summary() -> Result<crate::limits::Waiting, StoreError> {
    let database = db::open().await?;
    let transaction = database.transaction(&[OUTBOX], TransactionMode::ReadOnly)?;
    let entries = transaction
        .object_store(OUTBOX)?
        .get_all(None, None)?
        .await?;
    db::finish(transaction).await?;
    let mut waiting = crate::limits::Waiting::default();
    for entry in entries
        .iter()
        .filter_map(|e| from_js::<OutboxEntry>(e).ok())
    {
        match entry.kind {
            EntryKind::Payment => {}
            EntryKind::Bill => {
                waiting.bills += 1;
                continue;
            }
            EntryKind::Letter | EntryKind::Shift => continue,
        }
        waiting.count += 1;
        waiting.total_tiyn = waiting.total_tiyn.saturating_add(entry.amount_tiyn);
        waiting.oldest_created_ms = Some(
            waiting
                .oldest_created_ms
                .map_or(entry.created_at_ms, |o| o.min(entry.created_at_ms)),
        );
    }
    Ok(waiting)
}

/// The waiting payments whose next attempt is due at `now_ms`, oldest first. A payment marked
/// as being sent is due only after [`SENDING_GRACE_MS`]: until then its sender may still be
/// waiting for the answer. A held or sending payment scheduled further ahead than such a wait
/// can be (by a clock that was ahead, set back since) is due at once ([`crate::settle::held_due`]).
pub async fn due(now_ms: i64) -> Result<Vec<PaymentRecord>, StoreError> {
    let mut records = waiting().await?;
    records.retain(|record| {
        let wait = record.next_attempt_at_ms.saturating_sub(now_ms);
        // Due further ahead than its state's longest wait: scheduled by a clock that was ahead
        // and has been set back since (or corrupt) — due now, not when that clock catches up.
        wait <= 0
            || match record.state {
                State::Held(_) => crate::settle::held_due(record, now_ms),
                State::Sending => wait > SENDING_GRACE_MS,
                _ => false,
            }
    });
    Ok(records)
}

/// Marks the payment as being sent, just before its request leaves. Returns the record as it
/// now is: in [`State::Sending`], or unchanged when it is final already (someone else settled
/// it meanwhile — then there is nothing to send) or a bill (never sent from this phone).
pub async fn mark_sending(session: &SessionId, now_ms: i64) -> Result<PaymentRecord, StoreError> {
    change_one(session, &mut |record| sending(record, now_ms)).await
}

/// [`mark_sending`]'s edit of the stored `record`; whether it changed it.
fn sending(record: &mut PaymentRecord, now_ms: i64) -> bool {
    if record.state.is_final() || record.payment.is_bill() {
        return false;
    }
    record.state = State::Sending;
    record.next_attempt_at_ms = now_ms + SENDING_GRACE_MS;
    record.updated_at_ms = now_ms;
    true
}

/// [`mark_sending`] for the payments of a batch, in ONE transaction: all of them are marked as
/// being sent, or (on any error) none. Returns each record as it now is, in the given order.
pub async fn mark_sending_all(
    sessions: &[&SessionId],
    now_ms: i64,
) -> Result<Vec<PaymentRecord>, StoreError> {
    change_payments(sessions, &mut |_, record| sending(record, now_ms)).await
}

/// [`update`] for the payments of a batch, in ONE transaction: every answer is stored, or (on
/// any error) none — then the payments stay as being sent, and the next pass settles each by
/// its status. Returns each record as stored, in the given order.
pub async fn update_all(updates: &[PaymentRecord]) -> Result<Vec<PaymentRecord>, StoreError> {
    let sessions: Vec<&SessionId> = updates.iter().map(PaymentRecord::session).collect();
    change_payments(&sessions, &mut |at, record| progress(record, &updates[at])).await
}

/// Records the progress of `updated` (its state, transaction id, answer, attempts, schedule),
/// taking the outbox entry away when the state is final. A final state already stored wins
/// over a non-final one, and a bill the cashier cancels stays cancelling until an answer ends
/// it (a status answer read before the cancel was pressed cannot undo it); the signed payment
/// itself is never changed. Returns the record as stored.
pub async fn update(updated: &PaymentRecord) -> Result<PaymentRecord, StoreError> {
    change_one(updated.session(), &mut |record| progress(record, updated)).await
}

/// [`update`]'s edit of the stored `record`; whether it changed it.
fn progress(record: &mut PaymentRecord, updated: &PaymentRecord) -> bool {
    if record.state.is_final() {
        return false;
    }
    let cancelled_meanwhile =
        record.state == State::Cancelling && updated.state == State::AwaitingCard;
    if !cancelled_meanwhile {
        record.state = updated.state;
    }
    if updated.bill.is_some() {
        record.bill.clone_from(&updated.bill);
    }
    record.transaction_id.clone_from(&updated.transaction_id);
    record.decided_at_ms = updated.decided_at_ms;
    record.last_answer.clone_from(&updated.last_answer);
    record.last_failure = updated.last_failure;
    if let Some(delivery) = &updated.delivery
        && is_newer_delivery(record.delivery.as_ref(), delivery)
    {
        record.delivery = Some(delivery.clone());
    }
    record.attempts = updated.attempts;
    record.next_attempt_at_ms = updated.next_attempt_at_ms;
    record.updated_at_ms = updated.updated_at_ms;
    true
}

/// Marks the bill of `session` as cancelled by the cashier, before its pre-signed cancel is
/// sent: from now on the replay sends the cancel (when the phone is offline, once the network
/// returns) instead of asking the status. Returns the record as it now is: cancelling, or
/// unchanged when it is final already (paid or ended meanwhile) or not a bill awaiting payment.
pub async fn mark_cancelling(
    session: &SessionId,
    now_ms: i64,
) -> Result<PaymentRecord, StoreError> {
    change_one(session, &mut |record| {
        if record.state != State::AwaitingCard {
            return false;
        }
        record.state = State::Cancelling;
        record.next_attempt_at_ms = now_ms;
        record.updated_at_ms = now_ms;
        true
    })
    .await
}

/// Records where the delivery of the accepted payment of `session` to its provider is now — and
/// nothing else: the payment's own record (state, answer, attempts, schedule) stays as it was.
/// An older or less final delivery than the stored one is ignored ([`is_newer_delivery`]), so
/// two tabs refreshing at once cannot move it backwards. Returns the record as stored.
pub async fn update_delivery(
    session: &SessionId,
    delivery: &Delivery,
) -> Result<PaymentRecord, StoreError> {
    change_one(session, &mut |record| {
        if record.state != State::Accepted || !is_newer_delivery(record.delivery.as_ref(), delivery)
        {
            return false;
        }
        record.delivery = Some(delivery.clone());
        true
    })
    .await
}

/// Reads the record of `session` from `store` (letters or shifts; payments go through
/// [`change_payments`]) and applies `edit` in one read-write transaction (so two contexts
/// changing the same record are serialised by IndexedDB); writes only when `edit` says it changed
/// something, and drops the outbox entry when the new state is final.
///
/// Typed here, the transaction itself in [`change_stored`]: each call site's copy of this
/// function is only its conversions.
pub(crate) async fn change<R: Tracked>(
    store: &'static str,
    session: &SessionId,
    edit: impl FnOnce(&mut R) -> bool,
) -> Result<R, StoreError> {
    let mut edit = Some(edit);
    let mut edited = None;
    change_stored(store, session, &mut |value| {
        let mut record: R = from_js(value)?;
        let written = if edit.take().is_some_and(|edit| edit(&mut record)) {
            Some((to_js(&record)?, record.state().is_final()))
        } else {
            None
        };
        edited = Some(record);
        Ok(written)
    })
    .await?;
    edited.ok_or(StoreError::NotFound)
}

/// What [`change`] does to a stored record, untyped: `Some((value, is_final))` to write it back
/// (and drop its outbox entry when final), `None` to leave it.
type EditStored<'a> = dyn FnMut(&JsValue) -> Result<Option<(JsValue, bool)>, StoreError> + 'a;

/// [`change`]'s transaction, compiled once (boxed, [`crate::boxed`]) for every record type and
/// edit. Only IndexedDB requests are awaited inside it; `edit` runs between them.
#[inline(never)]
fn change_stored<'a>(
    store: &'static str,
    session: &'a SessionId,
    edit: &'a mut EditStored<'a>,
) -> Boxed<'a, Result<(), StoreError>> {
    Box::pin(async move {
        let database = db::open().await?;
        let transaction = database.transaction(&[store, OUTBOX], TransactionMode::ReadWrite)?;
        let changed = async {
            let records = transaction.object_store(store)?;
            let value = records
                .get(key(session))?
                .await?
                .ok_or(StoreError::NotFound)?;
            let Some((value, is_final)) = edit(&value)? else {
                return Ok(false);
            };
            records.put(&value, None)?.await?;
            if is_final {
                transaction
                    .object_store(OUTBOX)?
                    .delete(Query::Key(key(session)))?
                    .await?;
            }
            Ok::<_, StoreError>(true)
        }
        .await;
        let changed = match changed {
            Ok(changed) => changed,
            Err(error) => {
                let _ = transaction.abort();
                return Err(error);
            }
        };
        db::finish(transaction).await?;
        if changed {
            changes::announce(session);
        }
        Ok(())
    })
}

/// [`change`] for one payment: through [`change_payments`], so the wasm carries one copy of it.
async fn change_one(
    session: &SessionId,
    edit: &mut dyn FnMut(&mut PaymentRecord) -> bool,
) -> Result<PaymentRecord, StoreError> {
    let mut changed = change_payments(&[session], &mut |_, record| edit(record)).await?;
    Ok(changed.remove(0))
}

/// [`change`] for several payments in ONE read-write transaction, for a batch: `edit` gets each
/// record's index in `sessions` (distinct: a batch never holds a payment twice) and the record.
/// A batch costs one transaction, not one per payment; all the changes are kept or — on any
/// error, a record missing included — none.
///
/// The requests go out together, not one after the other's answer: every read first, then every
/// write. IndexedDB runs the requests of a transaction in the order they were made, so this
/// reads and writes exactly what the one-by-one way did, in two waits for the browser's
/// storage instead of up to three per payment (which, for a batch of fifty, was most of the
/// phone's share of a replay). Only IndexedDB requests are awaited inside the transaction.
/// The changed payments are announced in one message ([`changes::announce_all`]).
async fn change_payments(
    sessions: &[&SessionId],
    edit: &mut dyn FnMut(usize, &mut PaymentRecord) -> bool,
) -> Result<Vec<PaymentRecord>, StoreError> {
    let database = db::open().await?;
    let transaction = database.transaction(&[HISTORY, OUTBOX], TransactionMode::ReadWrite)?;
    let changed = async {
        let records = transaction.object_store(HISTORY)?;
        let outbox = transaction.object_store(OUTBOX)?;
        let reads = sessions
            .iter()
            .map(|session| Ok(records.get(key(session))?.into_future()))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut done = Vec::with_capacity(sessions.len());
        for (at, read) in reads.into_iter().enumerate() {
            let value = read.await?.ok_or(StoreError::NotFound)?;
            let mut record: PaymentRecord = from_js(&value)?;
            let changed = edit(at, &mut record);
            done.push((record, changed));
        }
        let mut writes = Vec::new();
        let mut removals = Vec::new();
        for (record, _) in done.iter().filter(|(_, changed)| *changed) {
            writes.push(records.put(&to_js(record)?, None)?.into_future());
            if record.state.is_final() {
                removals.push(
                    outbox
                        .delete(Query::Key(key(record.session())))?
                        .into_future(),
                );
            }
        }
        for write in writes {
            write.await?;
        }
        for removal in removals {
            removal.await?;
        }
        Ok::<_, StoreError>(done)
    }
    .await;
    let done = match changed {
        Ok(done) => done,
        Err(error) => {
            let _ = transaction.abort();
            return Err(error);
        }
    };
    db::finish(transaction).await?;
    let announced: Vec<&SessionId> = done
        .iter()
        .filter(|(_, changed)| *changed)
        .map(|(record, _)| record.session())
        .collect();
    changes::announce_all(&announced);
    Ok(done.into_iter().map(|(record, _)| record).collect())
}

/// The key card of the point key on this phone, if there is one: what a replayer without the
/// private key (the service worker) needs to check the gateway's answers. Read from the `keys`
/// store, whose records the app writes with the card in a `card` field.
///
/// Boxed here ([`crate::boxed`]): the app awaits it, and so does the replay.
#[inline(never)]
pub fn key_card() -> Boxed<'static, Result<Option<KeyCard>, StorageError>> {
    Box::pin(key_card_once())
}

async fn key_card_once() -> Result<Option<KeyCard>, StorageError> {
    #[derive(Deserialize)]
    struct WithCard {
        card: KeyCard,
    }
    let database = db::open().await?;
    let transaction = database.transaction(&[KEYS], TransactionMode::ReadOnly)?;
    let values = transaction
        .object_store(KEYS)?
        .get_all(None, Some(1))?
        .await?;
    db::finish(transaction).await?;
    Ok(values
        .first()
        .and_then(|value| from_js::<WithCard>(value).ok())
        .map(|record| record.card))
}
