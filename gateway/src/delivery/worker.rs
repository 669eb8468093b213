//! The delivery worker: sends every due delivery to its provider and records what came back.
//!
//! * **When.** At once when a payment is accepted ([`DeliveryQueue::wake`]), when the earliest
//!   retry falls due, and at least every [`RetryPolicy::idle_poll`] (which also picks up jobs
//!   another gateway on the same database queued).
//! * **Once at a time.** A due job is first *claimed* ([`deliveries::claim_all`]): marked `sent`
//!   with its due time moved to the claim's expiry, only if it is still due (a job another
//!   worker claimed meanwhile has that worker's expiry as its due time).
//!   Two workers never send it at the same time; a worker that dies mid-attempt (SIGKILL)
//!   leaves the claim to expire and the job is sent again then — with the same provider
//!   transaction number, which the provider answers with its first outcome.
//! * **Many at once, as they fall due.** Up to [`RetryPolicy::parallel`] jobs are in flight
//!   together, at most a provider's places of them to one provider (what its connection sets,
//!   its contract's figure, else [`RetryPolicy::per_provider`]), so one slow or hanging
//!   provider does not hold the others back. A job is claimed and sent as soon as there
//!   is room for it, not when a whole batch before it is answered: a provider answers after
//!   its network's round trip, and the worker's pace is what is in flight divided by that time
//!   (16 in flight, waiting for each batch, delivered 133 a second to a provider 100 ms away
//!   while the gateway accepted 5 600, issue 14). When a read leaves jobs of providers at
//!   their cap, the next reads past them: the due jobs of the providers with room only
//!   ([`deliveries::due_of`]), however many of the others' wait ahead — a provider that does
//!   not answer holds up no other.
//! * **A place is the provider's exchange.** A job holds its provider's place until the
//!   provider answered (or the exchange failed), not while the outcome is recorded: what a
//!   contract limits is the requests at the provider at once.
//! * **Temporary vs final.** What the provider protocol calls temporary (OSMP 1 and 90), and
//!   every failure to get an answer (timeout, connection cut, HTTP error, an unreadable
//!   answer), is asked again after a backoff; a final refusal reverses the payment
//!   ([`super::reversal`]). There is no last attempt: the money is on its way or back.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use sqlx::AnyPool;
use tokio::{sync::mpsc, task::JoinSet, time::Instant};
use tolem_providers::adapter::{Answer, Exchange, PayOrder, ProviderAdapter, TransportError};

use super::{
    DeliveryQueue,
    connections::Adapters,
    reversal::{self, Refusal},
    riders::{ClaimError, Delivered, Later, NotRecorded, Outcome, Riders},
};
use crate::{
    card::earn,
    db::{
        connections,
        deliveries::{self, Attempt, Claimed, Due},
        now_ms,
    },
    jobs::millis,
};

/// How long to pause after the database failed before trying again.
const DATABASE_PAUSE: Duration = Duration::from_secs(5);
/// The longest answer text kept per attempt.
const ANSWER_MAX_CHARS: usize = 2_000;
/// At most this many due jobs are read at a time.
const BATCH: usize = 100;
/// The most jobs claimed in one statement.
const CLAIM_MAX: usize = 64;
/// How many answers free room enough to read the due jobs again: one read per answer would
/// claim one job a statement.
const REFILL: usize = 16;
/// How soon after a read an accepted payment has the worker read again while jobs are in
/// flight: at most so often, however many payments come (each wakes the worker).
const WAKE_READ_EVERY: Duration = Duration::from_millis(20);
/// How long before the first job a read found due the next read begins ([`Floor`]): a
/// payment's delivery is due from the moment the gateway received it, and is committed with
/// its payment milliseconds later (tens under load). Every read steps over the entries of the
/// jobs taken within it: under the gateway benchmark (3 600 deliveries a second, issue 14) a
/// read of a dozen jobs cost the database server 110 µs with 2 s, 60 µs with 250 ms.
const FLOOR_MARGIN_MS: i64 = 250;
/// How often a read begins at the start instead of the floor, for a job that fell below it.
const FROM_START_EVERY: Duration = Duration::from_secs(1);

/// When deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first temporary failure; it doubles with each further one.
    pub first_delay: Duration,
    /// The longest wait between attempts.
    pub max_delay: Duration,
    /// How long an attempt holds a job before another worker may take it; at least twice the
    /// longest provider timeout (see [`super::connections::TIMEOUT_RANGE_MS`]).
    pub lease: Duration,
    /// How long the worker sleeps at most when nothing is due.
    pub idle_poll: Duration,
    /// How many jobs may be in flight at once, to all providers.
    pub parallel: usize,
    /// How many jobs may be in flight at once to a provider whose connection does not say
    /// (its `in_flight_max`, the operator's).
    pub per_provider: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(10 * 60),
            lease: Duration::from_secs(5 * 60),
            idle_poll: Duration::from_secs(30),
            parallel: 256,
            per_provider: 32,
        }
    }
}

impl RetryPolicy {
    /// A provider's places in flight when its connection does not say: [`Self::per_provider`],
    /// at least one and at most all the places there are. The console shows it beside the
    /// connection's field.
    pub fn places_default(&self) -> usize {
        self.per_provider.clamp(1, self.parallel.max(1))
    }

    /// The wait after `failures` failed attempts (1 = the first): `first_delay · 2^(n-1)`, at
    /// most `max_delay`.
    pub fn delay_after(&self, failures: i64) -> Duration {
        crate::jobs::backoff(self.first_delay, self.max_delay, failures)
    }

    /// How long an attempt may wait for its provider: four fifths of the claim, the rest
    /// left for recording the outcome. Past its claim another worker (of this gateway or
    /// another) may send the same payment again, so an attempt never outlives it, whatever
    /// the connection's own timeout — a lease set shorter than a provider's timeout cuts that
    /// provider's attempts short (asked again later with the same number) instead of sending
    /// the payment twice at once.
    pub fn attempt_bound(&self) -> Duration {
        self.lease - self.lease / 5
    }
}

/// The delivery task's parts.
#[derive(Clone)]
pub struct Worker {
    pub pool: AnyPool,
    pub queue: Arc<DeliveryQueue>,
    pub adapters: Arc<Adapters>,
    pub retry: RetryPolicy,
    /// The writer of claims and delivered outcomes, in groups.
    pub riders: Arc<Riders>,
}

impl Worker {
    /// A worker on `pool` woken by `queue`, with the default policy; its claims and delivered
    /// outcomes wait in the queue's list, for the payment writer that shares it to take along.
    pub fn new(pool: AnyPool, queue: Arc<DeliveryQueue>) -> Worker {
        Worker {
            pool,
            riders: queue.riders.clone(),
            queue,
            adapters: Arc::new(Adapters::default()),
            retry: RetryPolicy::default(),
        }
    }

    /// Starts the task on the runtime; it stops when the pool is closed at shutdown.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        // Before the task runs: the console may show it at once.
        self.queue.set_places_default(self.retry.places_default());
        tokio::spawn(async move {
            tracing::info!("provider delivery started");
            // Kept from one round to the next: a round begins at the floor the last one left,
            // and with the providers' places as read at most a second before.
            let mut floor = Floor::default();
            let mut flight = Flight::new(&self.retry);
            loop {
                if self.pool.is_closed() {
                    break;
                }
                let pause = match self.run_once(&mut flight, &mut floor).await {
                    Ok(next_due) => next_due
                        .map_or(self.retry.idle_poll, |due| {
                            let ms = due.saturating_sub(now_ms()).max(0);
                            Duration::from_millis(u64::try_from(ms).unwrap_or(0))
                        })
                        .min(self.retry.idle_poll),
                    Err(error) => {
                        if self.pool.is_closed() {
                            break;
                        }
                        tracing::error!(%error,
                            "provider delivery could not read or claim its queue");
                        DATABASE_PAUSE
                    }
                };
                tokio::select! {
                    () = self.queue.woken() => {}
                    () = tokio::time::sleep(pause) => {}
                }
            }
        })
    }

    /// Sends everything due now and whatever falls due or comes meanwhile, each job as soon as
    /// there is room for it (up to [`RetryPolicy::parallel`] in flight, at most a provider's
    /// places to one provider); returns once nothing is in flight and nothing more was due,
    /// with when the next unfinished job at or above the `floor` its reads began at falls due
    /// (one below it is due already, and found by the next read from the start).
    async fn run_once(
        &self,
        flight: &mut Flight,
        floor: &mut Floor,
    ) -> Result<Option<i64>, ClaimError> {
        let sent = self.send_due(flight, floor).await;
        // The attempts in flight are answered and recorded even when reading or claiming
        // failed: dropped, they would wait for their claims to run out before going again.
        while let Some(ended) = flight.running.join_next_with_id().await {
            flight.ended(ended);
        }
        sent?;
        Ok(deliveries::next_due_at(&self.pool, floor.from_ms.unwrap_or(i64::MIN)).await?)
    }

    /// [`Self::run_once`]'s reading, claiming and sending, until nothing is in flight and
    /// nothing more was due; what is in flight when it fails stays in `flight`.
    async fn send_due(&self, flight: &mut Flight, floor: &mut Floor) -> Result<(), ClaimError> {
        // Whether a read may find due jobs not in flight: at the start, after a job was left
        // for want of room, and when a payment was accepted.
        let mut more_due = true;
        let mut last_read: Option<Instant> = None;
        // A payment was accepted since the last read.
        let mut woken = false;
        // The last read took every job it read, and there may be more with room for them.
        let mut read_again = false;
        // The last read left jobs of providers at their cap and did not reach the end of the
        // line: the next reads past them, the due jobs of the providers with room only
        // ([`deliveries::due_of`]). However many of a silent provider's jobs wait ahead, the
        // others' are found (reading the line oldest first, 100 at a time, found none once
        // more than that of one provider's were due ahead of them).
        let mut past_capped = false;
        // A read past the capped found nothing to start: until a payment comes or the poll,
        // only providers at their cap have jobs due, and reading again after every answer
        // would cost more than the deliveries themselves.
        let mut past_capped_in_vain = false;
        loop {
            let wake_read_at = last_read.map(|at| at + WAKE_READ_EVERY);
            let read_now = more_due
                && (flight.is_empty()
                    || read_again
                    || past_capped
                    || flight.refill_due()
                    || (woken && wake_read_at.is_none_or(|at| Instant::now() >= at)));
            if read_now {
                if woken {
                    past_capped_in_vain = false;
                }
                woken = false;
                last_read = Some(Instant::now());
                flight.places.refresh(&self.pool).await?;
                let limit = flight.read_size();
                let from = floor.begins_at(Instant::now());
                let from_ms = from.unwrap_or(i64::MIN);
                let now = now_ms();
                let due = if past_capped {
                    // Not moving the floor: the capped providers' jobs below it wait for
                    // their places.
                    let with_room = flight.with_room();
                    if with_room.is_empty() {
                        Vec::new()
                    } else {
                        deliveries::due_of(&self.pool, &with_room, from_ms, now, limit as i64)
                            .await?
                    }
                } else {
                    let due = deliveries::due(&self.pool, from_ms, now, limit as i64).await?;
                    floor.read(from.is_none(), now, due.first().map(|job| job.due_at_ms));
                    due
                };
                let (picked, left) = flight.pick(due.iter());
                let full = due.len() == limit;
                if past_capped {
                    // The capped providers' jobs the read before left are due still.
                    more_due = true;
                    read_again = false;
                    past_capped_in_vain = picked.is_empty();
                    // More of the others' may be due (those of a provider that reached its
                    // cap in this read are left out of the next).
                    past_capped = full && !past_capped_in_vain && flight.room() > 0;
                } else {
                    more_due = left || full;
                    read_again = full && !left && flight.room() > 0;
                    past_capped = full && left && !past_capped_in_vain && flight.room() > 0;
                }
                self.start(&picked, flight).await?;
                if read_again || past_capped {
                    // Before the next answer: the room is there now.
                    continue;
                }
            }
            if flight.is_empty() {
                if !more_due {
                    break;
                }
                // Nothing in flight and more may be due: read again at once.
                continue;
            }
            // Read for the payment accepted lately once the pause after the last read is over.
            let pause_over = woken.then_some(wake_read_at).flatten();
            tokio::select! {
                Some(ended) = flight.running.join_next_with_id() => flight.ended(ended),
                Some(id) = flight.answers.recv() => flight.provider_answered(id),
                () = self.queue.woken() => {
                    more_due = true;
                    woken = true;
                }
                () = tokio::time::sleep_until(pause_over.unwrap_or_else(Instant::now)),
                    if pause_over.is_some() => {}
                // Retries fall due meanwhile too, and jobs another gateway queued: looked for
                // as when idle, while a provider keeps its answers.
                () = tokio::time::sleep_until(
                    last_read.unwrap_or_else(Instant::now) + self.retry.idle_poll
                ) => {
                    more_due = true;
                    woken = true;
                }
            }
        }
        Ok(())
    }

    /// Claims `picked` (counted in `flight` already) and sends each job claimed; a job not
    /// claimed (another worker took it) leaves the count.
    async fn start(&self, picked: &[Due], flight: &mut Flight) -> Result<(), ClaimError> {
        for (n, chunk) in picked.chunks(CLAIM_MAX).enumerate() {
            let now = now_ms();
            let lease_until = now.saturating_add(millis(self.retry.lease));
            let answer_by = Instant::now() + self.retry.attempt_bound();
            // On SQLite in the next payment group's commit, if one is on its way.
            let claimed = match self.riders.claim(&self.pool, chunk, now, lease_until).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    // This chunk's places and those of the chunks after it: none of them will
                    // be claimed now. (The flight outlives the round: a place kept here would
                    // be lost until the gateway restarts.)
                    for job in &picked[n * CLAIM_MAX..] {
                        flight.release(&job.provider);
                    }
                    return Err(error);
                }
            };
            let taken: HashSet<&str> = claimed
                .iter()
                .map(|job| job.transaction_id.as_str())
                .collect();
            for job in chunk {
                if !taken.contains(job.transaction_id.as_str()) {
                    flight.release(&job.provider);
                }
            }
            if claimed.is_empty() {
                continue;
            }
            let mut providers: Vec<&str> =
                claimed.iter().map(|job| job.provider.as_str()).collect();
            providers.sort_unstable();
            providers.dedup();
            // The batch's connections in one read; a failed read puts each job back in line.
            let found = self
                .adapters
                .of_all(&self.pool, &providers)
                .await
                .map_err(|error| error.to_string());
            for claimed in claimed {
                let adapter = match &found {
                    Ok(found) => match found.get(&claimed.provider) {
                        Some(Ok(adapter)) => Ok(adapter.clone()),
                        Some(Err(error)) => Err(error.to_string()),
                        None => Ok(None),
                    },
                    Err(error) => Err(error.clone()),
                };
                let worker = self.clone();
                let provider = claimed.provider.clone();
                let answers = flight.answers_to.clone();
                let task = flight.running.spawn(async move {
                    // The provider's place is free once it answered: recording the outcome
                    // does not hold it.
                    let answered = move || {
                        // Unheard only when the worker is gone: nothing to free then.
                        let _ = answers.send(tokio::task::id());
                    };
                    let attempt = worker.attempt(&claimed, adapter, answer_by, answered);
                    if let Err(error) = attempt.await {
                        // The claim runs out and the job is tried again.
                        tracing::error!(transaction_id = %claimed.transaction_id, %error,
                            "delivery attempt not recorded");
                    }
                });
                flight.tasks.insert(task.id(), Task::new(provider));
            }
        }
        Ok(())
    }

    /// One attempt at a claimed job, with its provider's adapter as the batch found it
    /// ([`Adapters::of_all`]): none when the provider has no connection, or why it is unusable.
    /// Calls `answered` once the exchange with the provider is over, before the outcome is
    /// recorded. A provider that has not answered by `answer_by` counts as one that did not
    /// answer in time ([`RetryPolicy::attempt_bound`]).
    async fn attempt(
        &self,
        job: &Claimed,
        adapter: Result<Option<Arc<dyn ProviderAdapter>>, String>,
        answer_by: Instant,
        answered: impl FnOnce(),
    ) -> Result<(), AttemptError> {
        let adapter = match adapter {
            Ok(Some(adapter)) => adapter,
            Ok(None) => {
                return self
                    .later(job, "no connection to the provider configured")
                    .await;
            }
            Err(error) => return self.later(job, &error).await,
        };
        let order = PayOrder {
            txn_id: u64::try_from(job.txn_id).unwrap_or_default(),
            txn_date_ms: job.accepted_at_ms,
            account: job.account.clone(),
            amount_tiyn: job.amount_tiyn,
        };
        let started = Instant::now();
        let exchange = tokio::time::timeout_at(answer_by, adapter.pay(&order))
            .await
            .unwrap_or_else(|_| Exchange {
                request: format!("pay txn_id={}", order.txn_id),
                response: None,
                latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                result: Err(TransportError::Timeout),
            });
        answered();
        let now = now_ms();
        let record = |outcome: &str, result_code: Option<i64>, error: Option<String>| Attempt {
            attempt: job.attempt,
            at_ms: now,
            request: exchange.request.clone(),
            answer: exchange
                .response
                .as_ref()
                .map(|text| text.chars().take(ANSWER_MAX_CHARS).collect()),
            outcome: outcome.to_owned(),
            result_code,
            error,
            latency_ms: i64::try_from(exchange.latency_ms).unwrap_or(i64::MAX),
        };
        match &exchange.result {
            Ok(Answer::Accepted {
                provider_txn,
                comment,
                ..
            }) => {
                let attempt = record("delivered", Some(0), None);
                let delivered = Delivered {
                    transaction_id: job.transaction_id.clone(),
                    attempt,
                    provider_txn: provider_txn.clone(),
                    comment: comment.clone(),
                    at_ms: now,
                };
                // Written with the other outcomes waiting at that moment ([`super::riders`]).
                if record_delivered(&self.riders, &self.pool, job, delivered).await? {
                    tracing::info!(transaction_id = %job.transaction_id, provider = %job.provider,
                        txn_id = job.txn_id, provider_txn = provider_txn.as_deref().unwrap_or("-"),
                        latency_ms = exchange.latency_ms,
                        "payment delivered");
                    if job.card {
                        self.earn(job).await;
                    }
                }
                Ok(())
            }
            Ok(Answer::Later { result, comment }) => {
                let attempt = record("later", Some(i64::from(*result)), None);
                self.retry_after(job, attempt, Some(i64::from(*result)), comment.clone())
                    .await
            }
            Ok(Answer::Refused {
                result,
                refusal,
                comment,
            }) => {
                let attempt = record("refused", Some(i64::from(*result)), None);
                let refusal = Refusal {
                    result_code: i64::from(*result),
                    refusal: *refusal,
                    comment: comment.as_deref(),
                };
                // `false` (finished meanwhile) needs nothing here: the attempt is kept, and a
                // refusal of a payment marked delivered by hand audited and warned about there.
                reversal::reverse(&self.pool, job, &attempt, &refusal, now).await?;
                Ok(())
            }
            Err(error) => {
                let attempt = record("unreachable", None, Some(error.to_string()));
                self.retry_after(job, attempt, None, Some(error.to_string()))
                    .await
            }
        }
    }

    /// Puts the job back in line after `attempt`, with the backoff of its attempt count, as a
    /// provider in an outage answers every attempt.
    async fn retry_after(
        &self,
        job: &Claimed,
        attempt: Attempt,
        result_code: Option<i64>,
        comment: Option<String>,
    ) -> Result<(), AttemptError> {
        let delay = self.retry.delay_after(job.attempt);
        if !self
            .put_back(job, Some(attempt), result_code, comment, delay)
            .await?
        {
            // Finished meanwhile (marked delivered by hand): nothing to ask again. Or claimed
            // again since this claim ran out: that attempt asks, and records its own outcome.
            return Ok(());
        }
        tracing::warn!(transaction_id = %job.transaction_id, provider = %job.provider,
            txn_id = job.txn_id, attempt = job.attempt, ?result_code, retry_in_s = delay.as_secs(),
            "payment not delivered yet; will ask again with the same number");
        Ok(())
    }

    /// No attempt was possible (no usable connection): back in line at the slow pace.
    async fn later(&self, job: &Claimed, comment: &str) -> Result<(), AttemptError> {
        let wait = self.retry.max_delay.min(self.retry.idle_poll);
        if self
            .put_back(job, None, None, Some(comment.to_owned()), wait)
            .await?
        {
            tracing::warn!(transaction_id = %job.transaction_id, provider = %job.provider,
                reason = comment, "payment waits: the provider cannot be reached");
        }
        Ok(())
    }

    /// Records the job due again `wait` from now, with `attempt` if one was made, written with
    /// the other outcomes waiting at that moment ([`super::riders`]); `false` if it had
    /// finished meanwhile, or its claim ran out and another worker claimed it since (in
    /// flight there: not put back under it).
    async fn put_back(
        &self,
        job: &Claimed,
        attempt: Option<Attempt>,
        result_code: Option<i64>,
        comment: Option<String>,
        wait: Duration,
    ) -> Result<bool, NotRecorded> {
        let now = now_ms();
        let later = Later {
            transaction_id: job.transaction_id.clone(),
            attempt,
            claim: job.attempt,
            result_code,
            comment,
            next_ms: now.saturating_add(millis(wait)),
            at_ms: now,
        };
        self.riders.record(&self.pool, Outcome::Later(later)).await
    }

    /// The delivered card payment `job`'s fee and commission, now the dealer's
    /// ([`crate::card::earn`]). A failure leaves it due, for the background job to earn.
    async fn earn(&self, job: &Claimed) {
        // Now, not when the answer came: the commission's day must be one not credited yet.
        match earn::earn(&self.pool, &job.transaction_id, now_ms()).await {
            Ok(Some(earned)) => tracing::info!(transaction_id = %job.transaction_id,
                fee_tiyn = earned.fee_tiyn, commission_tiyn = earned.commission_tiyn,
                "card payment's fee and commission credited"),
            Ok(None) => {}
            Err(error) => tracing::warn!(transaction_id = %job.transaction_id, %error,
                "card payment's fee not credited yet; the background job will"),
        }
    }
}

/// Records the provider's acceptance `delivered` of the claimed job `job` with the other
/// outcomes waiting ([`Riders::record`]); `true` when it marked the delivery delivered. When the
/// delivery had finished meanwhile, its attempt is kept all the same, and an acceptance of one
/// marked refused (its money given back) is audited and warned about
/// ([`reversal::delivered_after_finish`]): the operator must know the provider has it too.
pub async fn record_delivered(
    riders: &Arc<Riders>,
    pool: &AnyPool,
    job: &Claimed,
    delivered: Delivered,
) -> Result<bool, NotRecorded> {
    let provider_txn = delivered.provider_txn.clone();
    let at_ms = delivered.at_ms;
    if riders.record(pool, Outcome::Delivered(delivered)).await? {
        return Ok(true);
    }
    if let Err(error) =
        reversal::delivered_after_finish(pool, job, provider_txn.as_deref(), at_ms).await
    {
        // The attempt is on record; only the alarm is missing — say it here at least.
        tracing::error!(transaction_id = %job.transaction_id, provider = %job.provider,
            provider_txn = provider_txn.as_deref().unwrap_or("-"), %error,
            "the provider took a payment finished meanwhile, and it could not be audited");
    }
    Ok(false)
}

/// Where the worker's reads of due jobs begin.
///
/// Why: on PostgreSQL a job that is claimed or finished leaves its entry in the index of
/// unfinished deliveries by due time (`deliveries_unfinished`) behind, dead, until the table is
/// vacuumed — at the index's start, where a read from the beginning steps over every one of
/// them. Under the gateway benchmark that was 250–400 µs of the server's time for a read of a
/// dozen jobs after 40 000 deliveries (issue 14); and autovacuum, by default, comes once a fifth
/// of a table has changed, which for a gateway with millions of deliveries is millions of
/// entries.
///
/// So a read begins [`FLOOR_MARGIN_MS`] before the first job the read before it found due (or,
/// when it found none, before that read's time). Nothing is skipped by it: a job's due time is
/// set when it is queued (when its payment was received, committed milliseconds later), claimed
/// (the claim's expiry), answered (now and the backoff), or made due by hand (now) — each after
/// the floor, which stays behind every read's time by the margin, and before any job the reads
/// left waiting. Only a payment committed more than the margin after it was received, or
/// queued or retried by hand on a gateway whose clock is behind this one's, can fall below it:
/// a read from the start every [`FROM_START_EVERY`] finds those (it steps over every dead
/// entry, once a second). The worker keeps its floor from one round to the next, and asks when
/// the next job falls due from it too: a quiet gateway, woken by each payment, would otherwise
/// step over them all twice a payment.
#[derive(Default)]
struct Floor {
    /// Where the next read begins; none before the first.
    from_ms: Option<i64>,
    /// When the last read from the start was.
    read_from_start_at: Option<Instant>,
}

impl Floor {
    /// Where a read at `now` begins: none (from the start) for the first, and once every
    /// [`FROM_START_EVERY`].
    fn begins_at(&mut self, now: Instant) -> Option<i64> {
        match (self.from_ms, self.read_from_start_at) {
            (Some(from), Some(at)) if now < at + FROM_START_EVERY => Some(from),
            _ => {
                self.read_from_start_at = Some(now);
                None
            }
        }
    }

    /// A read at `now_ms`, `from_start` or from the floor, found `first_due_ms` the earliest
    /// due time of the jobs it returned (none: it found no job due).
    fn read(&mut self, from_start: bool, now_ms: i64, first_due_ms: Option<i64>) {
        let floor = first_due_ms
            .unwrap_or(now_ms)
            .min(now_ms)
            .saturating_sub(FLOOR_MARGIN_MS);
        self.from_ms = Some(match self.from_ms {
            // A job below the floor, found from the start, lowers it until it is taken.
            Some(from) if !from_start => from.max(floor),
            _ => floor,
        });
    }
}

/// Each provider's places in flight: its connection's (`in_flight_max`, the operator's, what
/// its contract allows), else the gateway's [`RetryPolicy::per_provider`]; and the catalogue's
/// codes, for the reads past the providers at their cap. Read again at most every
/// [`FROM_START_EVERY`]: a connection saved or a provider added meanwhile counts from then on.
struct Places {
    /// A provider's places when its connection does not say.
    default: usize,
    /// The most a provider may have: all the places there are.
    most: usize,
    /// Every provider of the catalogue, with its places.
    of: HashMap<String, usize>,
    read_at: Option<Instant>,
}

impl Places {
    fn new(retry: &RetryPolicy, parallel: usize) -> Self {
        Places {
            default: retry.places_default(),
            most: parallel,
            of: HashMap::new(),
            read_at: None,
        }
    }

    /// Reads them again if the last read is a second old.
    async fn refresh(&mut self, pool: &AnyPool) -> Result<(), sqlx::Error> {
        if self
            .read_at
            .is_some_and(|at| at.elapsed() < FROM_START_EVERY)
        {
            return Ok(());
        }
        let read = connections::places(pool).await?;
        self.set(read);
        self.read_at = Some(Instant::now());
        Ok(())
    }

    /// Each provider's places as its connection sets them (`None`: the default).
    fn set(&mut self, read: Vec<(String, Option<i64>)>) {
        self.of = read
            .into_iter()
            .map(|(code, places)| {
                let places = places
                    .and_then(|n| usize::try_from(n).ok())
                    .map_or(self.default, |n| n.clamp(1, self.most));
                (code, places)
            })
            .collect();
    }

    /// `provider`'s places (the default for one the catalogue read has not seen).
    fn of(&self, provider: &str) -> usize {
        self.of.get(provider).copied().unwrap_or(self.default)
    }
}

/// A running attempt.
struct Task {
    provider: String,
    /// The provider answered (or the exchange failed): its place is free, the outcome is being
    /// recorded.
    answered: bool,
}

impl Task {
    fn new(provider: String) -> Self {
        Task {
            provider,
            answered: false,
        }
    }
}

/// The jobs in flight, each provider's count among them, and the room left.
struct Flight {
    running: JoinSet<()>,
    /// Each running task.
    tasks: HashMap<tokio::task::Id, Task>,
    /// Where a task says its provider answered, and where the worker hears it.
    answers_to: mpsc::UnboundedSender<tokio::task::Id>,
    answers: mpsc::UnboundedReceiver<tokio::task::Id>,
    /// Tasks whose provider answered, recording the outcome: they count against
    /// [`RetryPolicy::parallel`], no longer against their provider's places.
    recording: usize,
    /// How many jobs are in flight (or picked to be) to each provider; a provider with none
    /// has no entry.
    per: HashMap<String, usize>,
    parallel: usize,
    /// How many each provider may have.
    places: Places,
    /// Answers since the last read of the due jobs, of each provider.
    freed_of: HashMap<String, usize>,
}

impl Flight {
    fn new(retry: &RetryPolicy) -> Self {
        let parallel = retry.parallel.max(1);
        let (answers_to, answers) = mpsc::unbounded_channel();
        Flight {
            running: JoinSet::new(),
            tasks: HashMap::new(),
            answers_to,
            answers,
            recording: 0,
            per: HashMap::new(),
            parallel,
            places: Places::new(retry, parallel),
            freed_of: HashMap::new(),
        }
    }

    /// Nothing in flight, nothing being recorded.
    fn is_empty(&self) -> bool {
        self.per.is_empty() && self.recording == 0
    }

    /// Jobs in flight or picked to be, and those recording their outcome (a handful of
    /// providers to add up).
    fn count(&self) -> usize {
        self.per.values().sum::<usize>() + self.recording
    }

    /// Whether `provider` has all its places in flight.
    fn at_cap(&self, provider: &str) -> bool {
        self.per
            .get(provider)
            .is_some_and(|n| *n >= self.places.of(provider))
    }

    /// The providers of the catalogue not at their cap.
    fn with_room(&self) -> Vec<&str> {
        self.places
            .of
            .keys()
            .map(String::as_str)
            .filter(|code| !self.at_cap(code))
            .collect()
    }

    /// How many more jobs may start.
    fn room(&self) -> usize {
        self.parallel.saturating_sub(self.count())
    }

    /// How many due jobs to read: about as many as may start. The places left to the
    /// providers in flight, and some for others: reading far more than could be taken (one
    /// provider at its cap, hundreds of places free in all) made the delivery on SQLite 30–50 µs
    /// of the gateway's processor time dearer under the gateway benchmark.
    fn read_size(&self) -> usize {
        let left_to_those_in_flight: usize = self
            .per
            .iter()
            .map(|(provider, n)| self.places.of(provider).saturating_sub(*n))
            .sum();
        let for_others = REFILL.min(self.places.default);
        self.room()
            .min(BATCH)
            .min(left_to_those_in_flight + for_others)
            .max(1)
    }

    /// The jobs of `due` (oldest due first) there is room for, counted in; and whether any was
    /// left for want of room (its provider's, or all of it).
    fn pick<'d>(&mut self, due: impl Iterator<Item = &'d Due>) -> (Vec<Due>, bool) {
        self.freed_of.clear();
        let mut picked = Vec::new();
        let mut left = false;
        let mut room = self.room();
        for job in due {
            if room == 0 {
                return (picked, true);
            }
            let places = self.places.of(&job.provider);
            let per = self.per.entry(job.provider.clone()).or_default();
            if *per >= places {
                left = true;
                continue;
            }
            *per += 1;
            room -= 1;
            picked.push(job.clone());
        }
        (picked, left)
    }

    /// One of `provider`'s places is free again: its job ended, or was picked and not claimed
    /// (another worker took it).
    fn release(&mut self, provider: &str) {
        if let Some(per) = self.per.get_mut(provider) {
            *per = per.saturating_sub(1);
            if *per == 0 {
                self.per.remove(provider);
            }
        }
    }

    /// A running task ended (its attempt recorded, or not: a panic is logged by the runtime).
    fn ended(&mut self, ended: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
        let id = match ended {
            Ok((id, ())) => id,
            Err(error) => error.id(),
        };
        if let Some(task) = self.tasks.remove(&id) {
            if task.answered {
                self.recording = self.recording.saturating_sub(1);
            } else {
                self.answered(task.provider);
            }
        }
    }

    /// Task `id`'s provider answered: its place is free, the task records the outcome. (One
    /// that ended first had its place freed then.)
    fn provider_answered(&mut self, id: tokio::task::Id) {
        if let Some(task) = self.tasks.get_mut(&id)
            && !task.answered
        {
            task.answered = true;
            self.recording += 1;
            let provider = task.provider.clone();
            self.answered(provider);
        }
    }

    /// A job of `provider` was answered: its place is free again.
    fn answered(&mut self, provider: String) {
        self.release(&provider);
        *self.freed_of.entry(provider).or_default() += 1;
    }

    /// Whether enough places were freed since the last read to read the due jobs again: a
    /// refill's worth in all ([`REFILL`], or the gateway's places per provider if fewer), or
    /// of one provider's places if it has fewer: a provider whose contract allows one at a
    /// time would otherwise wait for 16 of the others' answers (or the next payment, or the
    /// poll: 30 s while the others do not answer) before its next job starts.
    fn refill_due(&self) -> bool {
        self.freed_of.values().sum::<usize>() >= REFILL.min(self.places.default)
            || self
                .freed_of
                .iter()
                .any(|(provider, n)| *n >= REFILL.min(self.places.of(provider)))
    }
}

/// Why an attempt's outcome could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Reversal(#[from] reversal::ReversalError),
    #[error(transparent)]
    NotRecorded(#[from] NotRecorded),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(transaction_id: &str, provider: &str) -> Due {
        Due {
            transaction_id: transaction_id.to_owned(),
            provider: provider.to_owned(),
            due_at_ms: 0,
        }
    }

    fn ids(jobs: &[Due]) -> Vec<&str> {
        jobs.iter().map(|job| job.transaction_id.as_str()).collect()
    }

    #[test]
    fn jobs_start_within_the_places_of_all_and_of_each_provider() {
        let mut flight = Flight::new(&RetryPolicy {
            parallel: 4,
            per_provider: 2,
            ..RetryPolicy::default()
        });
        let line = [
            due("k1", "kcell"),
            due("k2", "kcell"),
            due("k3", "kcell"),
            due("b1", "beeline"),
            due("b2", "beeline"),
            due("b3", "beeline"),
        ];
        // Kcell's third waits for a place of Kcell's; Beeline's go meanwhile, until all four
        // places are taken.
        let (picked, left) = flight.pick(line.iter());
        assert_eq!(ids(&picked), ["k1", "k2", "b1", "b2"]);
        assert!(left, "jobs were left for want of room");
        assert_eq!(flight.room(), 0);
        assert!(flight.at_cap("kcell") && flight.at_cap("beeline"));
        assert!(
            !flight.at_cap("tele2"),
            "a provider with nothing in flight has room"
        );
        // One of Kcell's ends: only Kcell's next may take its place (Beeline is at its cap).
        flight.release("kcell");
        assert!(!flight.at_cap("kcell"));
        assert_eq!(flight.room(), 1);
        let (picked, _) = flight.pick(line[2..].iter());
        assert_eq!(ids(&picked), ["k3"]);
        // All end: nothing is in flight, and every place is free again.
        for provider in ["kcell", "kcell", "beeline", "beeline"] {
            flight.release(provider);
        }
        assert!(flight.is_empty());
        assert_eq!(flight.room(), 4);
    }

    #[test]
    fn a_provider_has_the_places_its_connection_sets_and_the_others_the_gateways() {
        let mut flight = Flight::new(&RetryPolicy {
            parallel: 8,
            per_provider: 2,
            ..RetryPolicy::default()
        });
        // Kcell's contract allows one at a time, Tele2's five, Beeline's connection does not
        // say; one asks for more than there are places at all.
        flight.places.set(vec![
            ("kcell".to_owned(), Some(1)),
            ("tele2".to_owned(), Some(5)),
            ("beeline".to_owned(), None),
            ("altel".to_owned(), Some(100)),
        ]);
        let line: Vec<Due> = ["kcell", "tele2", "beeline"]
            .iter()
            .flat_map(|provider| (1..=6).map(move |i| due(&format!("{provider}{i}"), provider)))
            .collect();
        let (picked, left) = flight.pick(line.iter());
        assert_eq!(
            ids(&picked),
            [
                "kcell1", "tele21", "tele22", "tele23", "tele24", "tele25", "beeline1", "beeline2"
            ]
        );
        assert!(left);
        assert!(flight.at_cap("kcell") && flight.at_cap("tele2") && flight.at_cap("beeline"));
        assert_eq!(flight.places.of("altel"), 8, "no more than all the places");
        assert_eq!(
            flight.places.of("new"),
            2,
            "one not read yet has the gateway's"
        );
        assert_eq!(flight.with_room(), ["altel"]);
    }

    #[test]
    fn a_provider_with_few_places_reads_again_at_its_own_answer() {
        let mut flight = Flight::new(&RetryPolicy {
            parallel: 64,
            per_provider: 32,
            ..RetryPolicy::default()
        });
        flight.places.set(vec![("kcell".to_owned(), Some(1))]);
        let mut line = vec![due("k1", "kcell"), due("k2", "kcell")];
        line.extend((1..=32).map(|i| due(&format!("b{i}"), "beeline")));
        let (picked, left) = flight.pick(line.iter());
        assert_eq!(picked.len(), 33, "Kcell's one and Beeline's 32");
        assert!(left, "Kcell's second waits for its place");
        // Beeline's answers free places, but a read for one or two would claim one a statement.
        flight.answered("beeline".to_owned());
        flight.answered("beeline".to_owned());
        assert!(!flight.refill_due());
        // Kcell's one place is free: its second job is read for at once.
        flight.answered("kcell".to_owned());
        assert!(flight.refill_due());
        // A read resets the count.
        let (picked, _) = flight.pick(line[1..2].iter());
        assert_eq!(ids(&picked), ["k2"]);
        assert!(!flight.refill_due());
    }

    #[tokio::test]
    async fn a_claim_that_fails_gives_back_the_places_of_every_job_picked() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("gateway.db").display());
        let pool = crate::db::connect(&url).await.unwrap();
        crate::db::migrate(&pool, &url).await.unwrap();
        // Every claim fails, as when the database refuses a write.
        sqlx::query("ALTER TABLE deliveries RENAME TO deliveries_away")
            .execute(&pool)
            .await
            .unwrap();
        let worker = Worker::new(pool, Arc::new(DeliveryQueue::default()));
        let mut flight = Flight::new(&RetryPolicy {
            parallel: 256,
            per_provider: 64,
            ..RetryPolicy::default()
        });
        // More than one claim's worth, of four providers.
        let line: Vec<Due> = (0..100)
            .map(|n| {
                due(
                    &format!("t{n}"),
                    ["kcell", "beeline", "tele2", "altel"][n % 4],
                )
            })
            .collect();
        let (picked, _) = flight.pick(line.iter());
        assert_eq!(picked.len(), 100);
        assert!(worker.start(&picked, &mut flight).await.is_err());
        assert!(flight.is_empty(), "places kept: {:?}", flight.per);
        assert_eq!(flight.room(), 256);
    }

    #[tokio::test]
    async fn a_providers_place_is_free_once_it_answered_not_once_the_outcome_is_recorded() {
        let mut flight = Flight::new(&RetryPolicy {
            parallel: 4,
            per_provider: 2,
            ..RetryPolicy::default()
        });
        let (picked, _) = flight.pick([due("k1", "kcell"), due("k2", "kcell")].iter());
        assert_eq!(picked.len(), 2);
        // k1's attempt runs until its outcome is recorded; k2's stays in flight throughout.
        let (recorded, recording) = tokio::sync::oneshot::channel::<()>();
        let task = flight.running.spawn(async move {
            let _ = recording.await;
        });
        flight
            .tasks
            .insert(task.id(), Task::new("kcell".to_owned()));
        assert!(flight.at_cap("kcell"));
        // Kcell answered k1: another of its jobs may go while k1's outcome is written.
        flight.provider_answered(task.id());
        assert!(!flight.at_cap("kcell"));
        assert_eq!(
            flight.room(),
            2,
            "the recording still counts among all the places"
        );
        drop(recorded);
        let ended = flight.running.join_next_with_id().await.unwrap();
        flight.ended(ended);
        assert_eq!(
            flight.room(),
            3,
            "k1's place freed once, not twice: k2 is in flight"
        );
        assert!(!flight.is_empty());
    }

    #[test]
    fn reads_begin_before_the_first_job_due_and_from_the_start_once_a_second() {
        let start = Instant::now();
        let mut floor = Floor::default();
        // The first read is from the start; it found the oldest job due at 10 000.
        assert_eq!(floor.begins_at(start), None);
        floor.read(true, 50_000, Some(10_000));
        // The next begins the margin before it, wherever the reads after find their first.
        assert_eq!(floor.begins_at(start), Some(9_750));
        floor.read(false, 51_000, Some(30_000));
        assert_eq!(floor.begins_at(start), Some(29_750));
        // Nothing due: the margin before the read's time (a job queued since is due later).
        floor.read(false, 52_000, None);
        assert_eq!(floor.begins_at(start), Some(51_750));
        // A read from the floor never lowers it …
        floor.read(false, 52_500, Some(51_800));
        assert_eq!(floor.begins_at(start), Some(51_750));
        // … a read from the start, once a second, does: it found a job queued below the floor
        // (by a gateway whose clock is behind), which the reads after must find until it is
        // taken.
        let second = start + FROM_START_EVERY;
        assert_eq!(floor.begins_at(second), None);
        floor.read(true, 53_000, Some(40_000));
        assert_eq!(floor.begins_at(second), Some(39_750));
    }

    #[test]
    fn backoff_doubles_from_5_seconds_to_10_minutes() {
        let policy = RetryPolicy::default();
        let waits: Vec<u64> = (1..=9).map(|n| policy.delay_after(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 600, 600]);
    }
}
