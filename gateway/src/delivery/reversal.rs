//! A provider's final refusal reverses the payment, in ONE transaction with the attempt that
//! brought it: the delivery is marked failed, the payment refunded, the dealer's ledger is
//! credited back (`refund`), the commission accrued on the payment is reversed, and the audit
//! trail records it. Either all of it or none; a second refusal of the same payment (another
//! worker) changes nothing. A refusal of a payment the operator marked delivered while its
//! attempt was in flight reverses nothing either, but its attempt is kept and the audit trail
//! records it (`delivery.refused_after_marked`): the dispute with the provider starts there.
//! The operator's *mark refused* ([`super::manual`]) reverses a payment as a refusal does; the
//! mirror case, a provider *taking* a payment whose delivery failed meanwhile (marked refused
//! by the operator while an attempt was in flight), is audited too
//! (`delivery.delivered_after_refused`, [`delivered_after_finish`]): the dealer has the money
//! back and the provider has it as well.
//!
//! The commission: while its business day is not credited yet, the accrual is only marked
//! reversed and the day's credit leaves it out — the dealer's balance is back exactly where it
//! was before the payment. Once the day was credited, a negative `commission` entry takes it
//! back. The refund entry is posted first: it locks the dealer's row (PostgreSQL), which the
//! daily credit also takes before it sums the day, so the two never both count a commission.

use sqlx::{AnyConnection, AnyPool};
use tolem_protocol::messages::ProviderRefusal;

use super::refusal_text;
use crate::{
    audit::{self, Action, Actor, Event},
    db::{
        begin_write, day_sums,
        deliveries::{self, Attempt, Claimed},
        ledger::{self, LedgerKind, NewEntry, Posted},
    },
};

/// The provider's final word.
#[derive(Debug, Clone)]
pub struct Refusal<'a> {
    /// The provider's result code.
    pub result_code: i64,
    pub refusal: ProviderRefusal,
    pub comment: Option<&'a str>,
}

/// Why a reversal could not be written (nothing was: the job stays claimed and is tried again
/// when its claim runs out).
#[derive(Debug, thiserror::Error)]
pub enum ReversalError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("inconsistent ledger for {0}: {1}")]
    Ledger(String, String),
    #[error("the dealer's balance is too low to take the money back")]
    InsufficientFunds,
}

/// Reverses the claimed payment `job` after `attempt` brought `refusal`. `false` when the
/// delivery had finished already: only the attempt is kept (and a refusal of a payment marked
/// delivered audited, see [`refused_after_finish_in`]).
pub async fn reverse(
    pool: &AnyPool,
    job: &Claimed,
    attempt: &Attempt,
    refusal: &Refusal<'_>,
    now_ms: i64,
) -> Result<bool, ReversalError> {
    let mut tx = begin_write(pool).await?;
    deliveries::insert_attempt_in(&mut tx, &job.transaction_id, attempt).await?;
    let Some(commission_tiyn) =
        fail_and_refund_in(&mut tx, &Payment::from(job), refusal, now_ms).await?
    else {
        // Finished meanwhile. The attempt stays on record all the same: when the operator had
        // marked it delivered while this attempt was in flight, the provider's refusal is what
        // a dispute with the provider starts from.
        refused_after_finish_in(&mut tx, job, refusal, now_ms).await?;
        tx.commit().await?;
        return Ok(false);
    };
    let event = Event {
        action: Action::PaymentRefunded,
        subject: format!("payment:{}", job.transaction_id),
        details: serde_json::json!({
            "point": job.point_code,
            "provider": job.provider,
            "amount_tiyn": job.amount_tiyn,
            "commission_reversed_tiyn": commission_tiyn,
            "result": refusal.result_code,
            "reason": refusal_text(refusal.refusal),
            "comment": refusal.comment,
        }),
    };
    audit::record_in(
        &mut tx,
        &Actor::system(Some(&job.dealer_code)),
        &event,
        now_ms,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(transaction_id = %job.transaction_id, provider = %job.provider,
        result = refusal.result_code, amount_tiyn = job.amount_tiyn, commission_tiyn,
        "payment refused by the provider and refunded");
    Ok(true)
}

/// A final refusal of a delivery that had finished already, inside the attempt's transaction:
/// nothing is reversed (a delivery marked delivered stays delivered, its money where it was),
/// but a refusal of one marked delivered is audited and warned about — the provider says it does
/// not have a payment the gateway counts as delivered. Another worker's refusal of the same
/// payment (failed already) needs nothing more than its attempt.
async fn refused_after_finish_in(
    conn: &mut AnyConnection,
    job: &Claimed,
    refusal: &Refusal<'_>,
    now_ms: i64,
) -> Result<(), ReversalError> {
    let Some(delivery) = deliveries::find(&mut *conn, &job.transaction_id).await? else {
        return Ok(());
    };
    if delivery.state != deliveries::State::Delivered {
        return Ok(());
    }
    let event = Event {
        action: Action::DeliveryRefusedAfterMarked,
        subject: format!("payment:{}", job.transaction_id),
        details: serde_json::json!({
            "point": job.point_code,
            "provider": job.provider,
            "amount_tiyn": job.amount_tiyn,
            "attempt": job.attempt,
            "provider_txn": delivery.provider_txn,
            "marked_by": delivery.marked_by,
            "result": refusal.result_code,
            "reason": refusal_text(refusal.refusal),
            "comment": refusal.comment,
        }),
    };
    audit::record_in(
        &mut *conn,
        &Actor::system(Some(&job.dealer_code)),
        &event,
        now_ms,
    )
    .await?;
    tracing::warn!(transaction_id = %job.transaction_id, provider = %job.provider,
        result = refusal.result_code, amount_tiyn = job.amount_tiyn,
        marked_by = delivery.marked_by.as_deref().unwrap_or("-"),
        provider_txn = delivery.provider_txn.as_deref().unwrap_or("-"),
        "the provider refused a payment already marked delivered; nothing reversed — \
         settle it with the provider");
    Ok(())
}

/// The provider accepted the claimed payment `job` (under its number `provider_txn`, if it gave
/// one) after its delivery had finished — the outcome was not written, its attempt was kept
/// ([`super::riders::Riders::record`]). Finished *failed* (marked refused by the operator while
/// the attempt was in flight, the dealer's money given back, a card's refunded): the provider
/// has the payment all the same, so the audit trail records it
/// (`delivery.delivered_after_refused`, who marked it refused if the trail knows) and a warning
/// is logged — the operator must settle it with the provider. Finished *delivered* (by hand, or
/// another worker): the same word twice, nothing more than a note in the log.
pub async fn delivered_after_finish(
    pool: &AnyPool,
    job: &Claimed,
    provider_txn: Option<&str>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    let Some(delivery) = deliveries::find(&mut tx, &job.transaction_id).await? else {
        return Ok(());
    };
    match delivery.state {
        deliveries::State::Failed => {}
        deliveries::State::Delivered => {
            tracing::info!(transaction_id = %job.transaction_id, provider = %job.provider,
                attempt = job.attempt, provider_txn = provider_txn.unwrap_or("-"),
                marked_by = delivery.marked_by.as_deref().unwrap_or("-"),
                "the provider took a payment already delivered");
            return Ok(());
        }
        // Unfinished: another outcome of it was written in this one's place; nothing to say.
        deliveries::State::Queued | deliveries::State::Sent | deliveries::State::Retrying => {
            return Ok(());
        }
    }
    let subject = format!("payment:{}", job.transaction_id);
    // Who marked it refused, if a person did: the trail's own record of it, written at the
    // time it was marked failed (found by the trail's index on time, not by a scan).
    let marked_by: Option<String> = sqlx::query_scalar(
        "SELECT actor FROM audit_log WHERE at_ms = $1 AND action = $2 AND subject = $3 \
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(delivery.finished_at_ms)
    .bind(Action::DeliveryMarkedRefused.as_str())
    .bind(&subject)
    .fetch_optional(&mut *tx)
    .await?;
    let event = Event {
        action: Action::DeliveryDeliveredAfterRefused,
        subject,
        details: serde_json::json!({
            "point": job.point_code,
            "provider": job.provider,
            "amount_tiyn": job.amount_tiyn,
            "attempt": job.attempt,
            "provider_txn": provider_txn,
            "marked_by": marked_by,
            "result": delivery.result_code,
            "reason": delivery.refusal,
            "comment": delivery.comment,
        }),
    };
    audit::record_in(
        &mut tx,
        &Actor::system(Some(&job.dealer_code)),
        &event,
        now_ms,
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(transaction_id = %job.transaction_id, provider = %job.provider,
        amount_tiyn = job.amount_tiyn, provider_txn = provider_txn.unwrap_or("-"),
        marked_by = marked_by.as_deref().unwrap_or("-"),
        "the provider took a payment already refused and refunded; the money went back and \
         the provider has it too — settle it with the provider");
    Ok(())
}

/// What a reversal needs of the payment it gives back.
#[derive(Debug, Clone, Copy)]
pub struct Payment<'a> {
    pub transaction_id: &'a str,
    pub dealer_code: &'a str,
    pub point_code: &'a str,
    pub amount_tiyn: i64,
}

impl<'a> From<&'a Claimed> for Payment<'a> {
    fn from(job: &'a Claimed) -> Self {
        Payment {
            transaction_id: &job.transaction_id,
            dealer_code: &job.dealer_code,
            point_code: &job.point_code,
            amount_tiyn: job.amount_tiyn,
        }
    }
}

/// Marks the delivery of `payment` failed with `refusal` if it is still unfinished, and gives its
/// money back ([`refund_in`]), inside the caller's transaction: a provider's final refusal, or
/// the operator's word for a provider that never gives one ([`super::manual`]). Returns the
/// commission reversed, or `None` when the delivery had finished already (nothing changed).
pub async fn fail_and_refund_in(
    conn: &mut AnyConnection,
    payment: &Payment<'_>,
    refusal: &Refusal<'_>,
    now_ms: i64,
) -> Result<Option<i64>, ReversalError> {
    let failed = deliveries::mark_failed_in(
        &mut *conn,
        payment.transaction_id,
        refusal.result_code,
        refusal.comment,
        &refusal_text(refusal.refusal),
        now_ms,
    )
    .await?;
    if !failed {
        return Ok(None);
    }
    refund_in(conn, payment, now_ms).await.map(Some)
}

/// The money part: the payment marked refunded, its amount back on the dealer's balance, its
/// commission reversed (see the module docs). Returns the commission reversed.
async fn refund_in(
    conn: &mut AnyConnection,
    payment: &Payment<'_>,
    now_ms: i64,
) -> Result<i64, ReversalError> {
    let ledger_error =
        |what: String| ReversalError::Ledger(payment.transaction_id.to_owned(), what);
    let marked = sqlx::query(
        "UPDATE payments SET refunded_at_ms = $1 \
         WHERE transaction_id = $2 AND state = 'accepted' AND refunded_at_ms IS NULL",
    )
    .bind(now_ms)
    .bind(payment.transaction_id)
    .execute(&mut *conn)
    .await?;
    if marked.rows_affected() != 1 {
        return Err(ledger_error(
            "the payment is not an unrefunded accepted one".into(),
        ));
    }
    let refund = NewEntry {
        dealer_code: payment.dealer_code,
        kind: LedgerKind::Refund,
        amount_tiyn: payment.amount_tiyn,
        reference: payment.transaction_id,
        point_code: Some(payment.point_code),
        created_at_ms: now_ms,
    };
    match ledger::post_in(&mut *conn, &refund).await? {
        Posted::Done { .. } => {}
        other => return Err(ledger_error(format!("refund: {other:?}"))),
    }
    // After the dealer's row (locked by the posting): see `day_sums` on the order of locks.
    day_sums::take_back_in(&mut *conn, payment.transaction_id).await?;
    let commission_tiyn = reverse_commission_in(
        &mut *conn,
        payment.transaction_id,
        payment.dealer_code,
        payment.point_code,
        now_ms,
    )
    .await?;
    // A bill paid by card: its money goes back to the card too.
    crate::card::refund::after_reversal_in(&mut *conn, payment.transaction_id, now_ms)
        .await
        .map_err(|error| ledger_error(format!("card refund: {error}")))?;
    Ok(commission_tiyn)
}

/// Reverses the commission accrued on the payment `transaction_id` (see the module docs):
/// marked reversed, and taken back from the balance if its day was credited already. Returns
/// the commission reversed (0 when there was none).
pub async fn reverse_commission_in(
    conn: &mut AnyConnection,
    transaction_id: &str,
    dealer_code: &str,
    point_code: &str,
    now_ms: i64,
) -> Result<i64, ReversalError> {
    let ledger_error = |what: String| ReversalError::Ledger(transaction_id.to_owned(), what);
    let accrued: Option<(i64, i64)> = sqlx::query_as(
        "SELECT commission_tiyn, day_start_ms FROM commission_accruals \
         WHERE transaction_id = $1 AND reversed_at_ms IS NULL",
    )
    .bind(transaction_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((commission_tiyn, day_start_ms)) = accrued else {
        return Ok(0);
    };
    sqlx::query("UPDATE commission_accruals SET reversed_at_ms = $1 WHERE transaction_id = $2")
        .bind(now_ms)
        .bind(transaction_id)
        .execute(&mut *conn)
        .await?;
    let credited: Option<i64> = sqlx::query_scalar(
        "SELECT commission_tiyn FROM commission_credits \
         WHERE dealer_code = $1 AND day_start_ms = $2",
    )
    .bind(dealer_code)
    .bind(day_start_ms)
    .fetch_optional(&mut *conn)
    .await?;
    if credited.is_some() && commission_tiyn > 0 {
        let reference = format!("reversal-{transaction_id}");
        let taken_back = NewEntry {
            dealer_code,
            kind: LedgerKind::Commission,
            amount_tiyn: -commission_tiyn,
            reference: &reference,
            point_code: Some(point_code),
            created_at_ms: now_ms,
        };
        // After a provider's refusal the refund just credited more than the commission, so
        // this cannot go below zero; a console refund reports a balance too low to take it.
        match ledger::post_in(&mut *conn, &taken_back).await? {
            Posted::Done { .. } => {}
            Posted::InsufficientFunds => return Err(ReversalError::InsufficientFunds),
            other => return Err(ledger_error(format!("commission back: {other:?}"))),
        }
    }
    Ok(commission_tiyn)
}
