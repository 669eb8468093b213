//! What the gateway does on its own, in the background: credit the fees of delivered card
//! payments a stopped gateway left due ([`crate::card::earn`]), credit the dealers' commission
//! for finished business days ([`crate::commission`]) and purge audit rows past their 5 years
//! ([`crate::audit::chain`]).
//!
//! Both are idempotent, so the job simply runs at start-up — catching up on the days the
//! gateway was down — and then every [`PERIOD`]; several gateways on one PostgreSQL database
//! may all run it. A failure is logged and retried at the next turn, never fatal.
//!
//! The delivery of signed messages by e-mail and of payments to providers are background tasks
//! too, with their own pace (woken by each new letter or payment, retries with [`backoff`]):
//! [`crate::mail::worker`], [`crate::delivery::worker`].
//!
//! Each of them runs under [`supervise`]: every error they expect is handled inside, so a panic
//! is a bug — and without it the task would end silently, and with it, say, every delivery to
//! the providers until the gateway is restarted (the delivery queue's metric shows it only
//! minutes later).

use std::time::Duration;

use sqlx::AnyPool;
use tokio::task::JoinHandle;

use crate::{audit::chain, card::earn, commission, db::now_ms};

/// How often the job runs. A day's commission is credited within this much of the day's end
/// (plus [`commission::GRACE_MS`]).
pub const PERIOD: Duration = Duration::from_secs(15 * 60);

/// The wait after `failures` failed attempts (1 = the first) of a background delivery:
/// `first · 2^(failures-1)`, at most `max`.
pub fn backoff(first: Duration, max: Duration, failures: i64) -> Duration {
    let doublings = u32::try_from(failures.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    first.saturating_mul(1u32 << doublings).min(max)
}

/// How long a background task that panicked waits before it is started again: a bug that
/// panics at once must not spin.
pub const RESTART_PAUSE: Duration = Duration::from_secs(5);

/// Runs the background task `start` starts, named `name` in the log, and starts it again
/// [`RESTART_PAUSE`] after it panics; lets it go when it ends by itself (the pool closed at
/// shutdown). The panic's message is logged by the panic hook, where it happened.
pub fn supervise(
    name: &'static str,
    start: impl Fn() -> JoinHandle<()> + Send + 'static,
) -> JoinHandle<()> {
    supervise_pausing(name, RESTART_PAUSE, start)
}

/// [`supervise`] with the pause before a restart.
fn supervise_pausing(
    name: &'static str,
    pause: Duration,
    start: impl Fn() -> JoinHandle<()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match start().await {
                Err(ended) if ended.is_panic() => {
                    tracing::error!(
                        task = name,
                        restart_in_ms = millis(pause),
                        "background task panicked; starting it again"
                    );
                    tokio::time::sleep(pause).await;
                }
                _ => break,
            }
        }
    })
}

/// A duration in milliseconds, as the `*_at_ms` columns count time.
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// One turn: credit card fees due, finished days, purge expired audit rows (unless `purge` is
/// false).
pub async fn run_once(pool: &AnyPool, now_ms: i64, purge: bool) {
    match earn::earn_delivered(pool).await {
        Ok(0) => {}
        Ok(earned) => tracing::info!(earned, "delivered card payments' fees credited"),
        Err(error) => tracing::error!(%error, "card fees run failed; retrying later"),
    }
    match commission::credit_finished_days(pool, None, now_ms).await {
        Ok(credited) if !credited.is_empty() => {
            tracing::info!(days = credited.len(), "daily commission credited");
        }
        Ok(_) => {}
        Err(error) => tracing::error!(%error, "daily commission run failed; retrying later"),
    }
    if !purge {
        return;
    }
    if let Err(error) = chain::purge_expired(pool, now_ms).await {
        tracing::error!(%error, "audit retention purge failed; retrying later");
    }
}

/// Starts the job on the runtime; it stops when the pool is closed at shutdown. `purge`: also
/// delete audit rows past retention (`--no-audit-purge` turns it off).
pub fn spawn(pool: AnyPool, purge: bool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(PERIOD);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if pool.is_closed() {
                break;
            }
            run_once(&pool, now_ms(), purge).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_is_started_again_and_one_that_ends_is_let_go() {
        let starts = Arc::new(AtomicUsize::new(0));
        let counted = starts.clone();
        supervise_pausing("test", Duration::from_millis(1), move || {
            let start = counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                assert!(start >= 2, "a bug in the first two runs");
            })
        })
        .await
        .unwrap();
        assert_eq!(starts.load(Ordering::SeqCst), 3);
    }
}
