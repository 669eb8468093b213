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

use std::sync::{Arc, OnceLock};

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use crate::db::{
    begin_write,
    deliveries::{self, Attempt, DeliveredMark},
    retry::retry,
};

/// The most outcomes written in one transaction.
const GROUP_LIMIT: usize = 256;

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

/// The writer of delivered outcomes: one per worker, its task started with the first outcome.
#[derive(Default)]
pub struct Outcomes {
    queue: OnceLock<mpsc::UnboundedSender<(Delivered, Reply)>>,
}

impl Outcomes {
    /// Records `delivered` on `pool` in the next group; `true` when it marked the delivery
    /// delivered now (`false`: it had finished before, by hand or by another worker).
    pub async fn delivered(
        &self,
        pool: &AnyPool,
        delivered: Delivered,
    ) -> Result<bool, NotRecorded> {
        let (reply, answer) = oneshot::channel();
        let queue = self.queue.get_or_init(|| {
            let (queue, waiting) = mpsc::unbounded_channel();
            tokio::spawn(write(pool.clone(), waiting));
            queue
        });
        let gone = || NotRecorded(Arc::new("the outcome writer stopped".to_owned()));
        queue.send((delivered, reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// The writer task: takes what is waiting, writes it in one transaction, answers, again.
async fn write(pool: AnyPool, mut waiting: mpsc::UnboundedReceiver<(Delivered, Reply)>) {
    while let Some(first) = waiting.recv().await {
        let mut group = vec![first];
        while group.len() < GROUP_LIMIT {
            let Ok(more) = waiting.try_recv() else { break };
            group.push(more);
        }
        let outcomes: Vec<&Delivered> = group.iter().map(|(delivered, _)| delivered).collect();
        let (pool, outcomes) = (&pool, &outcomes);
        // Recorded whatever another transaction holds: lost here, the provider would be asked
        // again once the lease ran out.
        let written = retry("delivery outcomes", move || write_all(pool, outcomes)).await;
        match written {
            Ok(done) => {
                for ((_, reply), done) in group.into_iter().zip(done) {
                    let _ = reply.send(Ok(done));
                }
            }
            Err(error) => {
                let error = NotRecorded(Arc::new(error.to_string()));
                for (_, reply) in group {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Each outcome's attempt and its delivered mark, in one transaction of two statements;
/// whether each marked it.
async fn write_all(pool: &AnyPool, outcomes: &[&Delivered]) -> Result<Vec<bool>, sqlx::Error> {
    let attempts: Vec<(&str, &Attempt)> = outcomes
        .iter()
        .map(|delivered| (delivered.transaction_id.as_str(), &delivered.attempt))
        .collect();
    let marks: Vec<DeliveredMark<'_>> = outcomes
        .iter()
        .map(|delivered| DeliveredMark {
            transaction_id: &delivered.transaction_id,
            provider_txn: &delivered.provider_txn,
            comment: delivered.comment.as_deref(),
            at_ms: delivered.at_ms,
        })
        .collect();
    let mut tx = begin_write(pool).await?;
    deliveries::insert_attempts_in(&mut tx, &attempts).await?;
    let done = deliveries::mark_all_delivered_in(&mut tx, &marks).await?;
    tx.commit().await?;
    Ok(done)
}
