//! Group commit of cash payments: one writer decides every payment waiting at that moment in
//! **one** write transaction and pays for **one** commit (one fsync), instead of one
//! transaction and one commit per payment.
//!
//! ## How a payment goes through
//! 1. In the caller's task, in parallel with every other request: the signature was verified
//!    and the sender's rows checked by the signed-request extractor before the caller got the
//!    [`Sender`]. The payment is submitted at once ([`GroupWriter::pay`]), with no statement
//!    of its own: the writer reads what its decision needs for the whole group.
//!    The payments of one batch are submitted together ([`GroupWriter::pay_all`]): they are
//!    decided in the same group, in the batch's order, one commit for all of them.
//! 2. The writer task takes everything waiting (up to [`GROUP_LIMIT`]), opens one write
//!    transaction and decides the payments in order with [`decide_all_in`]: the group's
//!    figures (the providers of its payments among them) are read once under the lock, each
//!    payment is screened and decided on them in memory, and what was decided is written in a
//!    handful of statements; they go in three batches, each one hand-off to SQLite's thread
//!    ([`super::group_state`]). A payment that is not decided (a replay, a session taken, a
//!    sender refused) writes nothing and takes no transaction number, so the numbers stay
//!    consecutive. On SQLite, the claims and delivered outcomes the delivery worker has
//!    waiting then are written in the same transaction, first ([`crate::delivery::riders`]:
//!    one commit for all, where each took a turn at the one write lock of its own). Then it
//!    commits once and answers each caller.
//!    On SQLite the writer keeps its connection while payments keep coming, and the
//!    transaction begins in its first batch and commits in its last ([`crate::db::InlineTx`]);
//!    on PostgreSQL it decides on a connection of its own ([`OwnConnection`]), begun and
//!    committed in trips of their own, its writes in one statement ([`crate::db::batch`]).
//!    Each committed group's size and the time of its steps go to `/metrics`
//!    ([`GroupMetrics`]): the writer never resting is a SQLite gateway at its limit.
//! 3. Back in the caller's task: the answer is signed by the answer-signing layer, again in
//!    parallel across tokio's workers — the writer only decides.
//!
//! ## Why the results are those of one-at-a-time decisions
//! Each payment is judged by the same rules ([`super::judge`]) on the figures it would have
//! read alone, right after the payments before it were committed: [`super::group_state`] says
//! how each figure is kept current. Payments are decided in arrival order per dealer; the
//! group is stably sorted by dealer first, which changes nothing a rule can see (no rule
//! reaches across dealers) and makes every gateway on one PostgreSQL lock the dealers' rows in
//! the same order, so two groups do not deadlock each other.
//!
//! ## When something fails
//! * A payment that cannot be decided on its own (its dealer or point row is gone): that
//!   caller gets the error (999), the others are decided as if it had never come.
//! * A database error, in any statement of the group: the group fails as a whole (on
//!   PostgreSQL the error has aborted the transaction anyway) and every caller gets 999 —
//!   nothing stored, and each phone settles by `status`: never a false "accepted". That
//!   includes a unique violation of a session (another gateway decided it first): the phone's
//!   `status` finds the stored outcome. Only a payment decided alone ([`super::pay::pay`]) reads
//!   it back at once ([`settle_race`]).
//! * An error that aborts the whole transaction — PostgreSQL's serialization failure or
//!   deadlock (40001, 40P01) — re-runs the whole group ([`retry`]); the idempotency look-up in
//!   each decision makes that safe.
//! * A dealer's row held by another transaction (PostgreSQL: a console session or `psql` left
//!   in a transaction, a top-up stuck on its way) would hold up every dealer's payments, since
//!   one writer decides them all. So a group waits for a dealer's row only
//!   [`HeldDealers::wait`] (the transaction's `lock_timeout`); then it runs again at once,
//!   skipping the rows still held ([`WhenHeld::PutAside`]): the other dealers' payments are
//!   decided, the held dealers' are put aside and tried again in each later group (which skips
//!   held rows as long as any payment waits aside), the writer pausing a moment when they are
//!   all it has. One put aside for [`HeldDealers::patience`] is answered 999, stored nowhere:
//!   its phone keeps it and sends it again. Put aside or not, a dealer's payments are decided
//!   in their arrival order, and no rule reaches across dealers.
//! * A caller that gives up (a phone that hangs up) cuts nothing: once submitted, the payment
//!   belongs to the writer, which decides it and drops the answer nobody waits for.
//!
//! Card settlement ([`crate::card`]) still decides its payment alone, in the transaction that
//! marks the bill paid.

use std::{
    sync::{
        Arc, Mutex, OnceLock, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::{Any, AnyConnection, AnyPool, pool::PoolConnection};
use tokio::sync::{mpsc, oneshot};
use tolem_protocol::messages::{Payment, Step};

use super::{
    content_hash,
    pay::{Candidate, Funding, Paid, PayError, WhenHeld, decide_all_in, settle_race},
};
use crate::{
    db::{
        Ends, Turn, begin_waiting, has_one_writer,
        retry::{Attempts, Conflict},
        take_turn,
    },
    delivery::riders::{Riders, Riding},
    metrics::{GroupMetrics, GroupSteps},
    sender::Sender,
};

/// The most payments decided in one transaction: enough to spread a commit over hundreds of
/// payments, few enough that a group holds the write lock for milliseconds, not seconds.
pub const GROUP_LIMIT: usize = 256;

/// How many submissions (a payment, or the payments of one batch) may wait for the writer; a
/// caller past that waits to submit.
const QUEUE_LIMIT: usize = 4 * GROUP_LIMIT;

/// The writer of cash payments: submit with [`Self::pay`]. Cheap to share (one per gateway
/// process, behind an `Arc`); its task starts with the first payment, on the runtime that
/// serves it.
pub struct GroupWriter {
    pool: AnyPool,
    /// The delivery worker's claims and outcomes waiting to be written, which each group takes
    /// along on SQLite (`None` on PostgreSQL, whose writers do not wait for one another).
    riders: Option<Arc<Riders>>,
    /// Each message is one submission: its payments, in order, never split across groups.
    queue: OnceLock<mpsc::Sender<Vec<Job>>>,
    /// What the writer's task tells and is told.
    shared: Arc<Shared>,
    /// Where each committed group's size and steps' times go (`/metrics`).
    metrics: GroupMetrics,
}

/// What a [`GroupWriter`] and its task share.
#[derive(Default)]
struct Shared {
    /// How many payments the group being decided holds (0 between groups).
    deciding: AtomicUsize,
    /// How many groups the writer has taken since it started.
    groups: AtomicU64,
    /// Read by the writer as each group begins.
    held_dealers: Mutex<HeldDealers>,
}

impl Shared {
    /// The held-dealer settings (a panic elsewhere while they were set left them whole: they
    /// are one copy).
    fn held_dealers(&self) -> std::sync::MutexGuard<'_, HeldDealers> {
        self.held_dealers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// How long PostgreSQL's writer waits for a dealer's row another transaction holds (see the
/// module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldDealers {
    /// How long a group waits for a held row before it decides the other dealers' payments
    /// without that dealer's: every payment of the gateway waits that long, once.
    pub wait: Duration,
    /// How long a payment put aside waits for its dealer's row to be let go before it is
    /// answered 999.
    pub patience: Duration,
}

impl Default for HeldDealers {
    /// A console's top-up or another gateway's group holds a dealer's row for milliseconds;
    /// a payment waits at most about twice this, well inside the phone's 20 s.
    fn default() -> Self {
        HeldDealers {
            wait: Duration::from_secs(2),
            patience: Duration::from_secs(2),
        }
    }
}

/// A payment waiting for the writer, and where its answer goes.
struct Job {
    sender: Arc<Sender>,
    payment: Payment,
    hash: String,
    now_ms: i64,
    answer: oneshot::Sender<Result<Paid, PayError>>,
    /// Since when it waits aside, its dealer's row held (see the module docs).
    aside_since: Option<Instant>,
    /// Counts the payment among those coming to the writer until the job is dropped.
    _coming: Coming,
}

impl Job {
    fn candidate(&self) -> Candidate<'_> {
        Candidate {
            sender: &self.sender,
            payment: &self.payment,
            hash: self.hash.clone(),
        }
    }
}

impl GroupWriter {
    /// A writer of payments on `pool` that, on SQLite, also writes the delivery claims and
    /// outcomes waiting in `riders` in each group's transaction ([`crate::delivery::riders`]),
    /// and observes every group it commits into `metrics`.
    pub fn new(pool: AnyPool, riders: Arc<Riders>, metrics: GroupMetrics) -> Self {
        Self {
            // Measured on PostgreSQL (gateway benchmark, alternating runs): deliveries kept up
            // without it, and payments/s were a little lower with it.
            riders: has_one_writer(&pool).then_some(riders),
            pool,
            queue: OnceLock::new(),
            shared: Arc::default(),
            metrics,
        }
    }

    /// How long the writer waits for a dealer's row held by another transaction
    /// (PostgreSQL; see the module docs). Takes effect from the next group.
    pub fn wait_for_held_dealers(&self, held: HeldDealers) {
        *self.shared.held_dealers() = held;
    }

    /// How long the writer waits for a held dealer's row: a card settlement, which decides a
    /// payment of its own, waits as long ([`crate::card::settle`]).
    pub fn held_dealers(&self) -> HeldDealers {
        *self.shared.held_dealers()
    }

    /// How many submissions (a payment, or all the payments of one batch) wait for the next
    /// group.
    pub fn waiting(&self) -> usize {
        self.queue
            .get()
            .map_or(0, |queue| queue.max_capacity() - queue.capacity())
    }

    /// How many payments the group being decided now holds (0: the writer is idle).
    pub fn deciding(&self) -> usize {
        self.shared.deciding.load(Ordering::Acquire)
    }

    /// How many groups the writer has taken since it started (a group is counted as it is
    /// taken, before any of its callers is answered).
    pub fn groups(&self) -> u64 {
        self.shared.groups.load(Ordering::Acquire)
    }

    /// How many payments wait aside for their dealers' rows, held by another transaction
    /// (see the module docs).
    pub fn aside(&self) -> usize {
        self.metrics.aside()
    }

    /// Decides the payment of an authorised `pay` request received at `now_ms`, in the next
    /// group. The caller has already refused a creation time in the future (910).
    pub async fn pay(&self, sender: Arc<Sender>, now_ms: i64) -> Result<Paid, PayError> {
        let mut outcomes = self.pay_all(vec![(sender, now_ms)]).await;
        outcomes.pop().unwrap_or(Err(PayError::NoOutcome))
    }

    /// Decides the payments of authorised `pay` requests (each with its received time), all
    /// in the same group and in the order given — as if each had been submitted alone right
    /// after the one before it, but without waiting for its answer: the payments of one batch
    /// share one commit. One outcome per payment, in order. The caller has already refused a
    /// creation time in the future (910).
    pub async fn pay_all(&self, payments: Vec<(Arc<Sender>, i64)>) -> Vec<Result<Paid, PayError>> {
        let mut waits = Vec::with_capacity(payments.len());
        let mut jobs = Vec::with_capacity(payments.len());
        for (sender, now_ms) in payments {
            match job(sender.clone(), now_ms, self.riders.clone()) {
                Ok((job, answered)) => {
                    let hash = job.hash.clone();
                    jobs.push(job);
                    waits.push((sender, Ok((hash, answered))));
                }
                Err(error) => waits.push((sender, Err(error))),
            }
        }
        let submitted = jobs.is_empty() || self.queue().send(jobs).await.is_ok();
        let mut outcomes = Vec::with_capacity(waits.len());
        for (sender, wait) in waits {
            let outcome = match wait {
                Err(error) => Err(error),
                Ok(_) if !submitted => Err(PayError::WriterGone),
                Ok((hash, answered)) => match answered.await {
                    Ok(decided) => settle_race(&self.pool, &sender, &hash, decided).await,
                    Err(_) => Err(PayError::WriterGone),
                },
            };
            outcomes.push(outcome);
        }
        outcomes
    }

    /// The writer's queue, its task started on first use.
    fn queue(&self) -> &mpsc::Sender<Vec<Job>> {
        self.queue.get_or_init(|| {
            let (queue, waiting) = mpsc::channel(QUEUE_LIMIT);
            let writing = write(
                self.pool.clone(),
                self.riders.clone(),
                waiting,
                self.shared.clone(),
                self.metrics.clone(),
            );
            on_a_thread_of_its_own(writing);
            queue
        })
    }
}

/// A payment on its way to the writer, as the riders' own writer sees it
/// ([`Riders::payments_coming`]), from its job's making until the job is dropped: answered
/// after its group, or never handed to the writer (its queue gone, or the caller giving up
/// while it waits for room in the queue) — so the deliveries' writes never wait for a group
/// that will not come.
struct Coming(Option<Arc<Riders>>);

impl Coming {
    fn new(riders: Option<Arc<Riders>>) -> Self {
        if let Some(riders) = &riders {
            riders.payments_coming(1);
        }
        Coming(riders)
    }
}

impl Drop for Coming {
    fn drop(&mut self) {
        if let Some(riders) = &self.0 {
            riders.payments_gone(1);
        }
    }
}

/// Runs the writer on a thread of its own, with a runtime of its own.
///
/// Each statement of a group is a trip to SQLite's thread (or PostgreSQL's server) and back,
/// and on the way back the writer's task waits to be polled. On the gateway's runtime it waits
/// in line behind the requests being verified and signed, and every trip pays that wait,
/// inside the write lock. On a thread of its own it is the only task, and runs as soon as its
/// statement is done: measured under the gateway benchmark with the test command running
/// beside it, deciding took 1.1 ms a group against 2.0–2.3 ms, the riding deliveries 1.0 ms
/// against 2.4–2.9 ms (issue 14). PostgreSQL's answers come over a socket, which wakes the
/// runtime that opened it: so the writer opens its own connection there ([`OwnConnection`]).
fn on_a_thread_of_its_own(writing: impl Future<Output = ()> + Send + 'static) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "the payment writer shares the gateway's runtime");
            tokio::spawn(writing);
            return;
        }
    };
    let started = std::thread::Builder::new()
        .name("payment-writer".into())
        .spawn(move || runtime.block_on(writing));
    if let Err(error) = started {
        // Only when the system is out of threads; every payment is then answered 999.
        tracing::error!(%error, "the payment writer's thread did not start");
    }
}

/// The job of one payment received at `now_ms`, and where its answer will come; counted as
/// coming in `riders` while it lives.
fn job(
    sender: Arc<Sender>,
    now_ms: i64,
    riders: Option<Arc<Riders>>,
) -> Result<(Job, oneshot::Receiver<Result<Paid, PayError>>), PayError> {
    let Step::Pay(payment) = &sender.request.step else {
        return Err(PayError::NotAPayment(sender.request.step.name()));
    };
    let (payment, hash) = (payment.clone(), content_hash(payment));
    let (answer, answered) = oneshot::channel();
    let job = Job {
        sender,
        payment,
        hash,
        now_ms,
        answer,
        aside_since: None,
        _coming: Coming::new(riders),
    };
    Ok((job, answered))
}

/// The writer task: takes what is waiting, decides it as one group, answers, again — until
/// every handle to the queue is gone. A submission is never split: one that would take the
/// group past [`GROUP_LIMIT`] starts the next group (one larger than the limit is a group of
/// its own). Payments put aside, their dealers' rows held, lead the next group.
async fn write(
    pool: AnyPool,
    riders: Option<Arc<Riders>>,
    mut waiting: mpsc::Receiver<Vec<Job>>,
    shared: Arc<Shared>,
    metrics: GroupMetrics,
) {
    let mut carried: Option<Vec<Job>> = None;
    let mut aside: Vec<Job> = Vec::new();
    let mut pause = FIRST_PAUSE;
    // On SQLite the writer keeps one connection from group to group while payments keep coming,
    // where it borrowed one from the pool for each: no turn at the pool, no ping of the
    // connection on its way back (one more trip to SQLite's thread), and SQLite's page cache
    // and sqlx's prepared statements on that connection stay those of the payment groups
    // (issue 14). On PostgreSQL it keeps a connection of its own ([`OwnConnection`]).
    let pooled = has_one_writer(&pool);
    let mut kept: Option<Kept> = None;
    loop {
        let held = *shared.held_dealers();
        let mut jobs = answer_overdue(std::mem::take(&mut aside), held.patience);
        // What waits aside now leads this group (the gauge is set here only, for every way a
        // group ends).
        metrics.set_aside(jobs.len());
        let next = match carried.take() {
            Some(more) => Some(more),
            None if jobs.is_empty() => match next_submission(&mut waiting, &mut kept).await {
                Some(more) => Some(more),
                None => break,
            },
            // Only payments put aside: a moment for their dealers' rows to be let go, or for
            // more payments to come, then they are tried again — the moment growing while the
            // rows stay held.
            None => {
                let more = pause_for(&mut waiting, pause).await;
                pause = (pause * 2).min(LONGEST_PAUSE);
                more
            }
        };
        jobs.extend(next.into_iter().flatten());
        while jobs.len() < GROUP_LIMIT {
            let Ok(more) = waiting.try_recv() else { break };
            if jobs.len() + more.len() > GROUP_LIMIT {
                carried = Some(more);
                break;
            }
            jobs.extend(more);
        }
        if jobs.is_empty() {
            continue;
        }
        shared.groups.fetch_add(1, Ordering::AcqRel);
        let count = jobs.len();
        shared.deciding.store(count, Ordering::Release);
        let conn = match kept.take() {
            Some(conn) => conn,
            None if pooled => match pool.acquire().await {
                Ok(conn) => Kept::Pooled(conn),
                Err(error) => {
                    shared.deciding.store(0, Ordering::Release);
                    fail_all(jobs, PayError::Database(error));
                    continue;
                }
            },
            None => Kept::Own(OwnConnection::new(&pool)),
        };
        // In a task of its own so that a panic fails this group's callers (their answers are
        // dropped: 999) and not every payment after it.
        let answered = tokio::spawn(decide_and_answer(
            pool.clone(),
            riders.clone(),
            metrics.clone(),
            jobs,
            conn,
            held.wait,
        ))
        .await;
        match answered {
            Ok((back, put_aside)) => (kept, aside) = (back, put_aside),
            Err(error) => tracing::error!(%error, "a group of payments was not decided"),
        }
        if aside.is_empty() {
            pause = FIRST_PAUSE;
        }
        if carried.is_none() && waiting.is_empty() && matches!(kept, Some(Kept::Pooled(_))) {
            // Nothing waits: the connection goes back, so that closing the pool (the gateway's
            // shutdown) never waits for a writer with nothing to do.
            kept = None;
        }
        shared.deciding.store(0, Ordering::Release);
    }
    if let Some(Kept::Own(own)) = kept {
        own.close().await;
    }
}

/// The writer's first pause with only payments put aside (see the module docs), and its
/// longest: another gateway's group holds a dealer's row for a few milliseconds, a stuck
/// session for as long as it stays.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
const LONGEST_PAUSE: Duration = Duration::from_millis(64);

/// The next submission if one comes within `pause`.
async fn pause_for(waiting: &mut mpsc::Receiver<Vec<Job>>, pause: Duration) -> Option<Vec<Job>> {
    match tokio::time::timeout(pause, waiting.recv()).await {
        Ok(Some(more)) => Some(more),
        // The queue is closed (the gateway is stopping): the payments put aside are left.
        Ok(None) => {
            tokio::time::sleep(pause).await;
            None
        }
        Err(_) => None,
    }
}

/// Answers the payments of `aside` that waited `patience` for their dealers' rows with 999
/// (nothing of them is stored; the caller logs it), and returns the others. The payments of
/// one submission share a dealer and the moment they were put aside, so they stay together.
fn answer_overdue(aside: Vec<Job>, patience: Duration) -> Vec<Job> {
    let (overdue, patient): (Vec<Job>, Vec<Job>) = aside.into_iter().partition(|job| {
        job.aside_since
            .is_some_and(|since| since.elapsed() >= patience)
    });
    for job in overdue {
        let dealer = job.sender.point.dealer_code.clone();
        let _ = job.answer.send(Err(PayError::DealerHeld(dealer)));
    }
    patient
}

/// The connection the writer keeps from group to group.
enum Kept {
    /// SQLite's: one of the pool, given back when nothing waits.
    Pooled(PoolConnection<Any>),
    /// PostgreSQL's.
    Own(OwnConnection),
}

/// How long PostgreSQL's writer keeps its own connection with nothing to write.
const OWN_IDLE: Duration = Duration::from_secs(30);

/// How long PostgreSQL's writer's connection may rest before it is pinged ahead of a group, as
/// the pool pings a connection it lends: a connection the server dropped meanwhile is opened
/// again instead of failing the group on it.
const PING_AFTER: Duration = Duration::from_secs(1);

/// The next submission, or `None` once every handle to the queue is gone. PostgreSQL's
/// writer closes its own connection after [`OWN_IDLE`] with nothing to write.
async fn next_submission(
    waiting: &mut mpsc::Receiver<Vec<Job>>,
    kept: &mut Option<Kept>,
) -> Option<Vec<Job>> {
    if matches!(kept, Some(Kept::Own(_))) {
        match tokio::time::timeout(OWN_IDLE, waiting.recv()).await {
            Ok(next) => return next,
            Err(_) => {
                if let Some(Kept::Own(own)) = kept.take() {
                    own.close().await;
                }
            }
        }
    }
    waiting.recv().await
}

/// PostgreSQL's payment writer's own connection, opened on the writer's thread when a group
/// needs it (with the pool's options), kept from group to group.
///
/// ## Why not one of the pool
/// A connection's socket wakes the runtime that opened it. The pool opens its connections on
/// the gateway's runtime, where the writer's every trip to the server waited to be polled
/// behind the requests being verified and signed — with the group's dealers locked — and each
/// group paid a turn at the pool and a ping besides. Measured under the gateway benchmark
/// (issue 14, N 4 000, alternating runs): 2 226, 2 475 and 2 260 payments/s on a connection
/// of its own against 1 325, 1 389 and 1 261 on the pool's; a group's turn 0.27–0.35 ms
/// against 1.59–1.68, its decisions 3.9–5.0 ms against 8.9–10.1.
struct OwnConnection {
    options: Arc<sqlx::any::AnyConnectOptions>,
    conn: Option<AnyConnection>,
    used: Instant,
}

impl OwnConnection {
    fn new(pool: &AnyPool) -> Self {
        OwnConnection {
            options: pool.connect_options(),
            conn: None,
            used: Instant::now(),
        }
    }

    /// The connection, opened if it is not, and pinged first if it rested longer than
    /// [`PING_AFTER`].
    async fn ready(&mut self) -> Result<&mut AnyConnection, sqlx::Error> {
        use sqlx::{ConnectOptions, Connection};

        if self.used.elapsed() > PING_AFTER
            && let Some(conn) = self.conn.as_mut()
            && conn.ping().await.is_err()
        {
            self.conn = None;
        }
        self.used = Instant::now();
        match &mut self.conn {
            Some(conn) => Ok(conn),
            empty => Ok(empty.insert(self.options.connect().await?)),
        }
    }

    /// Says goodbye to the server.
    async fn close(self) {
        use sqlx::Connection;

        if let Some(conn) = self.conn
            && let Err(error) = conn.close().await
        {
            tracing::debug!(%error, "the payment writer's connection did not close cleanly");
        }
    }
}

/// Decides `jobs` as one group on the writer's connection, and answers each caller. Gives the
/// connection back unless the group failed (it may be broken, or left in its transaction:
/// then it is closed, see [`crate::db::InlineTx`], and the next group opens or borrows
/// another), with the payments put aside, their dealers' rows held. On PostgreSQL the group
/// waits `held_wait` for a held dealer's row, or none while payments wait aside already.
async fn decide_and_answer(
    pool: AnyPool,
    riders: Option<Arc<Riders>>,
    metrics: GroupMetrics,
    mut jobs: Vec<Job>,
    mut kept: Kept,
    held_wait: Duration,
) -> (Option<Kept>, Vec<Job>) {
    // Stable: arrival order within each dealer is kept (see the module docs).
    jobs.sort_by(|a, b| a.sender.point.dealer_code.cmp(&b.sender.point.dealer_code));
    let decided = {
        let candidates: Vec<(Candidate<'_>, i64)> = jobs
            .iter()
            .map(|job| (job.candidate(), job.now_ms))
            .collect();
        let candidates = &candidates;
        let (pool, riders) = (&pool, riders.as_deref());
        let held = if jobs.iter().any(|job| job.aside_since.is_some()) {
            WhenHeld::PutAside
        } else {
            WhenHeld::Wait
        };
        match &mut kept {
            // No SQLite error is a conflict to retry.
            Kept::Pooled(conn) => decide_together(pool, Some(conn), candidates, riders).await,
            Kept::Own(own) => decide_on_own(own, candidates, held, held_wait).await,
        }
    };
    let count = jobs.len();
    tracing::debug!(payments = count, "group of payments decided");
    match decided {
        Ok((outcomes, steps)) => {
            let mut aside = Vec::new();
            for (mut job, outcome) in jobs.into_iter().zip(outcomes) {
                match outcome {
                    // Tried again in the next group.
                    Err(PayError::DealerHeld(_)) => {
                        job.aside_since.get_or_insert_with(Instant::now);
                        aside.push(job);
                    }
                    // A caller that hung up no longer listens: its payment is decided all the
                    // same.
                    outcome => drop(job.answer.send(outcome)),
                }
            }
            let decided = count - aside.len();
            if decided > 0 {
                metrics.observe(decided, &steps);
            }
            (Some(kept), aside)
        }
        Err(error) => {
            fail_all(jobs, error);
            (None, Vec::new())
        }
    }
}

/// Answers every caller of a group that failed as a whole with `error`: nothing of it is
/// stored.
fn fail_all(jobs: Vec<Job>, error: PayError) {
    tracing::error!(payments = jobs.len(), %error, "group of payments not committed");
    let error = Arc::new(error);
    for job in jobs {
        let _ = job.answer.send(Err(PayError::Group(error.clone())));
    }
}

/// Decides `payments` (each with its received time) in order in one write transaction
/// ([`decide_all_in`]), on `kept` if given (else a connection of the pool), and commits once.
/// `Err` is an error of the group as a whole (begin, a statement, the commit, or a conflict
/// that aborted the transaction): nothing of it is stored. `Ok` holds one outcome per payment,
/// in order, and the time each step took.
pub(super) async fn decide_together(
    pool: &AnyPool,
    kept: Option<&mut PoolConnection<Any>>,
    payments: &[(Candidate<'_>, i64)],
    riders: Option<&Riders>,
) -> Result<(Vec<Result<Paid, PayError>>, GroupSteps), PayError> {
    let mut watch = Stopwatch::start();
    let turn = take_turn(pool).await?;
    let inline = match kept {
        Some(conn) => turn.inline_on(conn),
        None => Err(turn),
    };
    let mut tx = match inline {
        Ok(tx) => tx,
        Err(turn) => return decide_in_own_transaction(turn, watch, payments, riders).await,
    };
    let turn = watch.next();
    // The delivery writes waiting now ride in the same commit ([`crate::delivery::riders`]).
    // They come first, because the payments' last batch ends the transaction; they do not
    // depend on the payments' decisions (a claim takes jobs committed before).
    let mut riding = riders.map(Riders::take_riding).unwrap_or_default();
    let mut ends = tx.ends();
    if !riding.is_empty() {
        riding.write_in(&mut tx, ends.begin.take()).await?;
    }
    let riders = watch.next();
    let outcomes = decide_all_in(&mut tx, payments, Funding::Balance, ends, WhenHeld::Wait).await?;
    tx.committed();
    let decide = watch.next();
    riding.committed();
    let steps = GroupSteps {
        turn,
        decide,
        riders,
        commit: Duration::ZERO,
    };
    Ok((outcomes, steps))
}

/// [`decide_together`] on a connection of the pool, in a transaction begun and committed in
/// trips of their own: PostgreSQL's writer, and a group of one ([`super::pay::pay`]).
async fn decide_in_own_transaction(
    turn: Turn,
    mut watch: Stopwatch,
    payments: &[(Candidate<'_>, i64)],
    riders: Option<&Riders>,
) -> Result<(Vec<Result<Paid, PayError>>, GroupSteps), PayError> {
    let mut tx = turn.begin().await?;
    let turn = watch.next();
    let outcomes = decide_all_in(
        &mut tx,
        payments,
        Funding::Balance,
        Ends::default(),
        WhenHeld::Wait,
    )
    .await?;
    let decide = watch.next();
    // The delivery claims and outcomes waiting now ride in the same commit
    // ([`crate::delivery::riders`]).
    let riding = match riders {
        Some(riders) => riders.write_waiting_in(&mut tx).await?,
        None => Riding::default(),
    };
    let riders = watch.next();
    tx.commit().await?;
    let commit = watch.next();
    riding.committed();
    let steps = GroupSteps {
        turn,
        decide,
        riders,
        commit,
    };
    Ok((outcomes, steps))
}

/// [`decide_together`] on PostgreSQL's writer's own connection, run again on a transient
/// conflict as [`crate::db::retry::retry`] would, and at once skipping the held dealers' rows
/// when one stayed held longer than `wait` (see the module docs).
async fn decide_on_own(
    own: &mut OwnConnection,
    payments: &[(Candidate<'_>, i64)],
    mut held: WhenHeld,
    wait: Duration,
) -> Result<(Vec<Result<Paid, PayError>>, GroupSteps), PayError> {
    let mut attempts = Attempts::new("pay group");
    loop {
        let outcome = decide_once_on_own(own, payments, held, wait).await;
        match &outcome {
            Err(error) if held == WhenHeld::Wait && error.is_lock_timeout() => {
                tracing::warn!(
                    wait_ms = wait.as_millis(),
                    "a dealer's row stayed held by \
                    another transaction: its payments are put aside, the others decided"
                );
                held = WhenHeld::PutAside;
            }
            Err(error) if attempts.may_retry(error) => attempts.wait().await,
            _ => return outcome,
        }
    }
}

async fn decide_once_on_own(
    own: &mut OwnConnection,
    payments: &[(Candidate<'_>, i64)],
    held: WhenHeld,
    wait: Duration,
) -> Result<(Vec<Result<Paid, PayError>>, GroupSteps), PayError> {
    use sqlx::Connection;

    let mut watch = Stopwatch::start();
    // Every lock the group waits for, waited for at most `wait`, set in the trip that begins it.
    let mut tx = own.ready().await?.begin_with(begin_waiting(wait)).await?;
    let turn = watch.next();
    let outcomes =
        decide_all_in(&mut tx, payments, Funding::Balance, Ends::default(), held).await?;
    let decide = watch.next();
    tx.commit().await?;
    let commit = watch.next();
    let steps = GroupSteps {
        turn,
        decide,
        riders: Duration::ZERO,
        commit,
    };
    Ok((outcomes, steps))
}

/// Times consecutive steps.
struct Stopwatch(Instant);

impl Stopwatch {
    fn start() -> Stopwatch {
        Stopwatch(Instant::now())
    }

    /// The time since the previous step ended; the next one starts now.
    fn next(&mut self) -> Duration {
        let now = Instant::now();
        now.duration_since(std::mem::replace(&mut self.0, now))
    }
}
