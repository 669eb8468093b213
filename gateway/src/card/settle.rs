//! A payment service says the customer's card paid a bill: the bill becomes a payment under its
//! session, in ONE transaction — the payment decided by the same code as a `pay`
//! ([`decide_in`] with [`Funding::Card`]: the provider's amount of the card's money credited,
//! the payment debited, the delivery to the provider queued; the fee and the commission listed
//! as due once it is delivered, [`super::earn`]), the bill marked paid with the card
//! transaction, the audit trail. Whatever is repeated — the notification, the phone's status
//! query before or after it — the bill is paid at most once: the bill's row moves from
//! `awaiting` to `paid` only once, and the payment's (point, session) key is unique.
//!
//! A charge that cannot become a payment is never kept: the bill expired, was cancelled, or was
//! paid already by another card transaction; another amount or currency; the point may no
//! longer pay (key revoked, point blocked); the payment's rules refuse it now (a limit reached
//! since the bill was opened). Each is refunded to the card in full ([`super::refund`]) — a
//! rule refusal keeps the rejected payment under the bill's session, so the phone's status
//! query tells the cashier why.

use std::time::Duration;

use sqlx::AnyPool;
use tolem_card_payments::Notification;
use tolem_protocol::{codes::ResultCode, messages::Step};

use super::{earn, open, receipt, refund};
use crate::{
    audit::{self, Action, Actor, Event},
    db::{
        begin_write_waiting,
        bills::{self, Bill, BillState},
        retry::Conflict,
    },
    payments::pay::{Candidate, Funding, Paid, PayError, decide_in},
};

/// The currency every bill is in.
pub const CURRENCY: &str = "KZT";

/// What became of a paid notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The bill is now the payment `transaction_id` (`accepted`: the rules took it; otherwise it
    /// is a rejected payment and the card is being refunded).
    Paid {
        transaction_id: String,
        accepted: bool,
    },
    /// This card transaction paid the bill before: nothing changed.
    AlreadyPaid { transaction_id: String },
    /// The charge could not be settled; it is being refunded to the card.
    Refunded { why: &'static str },
}

/// Why a paid notification was not settled now; nothing of it is written, and the payment
/// service sends it again.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Pay(#[from] PayError),
    /// Another transaction held the dealer's row (a console or `psql` session left open)
    /// longer than `lock_wait`.
    #[error("dealer {0}'s row stayed held by another transaction")]
    DealerHeld(String),
    /// The bill changed while it was being settled, twice in a row: the service's next
    /// notification judges it again.
    #[error("bill {0} changed while it was being settled")]
    Changed(i64),
}

/// Settles `bill` by the verified `paid` notification, at `now_ms`, waiting at most
/// `lock_wait` for a row another transaction holds (PostgreSQL; the payment writer's
/// [`HeldDealers::wait`](crate::payments::group::HeldDealers)): a notification waiting for
/// as long as the dealer's row stays held would hold a pooled connection all that time, and
/// the service, its answer overdue, sends it again — one more waiting, until the pool is
/// empty and no request of the gateway gets a connection.
pub async fn settle(
    pool: &AnyPool,
    bill: &Bill,
    paid: &Notification,
    now_ms: i64,
    lock_wait: Duration,
) -> Result<Settled, SettleError> {
    if let Some(settled) = settle_as_read(pool, bill, paid, now_ms, lock_wait).await? {
        return Ok(settled);
    }
    // The bill changed between its read and the transaction: the cashier cancelled it, or
    // another settlement paid it — this card transaction's (a repeated notification) or
    // another card's (two charges for one bill at once). Judged again as it is now, so that a
    // charge that did not pay it is refunded, never kept as "paid already".
    let now = {
        let mut conn = pool.acquire().await?;
        bills::by_invoice(&mut conn, bill.invoice).await?
    };
    let now = now.ok_or(SettleError::Changed(bill.invoice))?;
    settle_as_read(pool, &now, paid, now_ms, lock_wait)
        .await?
        .ok_or(SettleError::Changed(bill.invoice))
}

/// [`settle`] with `bill` as read; `None` when the bill turned out to have changed since
/// (nothing written then).
async fn settle_as_read(
    pool: &AnyPool,
    bill: &Bill,
    paid: &Notification,
    now_ms: i64,
    lock_wait: Duration,
) -> Result<Option<Settled>, SettleError> {
    let transaction = paid.transaction.as_deref();
    let refund_charge = |why: &'static str| async move {
        refund::refund_unsettled(pool, bill, transaction, paid.amount_tiyn, why, now_ms).await?;
        Ok::<_, SettleError>(Some(Settled::Refunded { why }))
    };
    if bill.state == BillState::Paid {
        if bill.card_transaction.as_deref() == transaction {
            return Ok(Some(Settled::AlreadyPaid {
                transaction_id: bill.transaction_id.clone().unwrap_or_default(),
            }));
        }
        return refund_charge("paid already by another card transaction").await;
    }
    let Some(content) = bill.content.as_ref().filter(|_| bill.payable(now_ms)) else {
        if bill.state == BillState::Awaiting {
            let mut conn = pool.acquire().await?;
            bills::finish_unpaid(&mut conn, bill.invoice, BillState::Expired, now_ms).await?;
        }
        return refund_charge("the bill can no longer be paid").await;
    };
    if paid.amount_tiyn != content.customer_amount_tiyn || paid.currency != CURRENCY {
        return refund_charge("another amount or currency than the bill's").await;
    }
    let sender = match open::authorize(
        pool,
        content.request_body.clone(),
        &content.request_signature,
    )
    .await
    {
        Ok(sender) => sender,
        Err(error) => {
            tracing::warn!(invoice = bill.invoice, %error,
                "a paid bill's point may no longer pay: cancelled and refunded");
            let mut conn = pool.acquire().await?;
            bills::finish_unpaid(&mut conn, bill.invoice, BillState::Cancelled, now_ms).await?;
            return refund_charge("the point may no longer take payments").await;
        }
    };
    let Step::Bill(signed) = &sender.request.step else {
        return refund_charge("the stored bill is not a bill").await;
    };
    let candidate = Candidate::new(&sender, &signed.payment);

    // Read before the transaction: the receipt names the provider.
    let provider_name = match bill.email {
        Some(_) => provider_name(pool, &content.provider).await,
        None => String::new(),
    };
    let mut tx = begin_write_waiting(pool, lock_wait).await?;
    let decided = match decide_in(&mut tx, candidate, Funding::Card, now_ms).await {
        Err(error) if error.is_lock_timeout() => {
            return Err(SettleError::DealerHeld(sender.point.dealer_code.clone()));
        }
        decided => decided?,
    };
    if let Paid::Refused(code) = decided {
        // Blocked or revoked while the notification waited for the lock: as before it.
        tx.rollback().await?;
        tracing::warn!(
            invoice = bill.invoice,
            code = code.number(),
            "a paid bill's point may no longer pay: cancelled and refunded"
        );
        let mut conn = pool.acquire().await?;
        bills::finish_unpaid(&mut conn, bill.invoice, BillState::Cancelled, now_ms).await?;
        return refund_charge("the point may no longer take payments").await;
    }
    let Paid::Decided {
        code,
        transaction_id,
        ..
    } = decided
    else {
        // The session has a payment already. Nothing written.
        tx.rollback().await?;
        let mut conn = pool.acquire().await?;
        let now = bills::by_invoice(&mut conn, bill.invoice).await?;
        if now.is_some_and(|now| now.state == BillState::Awaiting) {
            // Not this bill's: a cash `pay` of the point reused the bill's session (no phone
            // of ours does; a damaged or forged one can). The bill can never be paid now, so
            // the charge goes back, never kept for a payment that will not be made.
            tracing::warn!(invoice = bill.invoice, session = %bill.session,
                "a paid bill's session is another payment's: cancelled and refunded");
            bills::finish_unpaid(&mut conn, bill.invoice, BillState::Cancelled, now_ms).await?;
            drop(conn);
            return refund_charge("the bill's session is another payment's").await;
        }
        // Otherwise a concurrent settlement won: judged again as the bill is now.
        return Ok(None);
    };
    if !bills::mark_paid(&mut tx, bill.invoice, &transaction_id, transaction, now_ms).await? {
        // No longer awaiting: cancelled or paid meanwhile. Nothing written.
        tx.rollback().await?;
        return Ok(None);
    }
    let accepted = code == ResultCode::Ok;
    if accepted {
        earn::due_in(&mut tx, &transaction_id, bill, now_ms).await?;
    }
    if let Some(to) = bill.email.as_deref().filter(|_| accepted) {
        let receipt = receipt::Receipt {
            bill,
            sender: &sender,
            transaction_id: &transaction_id,
            provider_name: &provider_name,
            account: &content.account,
            amount_tiyn: content.amount_tiyn,
            customer_amount_tiyn: content.customer_amount_tiyn,
            paid_at_ms: now_ms,
        };
        receipt::queue_in(&mut tx, &receipt, to, now_ms).await?;
    }
    if !accepted {
        refund::request_in(
            &mut tx,
            bill,
            transaction,
            paid.amount_tiyn,
            refund::Reason::NotSettled,
            None,
            now_ms,
        )
        .await?;
    }
    let event = Event {
        action: Action::CardPaid,
        subject: format!("payment:{transaction_id}"),
        details: serde_json::json!({
            "invoice": bill.invoice,
            "point": bill.point_code,
            "session": bill.session,
            "amount_tiyn": paid.amount_tiyn,
            "card_transaction": transaction,
            "code": code.number(),
            "refunded": !accepted,
        }),
    };
    audit::record_in(
        &mut tx,
        &Actor::system(Some(&bill.dealer_code)),
        &event,
        now_ms,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(invoice = bill.invoice, %transaction_id, code = code.number(),
        "bill paid by card");
    Ok(Some(Settled::Paid {
        transaction_id,
        accepted,
    }))
}

/// The provider's name for the receipt (its code if the catalogue cannot say).
async fn provider_name(pool: &AnyPool, code: &str) -> String {
    let Ok(mut conn) = pool.acquire().await else {
        return code.to_owned();
    };
    match crate::db::providers::payable_provider(&mut conn, code).await {
        Ok(Ok(provider)) => provider.name,
        _ => code.to_owned(),
    }
}
