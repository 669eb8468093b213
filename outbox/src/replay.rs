//! The replay policy: one pass over the outbox under the replay lock, oldest first, stopping
//! when the network fails — the layer Workbox calls `Queue.replayRequests`.
//!
//! - Only one replayer at a time ([`crate::lock`]); a context that finds the lock taken leaves
//!   the work to its holder ([`Wait::IfFree`]), except one that must send now ([`Wait::Queue`]).
//! - Before anything is sent the gateway's health is asked ([`transport::gateway_reachable`]): a
//!   pay that fails to connect may have left the phone and turns the payment *unknown*, so with
//!   the gateway plainly out of reach the payments stay as they are.
//! - Every waiting payment is taken in order of creation, whatever its own schedule: a replay is
//!   started by something that says the network may be back (a sync event, the page coming
//!   online or back into view, a worker waking, the cashier), and the oldest payment is the one
//!   closest to its deadline. The pace of retries is the caller's (the browser's sync backoff, the
//!   page's timer), not a per-payment clock.
//! - Each payment is settled with [`settle::settle`]: an unknown or interrupted one by its
//!   pre-signed status query first (and, when the gateway never got it, the very same signed pay),
//!   a deferred one by its pay. A payment still not final afterwards because the network failed
//!   (nothing reached the gateway) stops the pass, and the failure is reported so the browser
//!   retries (Workbox's lesson). One the gateway reached but gave no decision about (a 5xx, a cut
//!   connection, "no such session" and a 5xx again for its re-sent pay) stays as it is — first
//!   in line for the next pass, with the same signed bytes — and the pass goes on with the ones
//!   after it: stopping there would let one payment the gateway cannot decide hold every payment
//!   behind it until they pass the gateway's maximum request age (909, final, cash in the
//!   drawer). Nothing depends on the payments reaching the gateway in order: each is its own
//!   session, decided on its own (the balance and the duplicate rule 32 judge each as it
//!   arrives, as they judge payments of different points). Only a gateway that throttles the
//!   point (905) stops the pass as well: every further request would be refused the same way.
//!   The report still says [`Stop::NoDecision`] so the caller retries.
//! - Bills (card payments) wait in the same queue, in the same order: each is asked about by its
//!   pre-signed status (or, once cancelled, sent its pre-signed cancel), never paid. A bill the
//!   gateway answered about but the customer has not paid yet waits for the customer, not for the
//!   network, so it does not stop the pass; one that got no answer does.
//! - A payment *held* (the gateway's "not now": key not certified yet, point blocked, clock
//!   ahead) waits for its own time ([`settle::held_wait_ms`]) — until then a pass leaves it,
//!   unless that time lies further ahead than any such wait (a clock that was ahead scheduled
//!   it, and has been set back: [`settle::held_due`]) — and
//!   one held again does not stop the pass: the gateway answered, and the payments after it may
//!   pass (one signed before the phone's clock was corrected, the others after).
//! - Payments deferred while the pass runs are picked up before the lock is let go, so a tab
//!   that found the lock busy loses nothing by leaving the work to its holder.
//! - Consecutive payments that go straight to their pay (deferred, or held and due) go in
//!   batches ([`settle::settle_batch`]) of up to [`MAX_BATCH_ITEMS`] payments and
//!   [`BATCH_BYTES`] bytes, in the same order: on a slow link one request per payment spends
//!   most of its time waiting for round trips. The gateway decides each exactly as its single
//!   pay and answers each on its own, so every rule above holds per payment — and a batch with
//!   no clear answer leaves all of its payments unknown, to be settled by status, one by one.
//!   A gateway that takes no batches (an older one answers 404) gets single pays for the rest
//!   of the pass. Unknown payments and bills are never batched.
//! - Signed letters ([`crate::letters`]) wait in the same outbox and go in the same pass, after
//!   the payments (money first: payments have deadlines); closed shifts' reports
//!   ([`crate::shifts`]) last, the same way. A report held by the gateway's "not now" does not
//!   stop the pass.

use std::collections::HashSet;

use tolem_protocol::batch::{MAX_BATCH_BYTES, MAX_BATCH_ITEMS};
use tolem_protocol::codes::ResultCode;
use tolem_protocol::ids::SessionId;

use crate::boxed::Boxed;
use crate::letters;
use crate::lock::{self, Held, LockError, Wait};
use crate::record::{Failure, PaymentRecord, State};
use crate::settle;
use crate::shifts;
use crate::store::{self, StoreError};
use crate::transport;

/// Why a pass ended with payments still waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The gateway is out of reach: nothing left the phone.
    Offline,
    /// A payment got no decision (no clear answer, a 5xx, a captive portal, "too many
    /// attempts"): it is kept and settled by status on the next pass. The pass went on with
    /// the payments after it (except after "too many attempts").
    NoDecision,
    /// The phone has no key card (the key was deleted): answers cannot be checked.
    NoKeyCard,
    /// The IndexedDB lease ran out under this replayer; another one has taken over.
    LostLock,
}

impl Stop {
    /// A stable word for logs and for the worker's answer to the page.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Offline => "offline",
            Stop::NoDecision => "no-decision",
            Stop::NoKeyCard => "no-key-card",
            Stop::LostLock => "lost-lock",
        }
    }
}

/// What one replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Another context held the lock, so this one did nothing.
    pub busy: bool,
    /// Payments (and letters) this pass brought to a final state (accepted or rejected).
    pub settled: usize,
    /// Payments (and letters) still waiting when it ended.
    pub left: usize,
    /// Why it ended early ([`Stop::Offline`] …), or that a payment got no decision
    /// ([`Stop::NoDecision`], even though the pass went on with the others).
    pub stopped: Option<Stop>,
    /// When the first payment held by the gateway's "not now" is due again (UTC milliseconds,
    /// this phone's clock), if one waits: a page retries no later than that.
    pub next_held_at_ms: Option<i64>,
}

impl Report {
    /// Whether the browser should try again later: payments still wait and nobody else is on
    /// them. (A missing key card is not retried: no retry can fix it.)
    pub fn should_retry(&self) -> bool {
        !self.busy && self.left > 0 && self.stopped != Some(Stop::NoKeyCard)
    }
}

/// Replays the outbox once, under the replay lock: see the module's rules. Boxed here
/// ([`crate::boxed`]): the page and the service worker both await it, and the pass is big.
#[inline(never)]
pub fn replay(wait: Wait) -> Boxed<'static, Result<Report, StoreError>> {
    Box::pin(async move {
        // Nothing waits — the usual start of a page or of the worker, which replay whenever
        // they start: no lock to take, and in the split build no chunk to fetch.
        if store::outbox_len().await? == 0 {
            return Ok(Report::default());
        }
        #[cfg(not(feature = "split"))]
        {
            replay_once(wait).await
        }
        #[cfg(feature = "split")]
        {
            split::replay(wait).await
        }
    })
}

/// The pass as a chunk of the split module (issue 14): only a phone with something waiting
/// needs it, so a first visit does not download it. The page and the service worker both reach
/// it through [`replay`]; the worker takes the chunk from its precache, so it loads offline
/// (xtask/src/split.rs), and a page fetches it through the worker.
#[cfg(feature = "split")]
mod split {
    use wasm_split_helpers::{SplitLoaderError, wasm_split};

    use super::{Boxed, Report, Stop, StoreError, Wait};
    use crate::store;

    /// The chunk could not be fetched: the gateway that serves it is out of reach (the very
    /// first visit, before the worker cached the build, on a lost connection).
    struct NotLoaded;

    impl From<SplitLoaderError> for NotLoaded {
        fn from(_: SplitLoaderError) -> Self {
            NotLoaded
        }
    }

    /// `wait` is boxed: one pointer across the split point.
    #[wasm_split(tolem_replay, fallible)]
    fn replay_chunk(
        wait: Box<Wait>,
    ) -> Result<Boxed<'static, Result<Report, StoreError>>, NotLoaded> {
        Ok(Box::pin(super::replay_once(*wait)))
    }

    /// A replay, or — its code out of reach — a pass that stopped offline before sending
    /// anything, as [`super::replay_once`] reports an unreachable gateway: what waits stays as
    /// it is, and the caller tries again later.
    pub async fn replay(wait: Wait) -> Result<Report, StoreError> {
        match replay_chunk(Box::new(wait)).await {
            Ok(pass) => pass.await,
            Err(NotLoaded) => Ok(Report {
                left: store::outbox_len().await?,
                stopped: Some(Stop::Offline),
                ..Report::default()
            }),
        }
    }
}

async fn replay_once(wait: Wait) -> Result<Report, StoreError> {
    match lock::with_replay_lock(wait, pass).await {
        Ok(report) => report,
        Err(LockError::Busy) => Ok(Report {
            busy: true,
            ..Report::default()
        }),
        Err(LockError::Storage(error)) => Err(error.into()),
    }
}

/// Something that waits in the outbox.
enum Waiting {
    /// A payment, as read when the pass listed what waits: enough to see whether it can go in
    /// a batch; what is sent is read again in the transaction that marks it as being sent.
    Payment(Box<PaymentRecord>),
    Letter(SessionId),
    Shift(SessionId),
}

impl Waiting {
    fn session(&self) -> &SessionId {
        match self {
            Waiting::Payment(record) => record.session(),
            Waiting::Letter(session) | Waiting::Shift(session) => session,
        }
    }
}

/// What waits now, payments first (money, and deadlines), each kind oldest first; a held
/// payment only once its time has come.
async fn waiting_now() -> Result<Vec<Waiting>, StoreError> {
    let now = js_sys::Date::now() as i64;
    let mut all: Vec<Waiting> = store::waiting()
        .await?
        .into_iter()
        .filter(|record| !record.state.is_final())
        .filter(|record| settle::held_due(record, now))
        .map(|record| Waiting::Payment(Box::new(record)))
        .collect();
    all.extend(
        letters::waiting()
            .await?
            .into_iter()
            .map(|record| Waiting::Letter(record.session)),
    );
    all.extend(
        shifts::waiting()
            .await?
            .into_iter()
            .map(|record| Waiting::Shift(record.session)),
    );
    Ok(all)
}

/// The bytes a batch may fill, below the gateway's limit with room for the envelope.
pub const BATCH_BYTES: usize = MAX_BATCH_BYTES - 1024;

/// The payments at the head of `items` that go together in one batch: consecutive payments
/// whose next step is their pay (not final, not a bill, not awaiting a status), up to
/// [`MAX_BATCH_ITEMS`] and [`BATCH_BYTES`], oldest first. Judged from the records as the pass
/// listed them, without reading each again: under the lock nobody else sends them, and the
/// transaction that marks them as being sent reads each anew (one settled meanwhile is not sent).
fn batch_run(items: &[Waiting]) -> Vec<PaymentRecord> {
    let mut run = Vec::new();
    let mut bytes = 0;
    for item in items.iter().take(MAX_BATCH_ITEMS) {
        let Waiting::Payment(record) = item else {
            break;
        };
        let state = record.state;
        if state.is_final() || state.needs_status() || record.payment.is_bill() {
            break;
        }
        // The item as it travels: the body as a JSON string (quotes and backslashes escaped),
        // the key serial, the signature and the field names.
        let pay = &record.payment.pay;
        let escaped = pay
            .body
            .bytes()
            .filter(|b| matches!(b, b'"' | b'\\'))
            .count();
        bytes += pay.body.len() + escaped + pay.signer.len() + pay.signature.len() + 48;
        if bytes > BATCH_BYTES {
            break;
        }
        run.push(record.as_ref().clone());
    }
    run
}

/// Notes in `report` that an item is still undecided after its turn — the payment `record`,
/// or a letter or bill (`None`: no payment's answer to read) — (`failure`: why the last
/// request about it got no answer) and says whether that ends the pass:
/// - the network failed ([`Failure::Offline`]: nothing reached the gateway) — the payments
///   after it would fail the same way: the pass ends ([`Stop::Offline`]);
/// - the gateway throttles the sender (905 "too many attempts", a refusal of the point, not
///   of this payment, with its own `retry_after_s`): each further request would only be
///   refused again and prolong the block — the pass ends ([`Stop::NoDecision`]);
/// - otherwise (a 5xx, a cut connection, "no such session" then a 5xx again for its re-sent
///   pay, a bill still waiting for an answer): this payment waits for the next pass, as it
///   is (the same signed bytes, settled by status first), and the pass goes on with the next
///   ones, oldest first — one payment the gateway cannot decide must not hold every payment
///   behind it until they are past the gateway's maximum request age (909, final, with the
///   cash in the drawer). The report still says [`Stop::NoDecision`], so the caller retries
///   and the page rechecks the connection.
fn note_undecided(
    report: &mut Report,
    failure: Option<Failure>,
    record: Option<&PaymentRecord>,
) -> bool {
    if failure == Some(Failure::Offline) {
        report.stopped = Some(Stop::Offline);
        return true;
    }
    report.stopped.get_or_insert(Stop::NoDecision);
    // Throttled: the gateway's signed answer to the last request was 905.
    failure.is_none()
        && record
            .and_then(|record| record.last_answer.as_ref())
            .is_some_and(|answer| answer.code == ResultCode::TooManyAttempts)
}

/// One pass, the lock held.
pub async fn pass(held: Held) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let mut tried: HashSet<String> = HashSet::new();
    let mut probed = false;
    // Until the gateway shows it takes no batches: then single pays for the rest of the pass.
    let mut batches = true;
    'passes: loop {
        if !probed {
            // The cheap checks first: with nothing waiting, or the gateway out of reach (the
            // usual case while payments wait), no record is read.
            if store::outbox_len().await? == 0 {
                break;
            }
            if store::key_card().await?.is_none() {
                report.stopped = Some(Stop::NoKeyCard);
                break;
            }
            if !transport::gateway_reachable().await {
                report.stopped = Some(Stop::Offline);
                break;
            }
            probed = true;
        }
        let next: Vec<Waiting> = waiting_now()
            .await?
            .into_iter()
            .filter(|item| !tried.contains(item.session().as_str()))
            .collect();
        if next.is_empty() {
            break;
        }
        let Some(card) = store::key_card().await? else {
            report.stopped = Some(Stop::NoKeyCard);
            break;
        };
        let mut at = 0;
        while at < next.len() {
            if !held.keep().await {
                report.stopped = Some(Stop::LostLock);
                break 'passes;
            }
            let run = if batches {
                batch_run(&next[at..])
            } else {
                Vec::new()
            };
            if run.len() > 1 {
                match settle::settle_batch(&run, &card).await? {
                    settle::Batched::NotServed => batches = false,
                    settle::Batched::Sent(records) => {
                        at += run.len();
                        let mut ends = false;
                        for record in records {
                            tried.insert(record.session().to_string());
                            if record.state.is_final() {
                                report.settled += 1;
                            } else if !matches!(record.state, State::Held(_)) {
                                // As alone: a payment with no decision is noted and the pass
                                // goes on; only a failing network (or a throttled point) ends
                                // it. The others' answers are kept all the same.
                                ends |=
                                    note_undecided(&mut report, record.last_failure, Some(&record));
                            }
                        }
                        if ends {
                            break 'passes;
                        }
                        continue;
                    }
                }
            }
            let item = &next[at];
            at += 1;
            let mut payment = None;
            let (state, failure) = match item {
                Waiting::Payment(record) => {
                    let session = record.session();
                    tried.insert(session.to_string());
                    let after = settle::settle(session, &card).await?;
                    let done = (after.state, after.last_failure);
                    payment = Some(after);
                    done
                }
                Waiting::Letter(session) => {
                    tried.insert(session.to_string());
                    let after = letters::settle(session, &card).await?;
                    (after.state, after.last_failure)
                }
                Waiting::Shift(session) => {
                    tried.insert(session.to_string());
                    let after = shifts::settle(session, &card).await?;
                    (after.state, after.last_failure)
                }
            };
            if state.is_final() {
                report.settled += 1;
                continue;
            }
            if matches!(state, State::Held(_)) {
                // The gateway said "not now" to this one; it goes again at its own time.
                continue;
            }
            if state.is_bill_waiting() && failure.is_none() {
                // The gateway answered: the bill waits for the customer, not for the network.
                continue;
            }
            // A letter or a report: the same rule, without a payment's answer to read.
            if note_undecided(&mut report, failure, payment.as_ref()) {
                break 'passes;
            }
        }
    }
    report.left = store::outbox_len().await?;
    if report.left > 0 {
        // Never later than the longest wait a held payment is given: one scheduled further
        // ahead (by a clock that was ahead) is due by now ([`settle::held_due`]).
        let now = js_sys::Date::now() as i64;
        report.next_held_at_ms = store::waiting()
            .await?
            .iter()
            .filter(|record| matches!(record.state, State::Held(_)))
            .map(|record| {
                record
                    .next_attempt_at_ms
                    .min(now + settle::MAX_HELD_WAIT_MS)
            })
            .min();
    }
    Ok(report)
}
