//! A card payment's fee and commission become the dealer's when the provider takes it.
//!
//! The settlement ([`super::settle`]) credits the dealer's balance only the provider's amount
//! of the card's money (`card_payment`, netting the payment's debit to zero) and lists the
//! payment in `card_earnings_due`. When its delivery is delivered — by the delivery worker, by
//! the operator's hand ([`crate::delivery::manual`]), or found later by the background job
//! ([`earn_delivered`]: a gateway stopped between the two) — [`earn_in`] credits the rest of
//! what the card paid, the point's fee (a `card_payment` entry referenced `fee-<transaction>`),
//! and accrues the dealer's commission — at the rate of when the card paid, on the business day
//! it is earned (a day already credited is never touched again) — in the transaction that takes
//! the payment off the list: once.
//!
//! Why not at settlement, as before: a dealer who spent the fee (or the commission) before the
//! provider refused the payment left the balance too low to give the card its money back; the
//! reversal was refused by the balance's check, asked again every lease for ever, and the card
//! never refunded. Now a provider's refusal takes the payment off the list ([`forgo_in`]) and
//! the reversal takes back exactly the provider's amount its refund just credited.

use sqlx::{AnyConnection, AnyPool};

use crate::{
    audit::{self, Action, Actor, Event},
    commission::{self, Accrual},
    db::{
        batch::Batch,
        begin_write,
        bills::{self, Bill},
        ledger::{self, LedgerKind, NewEntry, Posted},
        now_ms,
        retry::{Conflict, retry},
    },
};

/// The most payments [`earn_delivered`] reads at a time.
const READ_AT_ONCE: i64 = 500;

/// What a card payment earned the dealer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Earned {
    /// The customer amount above the provider's.
    pub fee_tiyn: i64,
    /// The dealer's commission on the provider's amount, accrued on the day it was earned.
    pub commission_tiyn: i64,
}

/// Why a card payment's earnings could not be written (nothing was: it stays due).
#[derive(Debug, thiserror::Error)]
pub enum EarnError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("card payment {0}: {1}")]
    Ledger(String, String),
}

impl Conflict for EarnError {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            EarnError::Database(error) => Some(error),
            EarnError::Ledger(..) => None,
        }
    }
}

/// Lists the accepted card payment `transaction_id` of `bill` as due its fee and commission,
/// with the dealer's commission rate of now, inside the settlement's transaction.
pub async fn due_in(
    conn: &mut AnyConnection,
    transaction_id: &str,
    bill: &Bill,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let provider = bill.content.as_ref().map_or("", |c| c.provider.as_str());
    let pair = (bill.dealer_code.as_str(), provider);
    let mut batch = Batch::new(conn);
    let slot = commission::rates_into(&mut batch, &[pair]);
    let mut done = batch.run(&mut *conn).await?;
    let rate_bp = commission::rates_found(&mut done, slot)?
        .into_values()
        .next()
        .unwrap_or(0);
    sqlx::query(
        "INSERT INTO card_earnings_due (transaction_id, invoice, rate_bp, created_at_ms) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(transaction_id)
    .bind(bill.invoice)
    .bind(rate_bp)
    .bind(now_ms)
    .execute(conn)
    .await
    .map(drop)
}

/// Takes the card payment `transaction_id` off the list without earning anything (the provider
/// refused it), inside the reversal's transaction. `true` if it was due: its settlement credited
/// only the provider's amount. `false` for a cash payment, and for a card payment settled
/// before fees waited for delivery (its whole customer amount was credited then).
pub async fn forgo_in(conn: &mut AnyConnection, transaction_id: &str) -> Result<bool, sqlx::Error> {
    let forgone = sqlx::query("DELETE FROM card_earnings_due WHERE transaction_id = $1")
        .bind(transaction_id)
        .execute(conn)
        .await?;
    Ok(forgone.rows_affected() == 1)
}

/// Credits the fee and accrues the commission of the delivered card payment `transaction_id`,
/// inside the caller's write transaction, at `now_ms`. `None` when nothing is due for it (a
/// cash payment, or earned already).
pub async fn earn_in(
    conn: &mut AnyConnection,
    transaction_id: &str,
    now_ms: i64,
) -> Result<Option<Earned>, EarnError> {
    let ledger_error = |what: &str| EarnError::Ledger(transaction_id.to_owned(), what.to_owned());
    let due: Option<(i64, i64)> = sqlx::query_as(
        "DELETE FROM card_earnings_due WHERE transaction_id = $1 RETURNING invoice, rate_bp",
    )
    .bind(transaction_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((invoice, rate_bp)) = due else {
        return Ok(None);
    };
    let bill: Bill = bills::by_invoice(&mut *conn, invoice)
        .await?
        .ok_or_else(|| ledger_error("its bill is gone"))?;
    let content = bill
        .content
        .as_ref()
        .ok_or_else(|| ledger_error("its bill has no content"))?;
    let fee_tiyn = content.customer_amount_tiyn - content.amount_tiyn;
    if fee_tiyn > 0 {
        let reference = fee_reference(transaction_id);
        let fee = NewEntry {
            dealer_code: &bill.dealer_code,
            kind: LedgerKind::CardPayment,
            amount_tiyn: fee_tiyn,
            reference: &reference,
            point_code: Some(&bill.point_code),
            created_at_ms: now_ms,
        };
        match ledger::post_in(&mut *conn, &fee).await? {
            Posted::Done { .. } => {}
            other => return Err(ledger_error(&format!("fee: {other:?}"))),
        }
    }
    let accrual = Accrual {
        transaction_id,
        dealer_code: &bill.dealer_code,
        provider: &content.provider,
        amount_tiyn: content.amount_tiyn,
        rate_bp,
        accrued_at_ms: now_ms,
    };
    let mut batch = Batch::writes(conn);
    commission::accrue_all_into(&mut batch, std::slice::from_ref(&accrual));
    batch.run(&mut *conn).await?;
    let commission_tiyn = commission::commission_tiyn(content.amount_tiyn, rate_bp);
    let event = Event {
        action: Action::CardEarned,
        subject: format!("payment:{transaction_id}"),
        details: serde_json::json!({
            "invoice": invoice,
            "point": bill.point_code,
            "fee_tiyn": fee_tiyn,
            "commission_tiyn": commission_tiyn,
        }),
    };
    audit::record_in(
        &mut *conn,
        &Actor::system(Some(&bill.dealer_code)),
        &event,
        now_ms,
    )
    .await?;
    Ok(Some(Earned {
        fee_tiyn,
        commission_tiyn,
    }))
}

/// The ledger reference of a card payment's fee.
pub fn fee_reference(transaction_id: &str) -> String {
    format!("fee-{transaction_id}")
}

/// [`earn_in`] in a transaction of its own: the delivery worker's, once the provider took a
/// card payment.
pub async fn earn(
    pool: &AnyPool,
    transaction_id: &str,
    now_ms: i64,
) -> Result<Option<Earned>, EarnError> {
    retry("card earning", || async {
        let mut tx = begin_write(pool).await?;
        let earned = earn_in(&mut tx, transaction_id, now_ms).await?;
        tx.commit().await?;
        Ok(earned)
    })
    .await
}

/// Earns every delivered card payment still due (the background job, after a gateway stopped
/// between a delivery and its earning), each at the time it is earned. One that cannot be
/// earned is logged and left due; the others are earned all the same. Returns how many it
/// earned.
pub async fn earn_delivered(pool: &AnyPool) -> Result<usize, sqlx::Error> {
    let mut earned = 0;
    let mut after = (i64::MIN, String::new());
    loop {
        let due: Vec<(i64, String)> = sqlx::query_as(
            "SELECT e.created_at_ms, e.transaction_id FROM card_earnings_due e \
             JOIN deliveries d ON d.transaction_id = e.transaction_id \
             WHERE d.state = 'delivered' AND (e.created_at_ms > $1 \
               OR (e.created_at_ms = $1 AND e.transaction_id > $2)) \
             ORDER BY e.created_at_ms, e.transaction_id LIMIT $3",
        )
        .bind(after.0)
        .bind(&after.1)
        .bind(READ_AT_ONCE)
        .fetch_all(pool)
        .await?;
        let full = due.len() as i64 == READ_AT_ONCE;
        for (_, transaction_id) in &due {
            match earn(pool, transaction_id, now_ms()).await {
                Ok(Some(_)) => earned += 1,
                Ok(None) => {}
                Err(error) => tracing::error!(%transaction_id, %error,
                    "a delivered card payment's fee could not be credited; trying again later"),
            }
        }
        // Read on past the ones left due, so that one never holds up the rest.
        match due.into_iter().last() {
            Some(last) if full => after = last,
            _ => return Ok(earned),
        }
    }
}
