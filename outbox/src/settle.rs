//! Taking a stored payment to its outcome: sending its signed `pay`, and settling it by its
//! pre-signed `status` when the pay may have arrived without a clear answer.
//!
//! The decisions are pure functions of the record and the reply ([`after_pay`],
//! [`after_status`]), so they are tested with real signed answers and no network; the network
//! functions only add the sending. Nothing here ever signs: a payment is only ever sent as the
//! bytes signed when the cashier confirmed it, under its one session.
//!
//! - pay → a signed answer: accepted (with the transaction id) or rejected with its code;
//!   a refusal for now ([`is_held`]: 902 key not certified yet, 52/53/54 dealer, point or cashier
//!   blocked, 910 the phone's clock ahead, 901 another protocol version — the gateway stored
//!   nothing): held, and the same
//!   signed pay goes out again later ([`held_wait_ms`]) — the cash was taken, so it is never
//!   dropped for a cause a dealer can lift or time cures;
//!   no connection: stays deferred (attempts + 1, backoff); no clear answer (timeout after the
//!   request left, 5xx, a broken connection, anything not the gateway's signed answer): unknown.
//! - status (of an unknown payment) → a receipt: accepted / rejected; 11, the gateway never got
//!   the pay: deferred again, so the *same* signed pay goes out next; no clear answer: stays
//!   unknown.
//! - delivery: an accepted payment's answers carry where the gateway is with carrying it to the
//!   provider ([`messages::Delivery`]); the record keeps the latest ([`is_newer_delivery`]). While
//!   it is not final, [`refresh_delivery`] sends the payment's same pre-signed status query — a
//!   read, so the very bytes signed at payment time may go any number of times, and no key is
//!   needed (a locked key or the service worker can ask too) — and stores only the delivery.
//! - bills (card payments, [`after_bill`]): never posted — the customer's phone carries the
//!   signed bill. An awaiting bill is asked about by its pre-signed `status`, a cancelled one by
//!   its pre-signed `cancel`; both are safe to send any number of times. A receipt: paid by card
//!   (accepted); 916, 917, 918: ended unpaid; 915 (the customer has not paid; a refused card is
//!   kept) or 11 (not opened yet): still waiting — until 11 comes past the bill's expiry plus
//!   [`BILL_GRACE_MS`] by this phone's clock, and past the expiry by the gateway's clock in that
//!   signed answer, when it has expired for good (the gateway opens no bill after its expiry);
//!   anything that is not the gateway's word about this bill: still waiting.

use tolem_protocol::codes::ResultCode;
use tolem_protocol::ids::SessionId;
use tolem_protocol::messages::{self, KeyCard, Outcome, PaymentState, Response};

use crate::boxed::Boxed;
use crate::record::{
    BILL_GRACE_MS, PaymentRecord, SignedRequest, State, StoredAnswer, is_newer_delivery,
};
use crate::store::{self, StoreError};
use crate::transport::{self, Answer, ApiError, BatchError, Delivery};

/// The name of the pay step ([`Step::Pay`](tolem_protocol::messages::Step::Pay)), as in its URL and in [`StoredAnswer::step`].
pub const PAY: &str = "pay";
/// The name of the status step ([`Step::Status`](tolem_protocol::messages::Step::Status)).
pub const STATUS: &str = "status";
/// The name of the cancel step of a bill ([`Step::Cancel`](tolem_protocol::messages::Step::Cancel)).
pub const CANCEL: &str = "cancel";

/// The first wait after a failed attempt; it doubles with each further failure.
pub const FIRST_BACKOFF_MS: i64 = 15_000;
/// The longest wait between attempts.
pub const MAX_BACKOFF_MS: i64 = 15 * 60_000;

/// The first wait after a refusal for now ([`State::Held`]); it doubles while the refusals go on.
pub const FIRST_HELD_WAIT_MS: i64 = 60_000;
/// The longest wait of a held payment.
pub const MAX_HELD_WAIT_MS: i64 = 15 * 60_000;
/// How far ahead of the gateway's clock a creation time may be (the gateway's own allowance,
/// `CLOCK_AHEAD_MS`): a payment refused with 910 goes again once the gateway's clock is past its
/// creation time less this.
pub const GATEWAY_CLOCK_AHEAD_MS: i64 = 5 * 60_000;
/// A margin past that moment, for the way to the gateway and clocks that tick unevenly.
pub const CLOCK_AHEAD_MARGIN_MS: i64 = 2_000;

/// Whether `code`, answered to a pay, means "not now" rather than "no": the sender cannot pay
/// yet but may later, and the gateway stored nothing — 902 (the dealer has not certified the
/// key yet), 52/53/54 (dealer, point or cashier blocked, or the key bound to another cashier:
/// a dealer lifts these), 910 (the phone's clock is ahead: time cures it) and 901 (a gateway
/// that no longer, or not yet, speaks the protocol version these bytes were signed in: one
/// that does — the gateway rolled back, or taking the version before during a change — takes
/// them; final, every payment waiting on every phone through a version change would be
/// refused with its cash taken). 903 (revoked) and a bad signature stay final: the same bytes
/// will never pass.
pub fn is_held(code: ResultCode) -> bool {
    matches!(
        code,
        ResultCode::KeyNotCertified
            | ResultCode::DealerBlocked
            | ResultCode::PointBlocked
            | ResultCode::CashierBlocked
            | ResultCode::ClockAhead
            | ResultCode::UnsupportedVersion
    )
}

/// How long a payment refused for now (`response`, with a code [`is_held`]) waits before its
/// same signed pay goes again, at `now_ms`:
/// - 910: until the gateway's clock (as signed in the answer) has reached the payment's creation
///   time less [`GATEWAY_CLOCK_AHEAD_MS`] — the moment the gateway accepts it — plus a margin;
/// - otherwise [`FIRST_HELD_WAIT_MS`], then twice as long as it has been since the previous
///   refusal for now (`record`'s last answer), up to [`MAX_HELD_WAIT_MS`]: a blocked point may
///   be unblocked in a minute or in a week.
pub fn held_wait_ms(record: &PaymentRecord, response: &Response, now_ms: i64) -> i64 {
    if response.code == ResultCode::ClockAhead {
        let accepted_from =
            record.payment.created_at_ms - GATEWAY_CLOCK_AHEAD_MS + CLOCK_AHEAD_MARGIN_MS;
        return (accepted_from - response.gateway_time_ms)
            .clamp(CLOCK_AHEAD_MARGIN_MS, MAX_HELD_WAIT_MS);
    }
    let previous = record
        .last_answer
        .as_ref()
        .filter(|answer| answer.step == PAY && is_held(answer.code));
    match previous {
        Some(answer) => {
            (2 * (now_ms - answer.received_at_ms)).clamp(FIRST_HELD_WAIT_MS, MAX_HELD_WAIT_MS)
        }
        None => FIRST_HELD_WAIT_MS,
    }
}

/// Whether the held payment `record` is due at `now_ms`: its time has come, or its next
/// attempt lies further ahead than any wait a held payment is ever given ([`MAX_HELD_WAIT_MS`],
/// the cap of [`held_wait_ms`]) — it was scheduled by a clock that was ahead and has been set
/// back since (or the record is corrupt). Waiting for that clock to catch up would keep cash
/// taken from a customer on the phone for as long as the clock was wrong, perhaps past the
/// gateway's maximum request age (a final 909). Not held: always due (the caller's rule).
pub fn held_due(record: &PaymentRecord, now_ms: i64) -> bool {
    if !matches!(record.state, State::Held(_)) {
        return true;
    }
    let wait = record.next_attempt_at_ms.saturating_sub(now_ms);
    wait <= 0 || wait > MAX_HELD_WAIT_MS
}

/// How long to wait after `attempts` attempts that got no answer: 15 s, 30 s, 1 min … 15 min.
pub fn backoff_ms(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(16);
    (FIRST_BACKOFF_MS << doublings).min(MAX_BACKOFF_MS)
}

/// What came back for a request about a payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The gateway's signed answer about this payment (whatever its code), and the answer as
    /// it is kept.
    Answered {
        response: Box<Response>,
        answer: StoredAnswer,
    },
    /// No trustworthy answer: [`ApiError::Offline`] or [`ApiError::Unclear`].
    Failed(ApiError),
}

/// Judges what came back for the `step` request of `session`: only the gateway's answer, signed
/// with the card's gateway key and about this session, is an answer.
pub fn read_reply(
    step: &str,
    sent: Result<Answer, ApiError>,
    card: &KeyCard,
    session: &SessionId,
    now_ms: i64,
) -> Reply {
    let answer = match sent {
        Ok(answer) => answer,
        Err(error) => return Reply::Failed(error),
    };
    match transport::verify_answer(&answer, card, session) {
        Ok(response) => Reply::Answered {
            answer: StoredAnswer {
                step: step.to_owned(),
                code: response.code,
                body: String::from_utf8_lossy(&answer.body).into_owned(),
                signature: answer.signature.map(|(_, s)| s).unwrap_or_default(),
                received_at_ms: now_ms,
            },
            response: Box::new(response),
        },
        Err(error) => Reply::Failed(error),
    }
}

/// The record after the reply to its `pay` request.
pub fn after_pay(record: &PaymentRecord, reply: Reply, now_ms: i64) -> PaymentRecord {
    let mut next = attempted(record, now_ms);
    match reply {
        Reply::Failed(error) => {
            next.state = match error {
                ApiError::Offline => State::Deferred,
                _ => State::Unknown,
            };
            next.last_failure = error.failure();
            next.next_attempt_at_ms = now_ms + backoff_ms(next.attempts);
        }
        Reply::Answered { response, answer } => {
            next.last_failure = None;
            next.last_answer = Some(answer);
            if is_held(response.code) {
                next.state = State::Held(response.code);
                next.next_attempt_at_ms = now_ms + held_wait_ms(record, &response, now_ms);
                return next;
            }
            match decision(&response) {
                Some(decided) => apply(&mut next, decided),
                // Not a decision about the payment: try the same pay again later.
                None => {
                    next.state = State::Deferred;
                    next.next_attempt_at_ms = now_ms + wait_asked(&response, next.attempts);
                }
            }
        }
    }
    next
}

/// The record after the reply to its `status` request.
pub fn after_status(record: &PaymentRecord, reply: Reply, now_ms: i64) -> PaymentRecord {
    let mut next = attempted(record, now_ms);
    match reply {
        Reply::Failed(error) => {
            next.state = State::Unknown;
            next.last_failure = error.failure();
            next.next_attempt_at_ms = now_ms + backoff_ms(next.attempts);
        }
        Reply::Answered { response, answer } => {
            next.last_failure = None;
            next.last_answer = Some(answer);
            if response.code == ResultCode::NoSuchSession {
                // The pay never arrived: send the very same signed pay again, now.
                next.state = State::Deferred;
                next.next_attempt_at_ms = now_ms;
            } else if let Some(decided) = decision(&response).filter(|d| d.receipt_seen) {
                apply(&mut next, decided);
            } else {
                // A refusal of the status query itself (a blocked point, too many attempts):
                // the payment may still have been made, so it stays unknown.
                next.state = State::Unknown;
                next.next_attempt_at_ms = now_ms + wait_asked(&response, next.attempts);
            }
        }
    }
    next
}

/// The record of a bill after the reply to its `status` query (while it awaits the card) or to
/// its `cancel` (once the cashier cancelled it): paid by card, ended unpaid, or — for anything
/// else — still awaiting (or still cancelling), with the gateway's latest word on the bill and
/// the failure kept. See the module's rules.
pub fn after_bill(record: &PaymentRecord, reply: Reply, now_ms: i64) -> PaymentRecord {
    let mut next = attempted(record, now_ms);
    match reply {
        Reply::Failed(error) => {
            next.last_failure = error.failure();
            next.next_attempt_at_ms = now_ms + backoff_ms(next.attempts);
        }
        Reply::Answered { response, answer } => {
            next.last_failure = None;
            next.last_answer = Some(answer);
            if let Some(Outcome::Bill(status)) = &response.outcome {
                next.bill = Some(status.clone());
            }
            // An answer may end a bill only if it names the bill's session: the gateway leaves
            // the session out only when it refused the request before reading it.
            let about_this_bill = response.session.as_ref() == Some(record.session());
            match response.code {
                ResultCode::Ok
                | ResultCode::NoSuchSession
                | ResultCode::BillNotPaid
                | ResultCode::BillExpired
                | ResultCode::BillCancelled
                | ResultCode::CardPaymentsOff
                    if !about_this_bill => {}
                ResultCode::NoSuchSession => {
                    // Never opened. The gateway opens no bill after its expiry: once that has
                    // surely passed — by this phone's clock with the grace, and by the gateway's
                    // own clock in this signed answer (a phone whose clock runs ahead must not
                    // give up on a bill the gateway would still open) — it never will be.
                    let expired = record.payment.bill.as_ref().is_some_and(|bill| {
                        now_ms > bill.expires_at_ms + BILL_GRACE_MS
                            && response.gateway_time_ms > bill.expires_at_ms
                    });
                    if expired {
                        next.state = State::Rejected(ResultCode::BillExpired);
                    }
                }
                ResultCode::BillNotPaid => {}
                code @ (ResultCode::BillExpired
                | ResultCode::BillCancelled
                | ResultCode::CardPaymentsOff) => next.state = State::Rejected(code),
                _ => {
                    // A receipt decides, whatever the step: the customer paid (perhaps just
                    // before the cancel), or the gateway refused the payment it made.
                    if let Some(decided) = decision(&response).filter(|d| d.receipt_seen) {
                        apply(&mut next, decided);
                    }
                }
            }
            if !next.state.is_final() {
                next.next_attempt_at_ms = now_ms + wait_asked(&response, next.attempts);
            }
        }
    }
    next
}

/// The gateway's decision about a payment, read from an answer.
struct Decision {
    state: State,
    transaction_id: Option<String>,
    decided_at_ms: Option<i64>,
    /// Whether the answer carried the payment's receipt (a status answer must).
    receipt_seen: bool,
    /// The delivery to the provider the receipt carried, if any.
    delivery: Option<messages::Delivery>,
}

/// What an answer decides about the payment, or `None` when it decides nothing: too many
/// attempts (wait and repeat), the gateway's own failure (the outcome is unknown), or a success
/// without a receipt (not a payment answer at all).
fn decision(response: &Response) -> Option<Decision> {
    let receipt = match &response.outcome {
        Some(Outcome::Payment(receipt)) => Some(receipt),
        _ => None,
    };
    let state = match response.code {
        ResultCode::Ok => match receipt {
            Some(receipt) if receipt.state == PaymentState::Accepted => State::Accepted,
            _ => return None,
        },
        ResultCode::TooManyAttempts | ResultCode::Internal | ResultCode::NoSuchSession => {
            return None;
        }
        // Every other code is the gateway's "no": for a pay it decided (and, for the payment
        // rules, stored) the refusal; for a sender it can never accept (bad signature, revoked
        // key) it will refuse these same bytes every time. (A "not now" — [`is_held`] — is
        // taken apart before a pay's answer gets here.)
        code => State::Rejected(code),
    };
    Some(Decision {
        state,
        transaction_id: receipt.map(|r| r.transaction_id.clone()),
        decided_at_ms: receipt.map(|r| r.accepted_at_ms),
        receipt_seen: receipt.is_some(),
        delivery: receipt.and_then(|r| r.delivery.clone()),
    })
}

fn apply(record: &mut PaymentRecord, decided: Decision) {
    record.state = decided.state;
    record.transaction_id = decided.transaction_id;
    record.decided_at_ms = decided.decided_at_ms;
    if let Some(delivery) = decided.delivery
        && is_newer_delivery(record.delivery.as_ref(), &delivery)
    {
        record.delivery = Some(delivery);
    }
}

/// The delivery a reply to a payment's status query reports: the gateway's signed answer that
/// the payment is accepted, with its delivery. Anything else (no answer, a refusal of the query,
/// too many attempts, a receipt without a delivery) reports none, and changes nothing.
pub fn delivery_in(reply: &Reply) -> Option<messages::Delivery> {
    let Reply::Answered { response, .. } = reply else {
        return None;
    };
    match (&response.code, &response.outcome) {
        (ResultCode::Ok, Some(Outcome::Payment(receipt)))
            if receipt.state == PaymentState::Accepted =>
        {
            receipt.delivery.clone()
        }
        _ => None,
    }
}

/// What a delivery refresh found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refreshed {
    /// The gateway said where the delivery is; the record as stored now (its delivery replaced
    /// when the answer was newer, nothing else touched).
    Answered(Box<PaymentRecord>),
    /// No delivery came back (no connection, no clear answer, a refusal of the query); the
    /// record is as it was. `wait_ms` is the pause the gateway asked for, if it asked.
    Unanswered { wait_ms: Option<i64> },
}

/// A copy of `record` with one more attempt counted.
fn attempted(record: &PaymentRecord, now_ms: i64) -> PaymentRecord {
    let mut next = record.clone();
    next.attempts = record.attempts.saturating_add(1);
    next.updated_at_ms = now_ms;
    next
}

/// The wait the gateway asked for, or the usual backoff.
fn wait_asked(response: &Response, attempts: u32) -> i64 {
    response
        .retry_after_s
        .map(|s| i64::from(s) * 1000)
        .unwrap_or_else(|| backoff_ms(attempts))
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// [`read_reply`] at this moment, noting the gateway's time of a signed answer
/// ([`crate::clock::observe`]) so the phone signs its next requests with a corrected clock.
pub fn read_reply_now(
    step: &str,
    sent: Result<Answer, ApiError>,
    card: &KeyCard,
    session: &SessionId,
) -> (Reply, i64) {
    let now = now_ms();
    let reply = read_reply(step, sent, card, session, now);
    if let Reply::Answered { response, .. } = &reply {
        crate::clock::observe(response.gateway_time_ms, now);
    }
    (reply, now)
}

/// Sends a stored signed request to `/api/v1/<step>` (the step's name, as [`Step::name`](tolem_protocol::messages::Step::name) gives).
async fn send(step: &str, request: &SignedRequest, delivery: Delivery) -> Result<Answer, ApiError> {
    transport::post(
        step,
        request.bytes(),
        Some((&request.signer, &request.signature)),
        delivery,
    )
    .await
}

/// Sends the payment's signed pay and returns the record as the reply leaves it (not stored:
/// see [`settle`]). A bill is returned as it is: the customer's phone carries it, never this one.
pub async fn send_payment(record: &PaymentRecord, card: &KeyCard) -> PaymentRecord {
    if record.payment.is_bill() {
        return record.clone();
    }
    let sent = send(PAY, &record.payment.pay, Delivery::Payment).await;
    let (reply, now) = read_reply_now(PAY, sent, card, record.session());
    after_pay(record, reply, now)
}

/// Sends the payment's pre-signed status query and returns the record as the reply leaves it
/// (not stored: see [`settle`]).
pub async fn settle_unknown(record: &PaymentRecord, card: &KeyCard) -> PaymentRecord {
    let sent = send(STATUS, &record.payment.status, Delivery::Repeatable).await;
    let (reply, now) = read_reply_now(STATUS, sent, card, record.session());
    after_status(record, reply, now)
}

/// Asks the gateway where the delivery of an accepted payment is, with the payment's status
/// query signed when the cashier confirmed it (the gateway's `status` is a read: the same signed
/// bytes may be sent as often as needed, so no key is unlocked and nothing is signed here), and
/// stores the delivery it reports ([`store::update_delivery`]). No lock is taken: a read sent
/// twice by two tabs costs a request, never a payment, and the store keeps the newer delivery.
pub async fn refresh_delivery(
    record: &PaymentRecord,
    card: &KeyCard,
) -> Result<Refreshed, StoreError> {
    let sent = send(STATUS, &record.payment.status, Delivery::Repeatable).await;
    let (reply, _) = read_reply_now(STATUS, sent, card, record.session());
    match delivery_in(&reply) {
        Some(delivery) => Ok(Refreshed::Answered(Box::new(
            store::update_delivery(record.session(), &delivery).await?,
        ))),
        None => Ok(Refreshed::Unanswered {
            wait_ms: match &reply {
                Reply::Answered { response, .. } => {
                    response.retry_after_s.map(|s| i64::from(s) * 1000)
                }
                Reply::Failed(_) => None,
            },
        }),
    }
}

/// Takes the stored payment of `session` one step towards its outcome and stores each state on
/// the way: an unknown (or interrupted) one is asked for by status first, and if the gateway
/// never got it, its same signed pay goes out at once; a deferred one is marked as sending and
/// its pay sent. A final payment is returned as it is.
///
/// A bill is asked about instead ([`settle_bill`]): it is never sent.
///
/// The one replay step the app's *Execute* and *Send now* and the service worker's replay
/// share. It takes no lock: run it under the replayer's lock so one context sends at a time
/// (running it twice at once is still safe — same session, same bytes — only wasteful).
///
/// Boxed here ([`crate::boxed`]): the app's pages await it, and so does the replay pass.
#[inline(never)]
pub fn settle<'a>(
    session: &'a SessionId,
    card: &'a KeyCard,
) -> Boxed<'a, Result<PaymentRecord, StoreError>> {
    Box::pin(settle_once(session, card))
}

async fn settle_once(session: &SessionId, card: &KeyCard) -> Result<PaymentRecord, StoreError> {
    let mut record = store::get(session).await?.ok_or(StoreError::NotFound)?;
    if record.state.is_final() {
        return Ok(record);
    }
    if record.payment.is_bill() {
        return settle_bill(&record, card).await;
    }
    if record.state.needs_status() {
        record = store::update(&settle_unknown(&record, card).await).await?;
        if record.state != State::Deferred {
            return Ok(record);
        }
    }
    let sending = store::mark_sending(session, now_ms()).await?;
    if sending.state.is_final() {
        return Ok(sending);
    }
    store::update(&send_payment(&sending, card).await).await
}

/// What became of payments sent in one batch ([`settle_batch`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Batched {
    /// The gateway takes no batches, or refused this one whole before deciding any payment in
    /// it: the payments are stored as they were, to be sent one by one.
    NotServed,
    /// Each payment as stored after its answer (or after the batch's failure), in order; one
    /// found final already is as it was.
    Sent(Vec<PaymentRecord>),
}

/// Sends the signed pays of `records` (deferred or held payments, oldest first) in one batch and
/// stores each as its own answer leaves it — read and judged exactly as the answer to its single
/// pay ([`read_reply`], [`after_pay`]). Each is marked as sending first, as [`settle`] marks a
/// single one; a batch with no clear answer leaves them all unknown (settled by status next),
/// one the phone never sent (offline) leaves them deferred. Takes no lock (see [`settle`]).
pub async fn settle_batch(
    records: &[PaymentRecord],
    card: &KeyCard,
) -> Result<Batched, StoreError> {
    // One transaction marks the whole batch as being sent and one stores all of its answers,
    // not one each per payment: interrupted between the two, every payment of the batch is
    // found sending by the next pass and settled by its status, as a single pay would be.
    let sessions: Vec<&SessionId> = records.iter().map(PaymentRecord::session).collect();
    let mut settled = Vec::new();
    let mut sending = Vec::new();
    for (record, marked) in records
        .iter()
        .zip(store::mark_sending_all(&sessions, now_ms()).await?)
    {
        if marked.state == State::Sending {
            sending.push((record, marked));
        } else {
            settled.push(marked);
        }
    }
    let items: Vec<(&str, &str, &str)> = sending
        .iter()
        .map(|(_, marked)| {
            let pay = &marked.payment.pay;
            (
                pay.signer.as_str(),
                pay.body.as_str(),
                pay.signature.as_str(),
            )
        })
        .collect();
    if items.is_empty() {
        return Ok(Batched::Sent(settled));
    }
    let replies = match transport::post_batch(&items).await {
        Ok(replies) => replies,
        Err(BatchError::NotServed) => {
            // Nothing was decided: back to how they were, to go one by one.
            let before: Vec<PaymentRecord> = sending
                .iter()
                .map(|(before, _)| (*before).clone())
                .collect();
            store::update_all(&before).await?;
            return Ok(Batched::NotServed);
        }
        Err(BatchError::Failed(error)) => sending.iter().map(|_| Err(error.clone())).collect(),
    };
    let answered: Vec<PaymentRecord> = sending
        .iter()
        .zip(replies)
        .map(|((_, marked), sent)| {
            let (reply, now) = read_reply_now(PAY, sent, card, marked.session());
            after_pay(marked, reply, now)
        })
        .collect();
    settled.extend(store::update_all(&answered).await?);
    Ok(Batched::Sent(settled))
}

/// Asks the gateway about a bill that is not final — its pre-signed `status` while it awaits the
/// card, its pre-signed `cancel` once the cashier cancelled it — and stores what the answer says
/// ([`after_bill`]). Both requests were signed with the bill and may go any number of times (a
/// read, and a cancel the gateway recognises by session), so no key is unlocked, nothing is
/// signed here, and no lock is needed: the store keeps a final state, and keeps a cancel
/// against an older answer. Returns the record as stored.
pub async fn settle_bill(
    record: &PaymentRecord,
    card: &KeyCard,
) -> Result<PaymentRecord, StoreError> {
    let Some(bill) = record.payment.bill.as_ref() else {
        return Ok(record.clone());
    };
    if record.state.is_final() {
        return Ok(record.clone());
    }
    let (step, request) = match record.state {
        State::Cancelling => (CANCEL, &bill.cancel),
        _ => (STATUS, &record.payment.status),
    };
    let sent = send(step, request, Delivery::Repeatable).await;
    let (reply, now) = read_reply_now(step, sent, card, record.session());
    store::update(&after_bill(record, reply, now)).await
}

/// One pass over the due payments of the outbox, oldest first, settling each with [`settle`].
/// Stops at the first that got no answer because the phone is offline: the rest would not get
/// one either. Returns the payments as they were left. Takes no lock (see [`settle`]).
pub async fn replay_due(card: &KeyCard) -> Result<Vec<PaymentRecord>, StoreError> {
    let mut settled = Vec::new();
    for record in store::due(now_ms()).await? {
        let record = settle(record.session(), card).await?;
        let offline = record.last_failure == Some(crate::record::Failure::Offline);
        settled.push(record);
        if offline {
            break;
        }
    }
    Ok(settled)
}
