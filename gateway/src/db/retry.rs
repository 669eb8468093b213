//! Retrying a write transaction that PostgreSQL aborted to resolve a conflict with another one.
//!
//! With several gateways (or several requests of one gateway) writing the same rows, PostgreSQL
//! may abort a transaction with a *deadlock* (SQLSTATE `40P01`: two transactions each waiting
//! for a row the other holds) or a *serialization failure* (`40001`). Neither means the request
//! was wrong: the aborted transaction left nothing behind, and running it again after the other
//! one finished succeeds. So a hot write transaction is written as a closure that begins,
//! decides and commits, and [`retry`] runs it again on those two codes only — a closure whose
//! decisions are made inside its transaction (the payment looks its session up again, the
//! ledger re-reads the balance) gives the same outcome as if it had run alone. Any other error
//! is returned at once. SQLite never reports these codes: a writer there waits for the
//! database's lock instead.

use std::future::Future;
use std::time::Duration;

/// How many times a transaction is tried in all before its conflict is reported.
pub const ATTEMPTS: u32 = 5;

/// The wait before the second attempt; doubled for each further one (10, 20, 40, 80 ms).
const FIRST_WAIT: Duration = Duration::from_millis(10);

/// PostgreSQL's `serialization_failure`.
pub const SERIALIZATION_FAILURE: &str = "40001";
/// PostgreSQL's `deadlock_detected`.
pub const DEADLOCK_DETECTED: &str = "40P01";
/// PostgreSQL's `lock_not_available`: a lock waited longer than the transaction's
/// `lock_timeout`.
pub const LOCK_NOT_AVAILABLE: &str = "55P03";

/// An error that may be a database's transient conflict.
pub trait Conflict {
    /// The database error inside, if any.
    fn database_error(&self) -> Option<&sqlx::Error>;

    /// Whether the transaction was aborted only because it met another one (40001, 40P01):
    /// running it again is safe and should succeed.
    fn is_transient_conflict(&self) -> bool {
        match self.database_error() {
            Some(sqlx::Error::Database(error)) => matches!(
                error.code().as_deref(),
                Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED)
            ),
            _ => false,
        }
    }

    /// Whether a lock waited longer than the transaction's `lock_timeout` allowed (55P03): the
    /// transaction is aborted, and whoever holds the lock still holds it.
    fn is_lock_timeout(&self) -> bool {
        matches!(self.database_error(), Some(sqlx::Error::Database(error))
            if error.code().as_deref() == Some(LOCK_NOT_AVAILABLE))
    }
}

impl Conflict for sqlx::Error {
    fn database_error(&self) -> Option<&sqlx::Error> {
        Some(self)
    }
}

/// Runs `transaction` (which begins, writes and commits a transaction of its own) and runs it
/// again, up to [`ATTEMPTS`] times in all with a short growing wait, while it fails with a
/// transient conflict ([`Conflict::is_transient_conflict`]). `what` names it in the log.
pub async fn retry<T, E, F, Fut>(what: &str, mut transaction: F) -> Result<T, E>
where
    E: Conflict + std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempts = Attempts::new(what);
    loop {
        let outcome = transaction().await;
        match &outcome {
            Err(error) if attempts.may_retry(error) => attempts.wait().await,
            _ => return outcome,
        }
    }
}

/// [`retry`]'s count of attempts, for a caller that runs its transaction on a connection it
/// holds (a closure returning a future that borrows it cannot be called again).
pub struct Attempts<'w> {
    what: &'w str,
    attempt: u32,
    wait: Duration,
}

impl<'w> Attempts<'w> {
    /// The first attempt at the transaction `what` (named in the log).
    pub fn new(what: &'w str) -> Self {
        Attempts {
            what,
            attempt: 1,
            wait: FIRST_WAIT,
        }
    }

    /// Whether the attempt that failed with `error` is to be run again: a transient conflict,
    /// and attempts left. Then [`Self::wait`] before it.
    pub fn may_retry<E: Conflict + std::fmt::Display>(&self, error: &E) -> bool {
        let again = self.attempt < ATTEMPTS && error.is_transient_conflict();
        if again {
            tracing::info!(what = self.what, attempt = self.attempt, %error,
                "transaction met a concurrent one; running it again");
        }
        again
    }

    /// Waits before the next attempt, longer each time.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.wait).await;
        self.wait = self.wait.saturating_mul(2);
        self.attempt += 1;
    }
}
