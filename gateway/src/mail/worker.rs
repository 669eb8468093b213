//! The delivery policy: a background task sends every letter that is due, retries failures
//! with exponential backoff, and never gives a letter up.
//!
//! * **When.** It wakes as soon as the `message` step has queued a letter ([`MailQueue::wake`]),
//!   when the earliest retry falls due, and at least every [`RetryPolicy::idle_poll`] (which
//!   also picks up letters another gateway on the same PostgreSQL database queued).
//! * **Once per attempt.** A due letter is first *claimed* (its due time moved ahead by
//!   [`RetryPolicy::lease`], only if nobody moved it since it was read), so two workers never
//!   send it at the same time; a worker that dies mid-attempt leaves the lease to run out and
//!   the letter is tried again then.
//! * **Backoff.** After the n-th failure the next attempt comes [`RetryPolicy::delay_after`]
//!   later: 30 s, 1 min, 2 min, … doubling up to 1 hour, then hourly. A server that answers
//!   "never" (a 5xx reply: no such mailbox, authentication refused) gets the hourly pace at
//!   once — the operator may fix the setting or the recipient's server may change its mind.
//! * **Never dropped.** There is no last attempt: a letter stays `failed_temporarily` with its
//!   count and last error until it goes, and the console shows it red after
//!   [`STUCK_AFTER_ATTEMPTS`].
//! * **Proof.** A sent letter gets its audit row (`message.sent`) in the same transaction
//!   that marks it sent.
//!
//! SMTP cannot promise exactly once: if the connection breaks after the server took the letter
//! but before it said so, the retry delivers a second copy — with the same `Message-ID`, which
//! mail clients use to show it once.

use std::{sync::Arc, time::Duration};

use lettre::message::Mailbox;
use sqlx::AnyPool;

use super::{
    MailQueue,
    compose::{self, Stored},
    transport::{Delivered, Transport},
};
use crate::{
    audit::{self, Action, Actor, Event},
    db::{begin_write, mail, now_ms},
    jobs::millis,
};

/// After this many failed attempts (about two hours of them) the console shows a letter red.
pub const STUCK_AFTER_ATTEMPTS: i64 = 8;
/// At most this many letters per round; a full round is followed by another at once.
const BATCH: i64 = 20;
/// How long to pause after the database failed before trying again.
const DATABASE_PAUSE: Duration = Duration::from_secs(5);
/// The longest error text stored (a mail server's reply can be long).
const ERROR_MAX_CHARS: usize = 500;

/// When letters are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; it doubles with each further failure.
    pub first_delay: Duration,
    /// The longest wait between attempts.
    pub max_delay: Duration,
    /// How long an attempt may hold a letter before another worker may take it (longer than
    /// an SMTP conversation can last).
    pub lease: Duration,
    /// How long the worker sleeps at most when nothing is due.
    pub idle_poll: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(60 * 60),
            lease: Duration::from_secs(2 * 60),
            idle_poll: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait after `failures` failed attempts (1 = the first): `first_delay · 2^(failures-1)`,
    /// at most `max_delay`.
    pub fn delay_after(&self, failures: i64) -> Duration {
        crate::jobs::backoff(self.first_delay, self.max_delay, failures)
    }
}

/// The delivery task's parts.
#[derive(Clone)]
pub struct Worker {
    pub pool: AnyPool,
    pub queue: Arc<MailQueue>,
    pub transport: Transport,
    /// The `From` of every e-mail.
    pub from: Mailbox,
    pub retry: RetryPolicy,
}

impl Worker {
    /// Starts the task on the runtime; it stops when the pool is closed at shutdown.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            tracing::info!(transport = %self.transport.describe(), "mail delivery started");
            loop {
                if self.pool.is_closed() {
                    break;
                }
                let pause = match self.run_once().await {
                    Ok(next_due) => {
                        let wait = next_due.map_or(self.retry.idle_poll, |due| {
                            let ms = due.saturating_sub(now_ms()).max(0);
                            Duration::from_millis(u64::try_from(ms).unwrap_or(0))
                        });
                        wait.min(self.retry.idle_poll)
                    }
                    Err(error) => {
                        if self.pool.is_closed() {
                            break;
                        }
                        tracing::error!(%error, "mail delivery could not read the outbox; retrying");
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

    /// Sends everything due now; returns when the next unsent letter falls due.
    pub async fn run_once(&self) -> Result<Option<i64>, sqlx::Error> {
        loop {
            let due = mail::due(&self.pool, now_ms(), BATCH).await?;
            let full = due.len() as i64 == BATCH;
            for letter in &due {
                let lease_until = now_ms().saturating_add(millis(self.retry.lease));
                if mail::claim(&self.pool, letter, lease_until).await? {
                    self.attempt(&letter.message_id).await?;
                }
            }
            if !full {
                break;
            }
        }
        mail::next_due_at(&self.pool).await
    }

    /// One attempt at a claimed letter.
    async fn attempt(&self, message_id: &str) -> Result<(), sqlx::Error> {
        let Some(letter) = mail::get(&self.pool, message_id).await? else {
            return Ok(());
        };
        let stored = Stored {
            message_id: &letter.message_id,
            recipient: &letter.recipient,
            subject: &letter.subject,
            body: &letter.body,
            created_at_ms: letter.created_at_ms,
        };
        let delivered = match compose::email(&self.from, &stored) {
            Ok(email) => self
                .transport
                .deliver(&email, &letter.message_id)
                .await
                .map_err(|e| (e.text, e.permanent)),
            // A letter that cannot be written now never will be: tried again at the slow pace.
            Err(error) => Err((error, true)),
        };
        let now = now_ms();
        match delivered {
            Ok(delivered) => self.sent(&letter, &delivered, now).await,
            Err((error, permanent)) => {
                let failures = letter.attempts + 1;
                let delay = if permanent {
                    self.retry.max_delay
                } else {
                    self.retry.delay_after(failures)
                };
                let error: String = error.chars().take(ERROR_MAX_CHARS).collect();
                tracing::warn!(message_id = %letter.message_id, point = %letter.point_code,
                    attempts = failures, permanent, retry_in_s = delay.as_secs(), %error,
                    "e-mail not delivered; will retry");
                mail::mark_failed(
                    &self.pool,
                    &letter.message_id,
                    &error,
                    now.saturating_add(millis(delay)),
                )
                .await
            }
        }
    }

    /// Marks the letter sent, with its audit row. Run again when the transaction met another
    /// one (PostgreSQL's deadlock or serialization failure): a letter handed to the server but
    /// not marked would be sent a second time once its lease ran out.
    async fn sent(
        &self,
        letter: &mail::Mail,
        delivered: &Delivered,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        crate::db::retry::retry("mail sent", || self.sent_once(letter, delivered, now)).await
    }

    async fn sent_once(
        &self,
        letter: &mail::Mail,
        delivered: &Delivered,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = begin_write(&self.pool).await?;
        if !mail::mark_sent(&mut tx, &letter.message_id, now).await? {
            return Ok(());
        }
        let event = Event {
            action: Action::MessageSent,
            subject: format!("message:{}", letter.message_id),
            details: serde_json::json!({
                "point": letter.point_code,
                "recipient": letter.recipient,
                "transport": self.transport.kind(),
                "failed_attempts": letter.attempts,
            }),
        };
        audit::record_in(
            &mut tx,
            &Actor::system(Some(&letter.dealer_code)),
            &event,
            now,
        )
        .await?;
        tx.commit().await?;
        match delivered {
            Delivered::File(path) => tracing::info!(message_id = %letter.message_id,
                point = %letter.point_code, path = %path.display(), "e-mail written to a file"),
            Delivered::Smtp(code) => tracing::info!(message_id = %letter.message_id,
                point = %letter.point_code, smtp_code = %code, "e-mail sent"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_30_seconds_to_an_hour() {
        let policy = RetryPolicy::default();
        let waits: Vec<u64> = (1..=10).map(|n| policy.delay_after(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(policy.delay_after(1_000_000).as_secs(), 3600);
        assert_eq!(policy.delay_after(0).as_secs(), 30);
    }
}
