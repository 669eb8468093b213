//! What the gateway does on its own, in the background: credit the dealers' commission for
//! finished business days ([`crate::commission`]) and purge audit rows past their 5 years
//! ([`crate::audit::chain`]).
//!
//! Both are idempotent, so the job simply runs at start-up — catching up on the days the
//! gateway was down — and then every [`PERIOD`]; several gateways on one PostgreSQL database
//! may all run it. A failure is logged and retried at the next turn, never fatal.
//!
//! The delivery of signed messages by e-mail and of payments to providers are background tasks
//! too, with their own pace (woken by each new letter or payment, retries with [`backoff`]):
//! [`crate::mail::worker`], [`crate::delivery::worker`].

use std::time::Duration;

use sqlx::AnyPool;

use crate::{audit::chain, commission, db::now_ms};

/// How often the job runs. A day's commission is credited within this much of the day's end
/// (plus [`commission::GRACE_MS`]).
pub const PERIOD: Duration = Duration::from_secs(15 * 60);

/// The wait after `failures` failed attempts (1 = the first) of a background delivery:
/// `first · 2^(failures-1)`, at most `max`.
pub fn backoff(first: Duration, max: Duration, failures: i64) -> Duration {
    let doublings = u32::try_from(failures.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    first.saturating_mul(1u32 << doublings).min(max)
}

/// A duration in milliseconds, as the `*_at_ms` columns count time.
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// One turn: credit finished days, purge expired audit rows (unless `purge` is false).
pub async fn run_once(pool: &AnyPool, now_ms: i64, purge: bool) {
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
