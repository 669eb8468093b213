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
//! * **Many at once.** Up to [`RetryPolicy::parallel`] jobs are in flight together, so one slow
//!   provider does not hold the others back.
//! * **Temporary vs final.** What the provider protocol calls temporary (OSMP 1 and 90), and
//!   every failure to get an answer (timeout, connection cut, HTTP error, an unreadable
//!   answer), is asked again after a backoff; a final refusal reverses the payment
//!   ([`super::reversal`]). There is no last attempt: the money is on its way or back.

use std::{sync::Arc, time::Duration};

use sqlx::AnyPool;
use tokio::{sync::Semaphore, task::JoinSet};
use tolem_providers::adapter::{Answer, PayOrder, ProviderAdapter};

use super::{
    DeliveryQueue,
    connections::Adapters,
    reversal::{self, Refusal},
    riders::{ClaimError, Delivered, NotRecorded, Riders},
};
use crate::{
    db::{
        begin_write,
        deliveries::{self, Attempt, Claimed},
        now_ms,
    },
    jobs::millis,
};

/// How long to pause after the database failed before trying again.
const DATABASE_PAUSE: Duration = Duration::from_secs(5);
/// The longest answer text kept per attempt.
const ANSWER_MAX_CHARS: usize = 2_000;
/// At most this many jobs are read per round.
const BATCH: i64 = 100;

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
    /// How many jobs may be in flight at once.
    pub parallel: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(10 * 60),
            lease: Duration::from_secs(5 * 60),
            idle_poll: Duration::from_secs(30),
            parallel: 16,
        }
    }
}

impl RetryPolicy {
    /// The wait after `failures` failed attempts (1 = the first): `first_delay · 2^(n-1)`, at
    /// most `max_delay`.
    pub fn delay_after(&self, failures: i64) -> Duration {
        crate::jobs::backoff(self.first_delay, self.max_delay, failures)
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
        tokio::spawn(async move {
            tracing::info!("provider delivery started");
            loop {
                if self.pool.is_closed() {
                    break;
                }
                let pause = match self.run_once().await {
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

    /// Sends everything due now (up to [`RetryPolicy::parallel`] at once) and waits for the
    /// answers; returns when the next unfinished job falls due.
    pub async fn run_once(&self) -> Result<Option<i64>, ClaimError> {
        let permits = Arc::new(Semaphore::new(self.retry.parallel.max(1)));
        let mut running = JoinSet::new();
        loop {
            let due = deliveries::due(&self.pool, now_ms(), BATCH).await?;
            let full = due.len() as i64 == BATCH;
            // Claimed as many at a time as may be in flight, in one transaction each: a claim
            // is not taken long before its attempt starts (its lease covers the attempt).
            for due in due.chunks(self.retry.parallel.max(1)) {
                let now = now_ms();
                let lease_until = now.saturating_add(millis(self.retry.lease));
                // On SQLite in the next payment group's commit, if one is on its way.
                let claimed = self.riders.claim(&self.pool, due, now, lease_until).await?;
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
                    let permit = permits
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("the semaphore is never closed");
                    let worker = self.clone();
                    running.spawn(async move {
                        if let Err(error) = worker.attempt(&claimed, adapter).await {
                            // The claim runs out and the job is tried again.
                            tracing::error!(transaction_id = %claimed.transaction_id, %error,
                                "delivery attempt not recorded");
                        }
                        drop(permit);
                    });
                }
            }
            if !full {
                break;
            }
            // A full batch: finish it before reading the next, so claimed jobs are not read again.
            while running.join_next().await.is_some() {}
        }
        while running.join_next().await.is_some() {}
        Ok(deliveries::next_due_at(&self.pool).await?)
    }

    /// One attempt at a claimed job, with its provider's adapter as the batch found it
    /// ([`Adapters::of_all`]): none when the provider has no connection, or why it is unusable.
    async fn attempt(
        &self,
        job: &Claimed,
        adapter: Result<Option<Arc<dyn ProviderAdapter>>, String>,
    ) -> Result<(), AttemptError> {
        let adapter = match adapter {
            Ok(Some(adapter)) => adapter,
            Ok(None) => {
                return self
                    .later(job, None, Some("no connection to the provider configured"))
                    .await;
            }
            Err(error) => return self.later(job, None, Some(&error)).await,
        };
        let order = PayOrder {
            txn_id: u64::try_from(job.txn_id).unwrap_or_default(),
            txn_date_ms: job.accepted_at_ms,
            account: job.account.clone(),
            amount_tiyn: job.amount_tiyn,
        };
        let exchange = adapter.pay(&order).await;
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
                let provider_txn = provider_txn.clone().unwrap_or_else(|| "—".to_owned());
                let delivered = Delivered {
                    transaction_id: job.transaction_id.clone(),
                    attempt,
                    provider_txn: provider_txn.clone(),
                    comment: comment.clone(),
                    at_ms: now,
                };
                // Written with the other outcomes waiting at that moment ([`super::riders`]).
                if self.riders.delivered(&self.pool, delivered).await? {
                    tracing::info!(transaction_id = %job.transaction_id, provider = %job.provider,
                        txn_id = job.txn_id, %provider_txn, latency_ms = exchange.latency_ms,
                        "payment delivered");
                }
                Ok(())
            }
            Ok(Answer::Later { result, comment }) => {
                let attempt = record("later", Some(i64::from(*result)), None);
                self.retry_after(job, &attempt, Some(i64::from(*result)), comment.as_deref())
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
                reversal::reverse(&self.pool, job, &attempt, &refusal, now).await?;
                Ok(())
            }
            Err(error) => {
                let attempt = record("unreachable", None, Some(error.to_string()));
                self.retry_after(job, &attempt, None, Some(&error.to_string()))
                    .await
            }
        }
    }

    /// Puts the job back in line after `attempt`, with the backoff of its attempt count.
    async fn retry_after(
        &self,
        job: &Claimed,
        attempt: &Attempt,
        result_code: Option<i64>,
        comment: Option<&str>,
    ) -> Result<(), AttemptError> {
        let delay = self.retry.delay_after(job.attempt);
        let now = now_ms();
        let mut tx = begin_write(&self.pool).await?;
        deliveries::insert_attempt_in(&mut tx, &job.transaction_id, attempt).await?;
        deliveries::mark_retrying_in(
            &mut tx,
            &job.transaction_id,
            result_code,
            comment,
            now.saturating_add(millis(delay)),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(transaction_id = %job.transaction_id, provider = %job.provider,
            txn_id = job.txn_id, attempt = job.attempt, ?result_code, retry_in_s = delay.as_secs(),
            "payment not delivered yet; will ask again with the same number");
        Ok(())
    }

    /// No attempt was possible (no connection): back in line at the slow pace.
    async fn later(
        &self,
        job: &Claimed,
        result_code: Option<i64>,
        comment: Option<&str>,
    ) -> Result<(), AttemptError> {
        let now = now_ms();
        let mut tx = begin_write(&self.pool).await?;
        deliveries::mark_retrying_in(
            &mut tx,
            &job.transaction_id,
            result_code,
            comment,
            now.saturating_add(millis(self.retry.max_delay.min(self.retry.idle_poll))),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(transaction_id = %job.transaction_id, provider = %job.provider,
            reason = comment.unwrap_or(""), "payment waits: the provider cannot be reached");
        Ok(())
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

    #[test]
    fn backoff_doubles_from_5_seconds_to_10_minutes() {
        let policy = RetryPolicy::default();
        let waits: Vec<u64> = (1..=9).map(|n| policy.delay_after(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 600, 600]);
    }
}
