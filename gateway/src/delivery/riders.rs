//! The delivery worker's writes that ride along with the payment groups: the claims of due
//! jobs and the outcomes of attempts (delivered, or back in line after a temporary answer or
//! none), each written with whatever else waits at that moment, in one write transaction and
//! one commit.
//!
//! Why: on SQLite every write transaction takes the database's one write lock, in turn with the
//! payment writer's groups ([`crate::payments::group`]) and every other delivery write. With
//! deliveries running alongside payments, a claim of its own (one per 16 jobs) and a commit per
//! delivered payment were most of the lock's time (issue 14): a payment group waited 2.5 ms
//! for its turn, behind a claim that held the lock 1.1 ms and the hand-overs around it, for the
//! 2.3 ms it held the lock itself.
//!
//! So on SQLite they ride along: the payment writer that shares these [`Riders`] (the gateway's
//! own, see [`super::DeliveryQueue`]) writes those waiting in its group's transaction
//! ([`Riders::take_riding`], [`Riding::write_in`]), before its one commit. The riders' own
//! writer takes what is waiting only once it holds the write lock, so under load, when a
//! payment group has just had the lock, it usually finds nothing left and gives its turn back
//! at once; when no payments come, it writes them itself without delay.
//!
//! Each caller still waits for its write to be committed. A claim is answered with the jobs it
//! took once they are durably its own; an outcome lets its job go once it is recorded. A crash
//! loses nothing but the claim, which runs out and the job is sent again (with the same
//! provider transaction number: the provider answers with its first outcome). The claim and
//! the delivered outcome ride because every payment has them; a temporary answer rides too,
//! because a provider in an outage gives one to every attempt — each in a transaction of its
//! own, those took SQLite's write lock from the payments and halved the payments decided a
//! second for every provider (issue 14); and so does a job put back because its provider has
//! no usable connection, as every job of a provider does until it is connected (no attempt is
//! kept for it). A final refusal (a reversal, with its refund) is rare and keeps its own
//! transaction. On PostgreSQL, whose writers lock rows rather than the database, a claim is one
//! statement of its own ([`deliveries::claim_all`], retried on a deadlock between gateways), and
//! the riders' own writer writes the outcomes waiting in one statement, with no transaction
//! around it.

use std::sync::{
    Arc, Mutex, OnceLock,
    atomic::{AtomicUsize, Ordering},
};

use sqlx::{Any, AnyConnection, AnyPool, pool::PoolConnection};
use tokio::sync::{Notify, oneshot};

use crate::db::{
    Turn, WriteTx,
    batch::{Batch, Slot},
    deliveries::{self, Attempt, Claimed, Due, OutcomeMark},
    has_one_writer,
    lists::ROWS_PER_STATEMENT,
    retry::{self, Conflict},
    take_turn,
};

/// The savepoint of the writes riding in another writer's transaction.
const SAVEPOINT: &str = "riders";

/// The most outcomes written in one transaction.
const GROUP_LIMIT: usize = 256;

/// How long the riders' own writer waits before writing again after a transient conflict
/// (PostgreSQL's serialization failure or deadlock).
const CONFLICT_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// A delivered attempt to record.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub transaction_id: String,
    pub attempt: Attempt,
    /// The provider's own number. A pay's acceptance always names one (the provider client
    /// takes none without it, `tolem_providers::client`): the deliveries table refuses a
    /// delivered row without it, and a failed write would take the other outcomes riding in
    /// it down too.
    pub provider_txn: Option<String>,
    pub comment: Option<String>,
    pub at_ms: i64,
}

/// A temporary answer, or none, to record: the job is due again at `next_ms`, to be asked with
/// the same number.
#[derive(Debug, Clone)]
pub struct Later {
    pub transaction_id: String,
    /// The exchange with the provider; none when it could not even be tried (the provider has
    /// no usable connection).
    pub attempt: Option<Attempt>,
    /// The number of the claim it comes from ([`Claimed::attempt`]): written only while that
    /// claim is still the delivery's latest — one that ran out and was claimed again since is
    /// in flight with another worker, and must not be put back in line under it (see
    /// [`deliveries::mark_all_into`]).
    pub claim: i64,
    /// The provider's temporary result code (none: it could not be reached).
    pub result_code: Option<i64>,
    pub comment: Option<String>,
    pub next_ms: i64,
    pub at_ms: i64,
}

/// An attempt's outcome to record.
#[derive(Debug, Clone)]
pub enum Outcome {
    Delivered(Delivered),
    Later(Later),
}

impl Outcome {
    /// Its mark, as [`deliveries::mark_all_into`] writes it.
    fn mark(&self) -> OutcomeMark<'_> {
        match self {
            Outcome::Delivered(delivered) => OutcomeMark {
                transaction_id: &delivered.transaction_id,
                attempt: Some(&delivered.attempt),
                outcome: deliveries::Outcome::Delivered {
                    provider_txn: delivered.provider_txn.as_deref(),
                },
                comment: delivered.comment.as_deref(),
                at_ms: delivered.at_ms,
            },
            Outcome::Later(later) => OutcomeMark {
                transaction_id: &later.transaction_id,
                attempt: later.attempt.as_ref(),
                outcome: deliveries::Outcome::Retrying {
                    result_code: later.result_code,
                    next_ms: later.next_ms,
                    claim: later.claim,
                },
                comment: later.comment.as_deref(),
                at_ms: later.at_ms,
            },
        }
    }
}

/// Why a claim or an outcome was not recorded: the write it rode in failed as a whole.
#[derive(Debug, Clone, thiserror::Error)]
#[error("delivery writes not recorded: {0}")]
pub struct NotRecorded(Arc<String>);

/// A claim of due jobs, as [`deliveries::claim_all`] takes them.
struct Claim {
    due: Vec<Due>,
    now_ms: i64,
    lease_until_ms: i64,
}

type Reply<T> = oneshot::Sender<Result<T, NotRecorded>>;

/// What waits for the next write, oldest first.
#[derive(Default)]
struct Waiting {
    claims: Vec<(Claim, Reply<Vec<Claimed>>)>,
    outcomes: Vec<(Outcome, Reply<bool>)>,
}

impl Waiting {
    fn is_empty(&self) -> bool {
        self.claims.is_empty() && self.outcomes.is_empty()
    }
}

/// The delivery worker's claims and outcomes waiting to be written, shared by the
/// worker and the payment writer that takes them along; their own writer's task starts with
/// the first.
#[derive(Default)]
pub struct Riders {
    waiting: Mutex<Waiting>,
    arrived: Notify,
    writer: OnceLock<()>,
    /// Payments submitted to the payment writer that shares these riders and not decided yet:
    /// while there are any, a group is on its way that takes the waiting writes along.
    payments_coming: AtomicUsize,
    /// Notified when the last payment coming is gone ([`Self::payments_gone`]).
    gone: Notify,
}

impl Riders {
    /// Claims the jobs of `due` on `pool` that are still due at `now_ms`, until
    /// `lease_until_ms`, as [`deliveries::claim_all`] does: on SQLite in the next write that
    /// goes (a payment group's, or the riders' own).
    pub async fn claim(
        self: &Arc<Self>,
        pool: &AnyPool,
        due: &[Due],
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Vec<Claimed>, ClaimError> {
        if !has_one_writer(pool) {
            return Ok(deliveries::claim_all(pool, due, now_ms, lease_until_ms).await?);
        }
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let claim = Claim {
            due: due.to_vec(),
            now_ms,
            lease_until_ms,
        };
        Ok(self
            .ride(pool, |waiting, reply| waiting.claims.push((claim, reply)))
            .await?)
    }

    /// Records `outcome` on `pool` in the next write; `true` when it marked the delivery now
    /// (`false`: it had finished before, by hand or by another worker — or, for a [`Later`],
    /// its claim ran out and the delivery was claimed again since; its attempt is kept).
    pub async fn record(
        self: &Arc<Self>,
        pool: &AnyPool,
        outcome: Outcome,
    ) -> Result<bool, NotRecorded> {
        self.ride(pool, |waiting, reply| {
            waiting.outcomes.push((outcome, reply))
        })
        .await
    }

    /// The payment writer that takes these riders along got `payments` more to decide.
    pub fn payments_coming(&self, payments: usize) {
        self.payments_coming.fetch_add(payments, Ordering::AcqRel);
    }

    /// `payments` of those coming are gone: decided in a group (committed or not), or never
    /// handed to the payment writer. When none is left, the riders' own writer looks again
    /// whether it must write what waits itself.
    pub fn payments_gone(&self, payments: usize) {
        if self.payments_coming.fetch_sub(payments, Ordering::AcqRel) == payments {
            self.gone.notify_one();
        }
    }

    /// Whether a payment group is on its way that will take what waits along.
    fn group_coming(&self) -> bool {
        self.payments_coming.load(Ordering::Acquire) > 0
    }

    /// Puts a write in line (`put` adds it with its reply) and waits for its answer.
    async fn ride<T>(
        self: &Arc<Self>,
        pool: &AnyPool,
        put: impl FnOnce(&mut Waiting, Reply<T>),
    ) -> Result<T, NotRecorded> {
        self.writer.get_or_init(|| {
            tokio::spawn(write(pool.clone(), self.clone()));
        });
        let (reply, answer) = oneshot::channel();
        put(&mut self.lock(), reply);
        self.arrived.notify_one();
        answer
            .await
            .map_err(|_| NotRecorded(Arc::new("the delivery writer stopped".to_owned())))?
    }

    /// Writes what is waiting now (every claim, up to [`GROUP_LIMIT`] outcomes) in the
    /// caller's write transaction ([`Riding::write_in`]).
    pub async fn write_waiting_in(&self, tx: &mut AnyConnection) -> Result<Riding, sqlx::Error> {
        let mut riding = self.take_riding();
        riding.write_in(tx, None).await?;
        Ok(riding)
    }

    /// What is waiting now (every claim, up to [`GROUP_LIMIT`] outcomes), taken for the
    /// caller's write transaction: write it there with [`Riding::write_in`].
    pub fn take_riding(&self) -> Riding {
        Riding::unrecorded(self.take())
    }

    /// What is waiting, oldest first: every claim (a handful, each of at most a worker's
    /// parallel jobs), up to [`GROUP_LIMIT`] outcomes; the rest stays (and its writer is woken
    /// for it).
    fn take(&self) -> Waiting {
        let mut waiting = self.lock();
        let cut = waiting.outcomes.len().min(GROUP_LIMIT);
        let rest = waiting.outcomes.split_off(cut);
        let taken = Waiting {
            claims: std::mem::take(&mut waiting.claims),
            outcomes: std::mem::replace(&mut waiting.outcomes, rest),
        };
        if !waiting.is_empty() {
            self.arrived.notify_one();
        }
        taken
    }

    /// Puts writes back at the head of the line, for the next writer.
    fn put_back(&self, mut taken: Waiting) {
        let mut waiting = self.lock();
        taken.claims.append(&mut waiting.claims);
        taken.outcomes.append(&mut waiting.outcomes);
        *waiting = taken;
        self.arrived.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        // A panic while holding it left plain lists behind: nothing half-done to distrust.
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why a claim failed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    NotRecorded(#[from] NotRecorded),
}

/// What each taken write answers once committed: the jobs each claim took, and whether each
/// outcome marked its delivery.
struct Written {
    claimed: Vec<Vec<Claimed>>,
    marked: Vec<bool>,
}

/// Writes written in another writer's transaction, waiting for its commit.
#[must_use = "answer the writes' callers once the transaction has committed"]
#[derive(Default)]
pub struct Riding {
    taken: Waiting,
    written: Option<Written>,
}

impl Riding {
    /// Writes that no transaction carries (yet): dropped, it tells their callers so.
    fn unrecorded(taken: Waiting) -> Self {
        Riding {
            taken,
            written: None,
        }
    }

    /// Whether nothing was taken: [`Self::write_in`] would write nothing.
    pub fn is_empty(&self) -> bool {
        self.taken.is_empty()
    }

    /// Writes what was taken in the caller's write transaction, inside a savepoint of its own:
    /// if it cannot be written, the caller's own writes stand (a payment group never fails for
    /// a delivery's sake) and its callers hear it was not recorded. Those written are answered
    /// by [`Self::committed`] once the caller has committed, or told they were not recorded if
    /// it never does (dropped). With `begin`, the transaction itself begins in the writes'
    /// first trip ([`crate::db::InlineTx`]). `Err` only when the savepoint (or the begin)
    /// failed: the transaction is unusable.
    pub async fn write_in(
        &mut self,
        tx: &mut AnyConnection,
        begin: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        if self.taken.is_empty() {
            return Ok(());
        }
        // The savepoint is begun in the writes' first trip, and released by the caller's
        // commit: two trips fewer than sqlx's nested transaction, inside the write lock.
        match write_all_in(tx, &self.taken, begin, Some(SAVEPOINT)).await {
            Ok(written) => self.written = Some(written),
            Err(error) => {
                sqlx::query(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"))
                    .execute(&mut *tx)
                    .await?;
                tracing::error!(claims = self.taken.claims.len(),
                    outcomes = self.taken.outcomes.len(), %error,
                    "delivery writes not recorded with the payment group");
                // Told so now, not at the caller's commit.
                drop(std::mem::take(self));
            }
        }
        Ok(())
    }

    /// The transaction committed: each caller hears what its write did.
    pub fn committed(mut self) {
        let Some(written) = self.written.take() else {
            return; // Nothing was written: dropping tells the callers.
        };
        let taken = std::mem::take(&mut self.taken);
        for ((_, reply), claimed) in taken.claims.into_iter().zip(written.claimed) {
            let _ = reply.send(Ok(claimed));
        }
        for ((_, reply), marked) in taken.outcomes.into_iter().zip(written.marked) {
            let _ = reply.send(Ok(marked));
        }
    }
}

impl Drop for Riding {
    /// Not committed: nothing of them is stored, and their callers hear so (a claimed job is
    /// claimed again at its next round; a delivered one goes out again with the same number
    /// once its claim runs out, as after any failed write).
    fn drop(&mut self) {
        let error = NotRecorded(Arc::new(
            "the transaction that carried them did not commit".to_owned(),
        ));
        for (_, reply) in self.taken.claims.drain(..) {
            let _ = reply.send(Err(error.clone()));
        }
        for (_, reply) in self.taken.outcomes.drain(..) {
            let _ = reply.send(Err(error.clone()));
        }
    }
}

/// The riders' own writer: at each arrival, takes its turn at the write lock, then writes
/// what is still waiting in one transaction, and answers — until the gateway stops. While
/// payments wait for the payment writer it stands back: their group takes everything along
/// (measured under the gateway benchmark, the payment writer otherwise waited 2.5–3 ms a group
/// for its turn, behind this writer's own transaction and fsync, issue 14). When the turn
/// comes and a payment group has taken everything along meanwhile, the turn is given back
/// before any transaction begins (an empty transaction, begun and rolled back, cost two
/// statements in the lock's time after nearly every group).
///
/// It never leaves a caller waiting on a write that will not come: when it cannot begin, or
/// meets a concurrent transaction [`retry::ATTEMPTS`] times in a row, it tells the writes
/// waiting then that they were not recorded. (Before, a failed begin left them for "the next
/// arrival", which after the last delivery of a burst never came, and a conflict that did not
/// clear was tried again without end.)
async fn write(pool: AnyPool, riders: Arc<Riders>) {
    let mut conflicts = 0;
    loop {
        riders.arrived.notified().await;
        while riders.group_coming() && !riders.lock().is_empty() {
            riders.gone.notified().await;
        }
        if riders.lock().is_empty() {
            // A payment group took them along already: no turn needed.
            continue;
        }
        let begun = match take_turn(&pool).await {
            Ok(turn) if riders.lock().is_empty() => {
                drop(turn);
                continue;
            }
            Ok(turn) => Target::begin(turn, &pool).await,
            Err(error) => Err(error),
        };
        let mut target = match begun {
            Ok(target) => target,
            Err(error) => {
                let taken = riders.take();
                tracing::error!(claims = taken.claims.len(), outcomes = taken.outcomes.len(),
                    %error, "delivery writes not recorded: nowhere to write them");
                drop(Riding::unrecorded(taken));
                continue;
            }
        };
        // Not empty: only a write in this turn could have taken them since the check.
        let taken = riders.take();
        let written = async {
            let written = write_all_in(&mut target, &taken, None, None).await?;
            target.commit().await?;
            Ok::<_, sqlx::Error>(written)
        }
        .await;
        match written {
            Ok(written) => {
                conflicts = 0;
                Riding {
                    taken,
                    written: Some(written),
                }
                .committed();
            }
            // Recorded whatever another transaction holds: written again in the next turn.
            Err(error) if error.is_transient_conflict() && conflicts + 1 < retry::ATTEMPTS => {
                conflicts += 1;
                tracing::info!(%error, conflicts,
                    "delivery writes met a concurrent transaction; again");
                // A moment for the other transaction to end, as `db::retry` waits.
                tokio::time::sleep(CONFLICT_WAIT).await;
                riders.put_back(taken);
            }
            Err(error) => {
                conflicts = 0;
                tracing::error!(claims = taken.claims.len(), outcomes = taken.outcomes.len(),
                    %error, "delivery writes not recorded");
                drop(Riding::unrecorded(taken));
            }
        }
    }
}

/// Where the riders' own writer writes what it took.
enum Target {
    /// SQLite: a write transaction in the writer's turn at the write lock.
    Transaction(WriteTx),
    /// PostgreSQL: a connection, and no transaction around the one statement that writes the
    /// outcomes — a statement is all or nothing by itself, and beginning and committing a
    /// transaction around it cost two round trips more per batch of outcomes (issue 14).
    /// Only outcomes ride there (a claim is its own statement, [`Riders::claim`]), at most
    /// [`GROUP_LIMIT`] of them, which [`deliveries::mark_all_into`] writes in one.
    Alone(PoolConnection<Any>),
}

// The outcomes a PostgreSQL writer takes fit in one statement.
const _: () = assert!(GROUP_LIMIT <= ROWS_PER_STATEMENT);

impl Target {
    /// Where to write in `turn` on `pool`.
    async fn begin(turn: Turn, pool: &AnyPool) -> Result<Target, sqlx::Error> {
        if turn.is_the_one_writer() {
            Ok(Target::Transaction(turn.begin().await?))
        } else {
            drop(turn);
            Ok(Target::Alone(pool.acquire().await?))
        }
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Target::Transaction(tx) => tx.commit().await,
            Target::Alone(_) => Ok(()),
        }
    }
}

impl std::ops::Deref for Target {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            Target::Transaction(tx) => tx,
            Target::Alone(conn) => conn,
        }
    }
}

impl std::ops::DerefMut for Target {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Target::Transaction(tx) => tx,
            Target::Alone(conn) => conn,
        }
    }
}

/// The claims, then each outcome's attempt and its delivered mark, in the caller's
/// transaction (after `begin` and beginning `savepoint`, if given; on PostgreSQL, outcomes
/// alone, perhaps on a connection with no transaction: see [`Target::Alone`]); what each did.
/// One batch for the claims' first step and all the outcomes, then one more trip per claim
/// that took jobs (their numbers and what sending them needs).
async fn write_all_in(
    tx: &mut AnyConnection,
    taken: &Waiting,
    begin: Option<&str>,
    savepoint: Option<&str>,
) -> Result<Written, sqlx::Error> {
    let marks: Vec<OutcomeMark<'_>> = taken
        .outcomes
        .iter()
        .map(|(outcome, _)| outcome.mark())
        .collect();
    let mut batch = Batch::new(tx);
    if let Some(begin) = begin {
        batch.push(begin.to_owned());
    }
    if let Some(name) = savepoint {
        batch.push(format!("SAVEPOINT {name}"));
    }
    let claim_slots: Vec<Slot> = taken
        .claims
        .iter()
        .map(|(claim, _)| {
            deliveries::claim_into(&mut batch, &claim.due, claim.now_ms, claim.lease_until_ms)
        })
        .collect();
    let mark_slots = deliveries::mark_all_into(&mut batch, &marks);
    let mut done = if batch.is_empty() {
        Vec::new()
    } else {
        batch.run(&mut *tx).await?
    };
    let marked = deliveries::marked_found(&mut done, &mark_slots, &marks)?;
    let mut claimed = Vec::with_capacity(taken.claims.len());
    for ((claim, _), slot) in taken.claims.iter().zip(claim_slots) {
        let first_step = slot.take(&mut done);
        claimed.push(deliveries::take_claimed_in(&mut *tx, &claim.due, first_step).await?);
    }
    Ok(Written { claimed, marked })
}
