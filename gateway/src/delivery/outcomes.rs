//! The "delivered" outcomes of delivery attempts, written in groups: every outcome waiting at
//! that moment in one write transaction and one commit, instead of one commit per delivered
//! payment. Each attempt still waits for its own outcome to be committed before it lets its
//! job go, so a crash loses nothing but the claim, which runs out and the job is sent again
//! (with the same provider transaction number: the provider answers with its first outcome).
//!
//! Why: on SQLite every delivered payment's commit took the database's one write lock, in turn
//! with the payment writer's groups ([`crate::payments::group`]) and every other delivery: with
//! deliveries running alongside payments, those commits were most of the lock's time (issue 14).
//! Only the delivered outcome is grouped: it is the one every payment has; a temporary failure
//! or a final refusal (a reversal) is rare and keeps its own transaction.
//!
//! And on SQLite the outcomes ride along with the payments: the payment writer that shares these
//! [`Outcomes`] (the gateway's own, see [`super::DeliveryQueue`]) writes those waiting in its
//! group's transaction ([`Outcomes::write_waiting_in`]), before its one commit. The outcomes'
//! own writer takes what is waiting only once it holds the write lock, so under load, when a
//! payment group has just had the lock, it usually finds nothing left and gives its turn back
//! at once: one commit (one fsync) less per group (issue 14: on SQLite a payment group waited
//! longer for the lock than it took to decide, behind two delivery commits each time).

use std::sync::{Arc, Mutex, OnceLock};

use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{Notify, oneshot};

use crate::db::{
    begin_write,
    deliveries::{self, Attempt, DeliveredMark},
    retry::{self, Conflict},
};

/// The most outcomes written in one transaction.
const GROUP_LIMIT: usize = 256;

/// How long the outcomes' own writer waits before writing again after a transient conflict
/// (PostgreSQL's serialization failure or deadlock).
const CONFLICT_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// A delivered attempt to record.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub transaction_id: String,
    pub attempt: Attempt,
    pub provider_txn: String,
    pub comment: Option<String>,
    pub at_ms: i64,
}

/// Why an outcome was not recorded: the group it was written in failed as a whole.
#[derive(Debug, Clone, thiserror::Error)]
#[error("delivery outcomes not recorded: {0}")]
pub struct NotRecorded(Arc<String>);

type Reply = oneshot::Sender<Result<bool, NotRecorded>>;

/// Delivered outcomes waiting to be written, shared by the delivery worker that records them
/// and the payment writer that takes them along; their own writer's task starts with the first.
#[derive(Default)]
pub struct Outcomes {
    waiting: Mutex<Vec<(Delivered, Reply)>>,
    arrived: Notify,
    writer: OnceLock<()>,
}

impl Outcomes {
    /// Records `delivered` on `pool` in the next group; `true` when it marked the delivery
    /// delivered now (`false`: it had finished before, by hand or by another worker).
    pub async fn delivered(
        self: &Arc<Self>,
        pool: &AnyPool,
        delivered: Delivered,
    ) -> Result<bool, NotRecorded> {
        self.writer.get_or_init(|| {
            tokio::spawn(write(pool.clone(), self.clone()));
        });
        let (reply, answer) = oneshot::channel();
        self.lock().push((delivered, reply));
        self.arrived.notify_one();
        answer
            .await
            .map_err(|_| NotRecorded(Arc::new("the outcome writer stopped".to_owned())))?
    }

    /// Writes the outcomes waiting now (up to [`GROUP_LIMIT`]) in the caller's write
    /// transaction, inside a savepoint of their own: if they cannot be written, the caller's
    /// own writes stand (a payment group never fails for a delivery's sake) and their callers
    /// hear they were not recorded. Those written are answered by [`Riding::committed`] once the
    /// caller has committed, or told they were not recorded if it never does (the [`Riding`]
    /// dropped). `Err` only when the savepoint itself failed: the transaction is unusable.
    pub async fn write_waiting_in(&self, tx: &mut AnyConnection) -> Result<Riding, sqlx::Error> {
        let mut riding = Riding {
            taken: self.take(),
            done: Vec::new(),
        };
        if riding.taken.is_empty() {
            return Ok(riding);
        }
        let mut savepoint = tx.begin().await?;
        match write_all_in(&mut savepoint, &riding.taken).await {
            Ok(done) => {
                savepoint.commit().await?;
                riding.done = done;
                Ok(riding)
            }
            Err(error) => {
                savepoint.rollback().await?;
                tracing::error!(outcomes = riding.taken.len(), %error,
                    "delivery outcomes not recorded with the payment group");
                drop(riding);
                Ok(Riding::default())
            }
        }
    }

    /// What is waiting, oldest first, up to [`GROUP_LIMIT`]; the rest stays (and its writer is
    /// woken for it).
    fn take(&self) -> Vec<(Delivered, Reply)> {
        let mut waiting = self.lock();
        let cut = waiting.len().min(GROUP_LIMIT);
        let rest = waiting.split_off(cut);
        let taken = std::mem::replace(&mut *waiting, rest);
        if !waiting.is_empty() {
            self.arrived.notify_one();
        }
        taken
    }

    /// Puts outcomes back at the head of the line, for the next writer.
    fn put_back(&self, mut taken: Vec<(Delivered, Reply)>) {
        let mut waiting = self.lock();
        taken.append(&mut waiting);
        *waiting = taken;
        self.arrived.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Delivered, Reply)>> {
        // A panic while holding it left a plain list behind: nothing half-done to distrust.
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Outcomes written in another writer's transaction, waiting for its commit.
#[must_use = "answer the outcomes' callers once the transaction has committed"]
#[derive(Default)]
pub struct Riding {
    taken: Vec<(Delivered, Reply)>,
    done: Vec<bool>,
}

impl Riding {
    /// Outcomes that no transaction carries: dropped, it tells their callers so.
    fn unrecorded(taken: Vec<(Delivered, Reply)>) -> Self {
        Riding {
            taken,
            done: Vec::new(),
        }
    }

    /// The transaction committed: each caller hears whether its outcome marked the delivery.
    pub fn committed(mut self) {
        let done = std::mem::take(&mut self.done);
        for ((_, reply), done) in std::mem::take(&mut self.taken).into_iter().zip(done) {
            let _ = reply.send(Ok(done));
        }
    }
}

impl Drop for Riding {
    /// Not committed: nothing of them is stored, and their callers hear so (the delivery goes
    /// out again with the same number once its claim runs out, as after any failed write).
    fn drop(&mut self) {
        let error = NotRecorded(Arc::new(
            "the transaction that carried them did not commit".to_owned(),
        ));
        for (_, reply) in self.taken.drain(..) {
            let _ = reply.send(Err(error.clone()));
        }
    }
}

/// The outcomes' own writer: at each arrival, takes its turn at the write lock, then writes
/// what is still waiting (a payment group may have taken it along meanwhile) in one
/// transaction, and answers — until the gateway stops.
///
/// It never leaves a caller waiting on a write that will not come: when it cannot begin, or
/// meets a concurrent transaction [`retry::ATTEMPTS`] times in a row, it tells the outcomes
/// waiting then that they were not recorded. Their deliveries' claims run out and they go out
/// again with the same number, which the provider answers with its first outcome. (Before, a
/// failed begin left them for "the next arrival", which after the last delivery of a burst
/// never came, and a conflict that did not clear was tried again without end.)
async fn write(pool: AnyPool, outcomes: Arc<Outcomes>) {
    let mut conflicts = 0;
    loop {
        outcomes.arrived.notified().await;
        if outcomes.lock().is_empty() {
            // A payment group took them along already: no turn needed.
            continue;
        }
        let mut tx = match begin_write(&pool).await {
            Ok(tx) => tx,
            Err(error) => {
                let taken = outcomes.take();
                tracing::error!(outcomes = taken.len(), %error,
                    "delivery outcomes not recorded: no write transaction");
                drop(Riding::unrecorded(taken));
                continue;
            }
        };
        let taken = outcomes.take();
        if taken.is_empty() {
            if let Err(error) = tx.rollback().await {
                tracing::warn!(%error, "an empty turn of the outcome writer did not end cleanly");
            }
            continue;
        }
        let written = async {
            let done = write_all_in(&mut tx, &taken).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(done)
        }
        .await;
        match written {
            Ok(done) => {
                conflicts = 0;
                Riding { taken, done }.committed();
            }
            // Recorded whatever another transaction holds: written again in the next turn.
            Err(error) if error.is_transient_conflict() && conflicts + 1 < retry::ATTEMPTS => {
                conflicts += 1;
                tracing::info!(%error, conflicts, "delivery outcomes met a concurrent transaction; again");
                // A moment for the other transaction to end, as `db::retry` waits.
                tokio::time::sleep(CONFLICT_WAIT).await;
                outcomes.put_back(taken);
            }
            Err(error) => {
                conflicts = 0;
                tracing::error!(outcomes = taken.len(), %error, "delivery outcomes not recorded");
                drop(Riding::unrecorded(taken));
            }
        }
    }
}

/// Each outcome's attempt and its delivered mark, in the caller's transaction, in two
/// statements; whether each marked it.
async fn write_all_in(
    tx: &mut AnyConnection,
    outcomes: &[(Delivered, Reply)],
) -> Result<Vec<bool>, sqlx::Error> {
    let attempts: Vec<(&str, &Attempt)> = outcomes
        .iter()
        .map(|(delivered, _)| (delivered.transaction_id.as_str(), &delivered.attempt))
        .collect();
    let marks: Vec<DeliveredMark<'_>> = outcomes
        .iter()
        .map(|(delivered, _)| DeliveredMark {
            transaction_id: &delivered.transaction_id,
            provider_txn: &delivered.provider_txn,
            comment: delivered.comment.as_deref(),
            at_ms: delivered.at_ms,
        })
        .collect();
    deliveries::insert_attempts_in(tx, &attempts).await?;
    deliveries::mark_all_delivered_in(tx, &marks).await
}
