//! What a person may do about a delivery: ask for it to be tried again now (the dealer's
//! full-access user or the operator), or — the operator only, after settling a dispute with
//! the provider — mark it delivered with the provider's own number, or mark it refused with a
//! reason when the provider never gives a final answer (gone, answering 90 or timing out for
//! days), which reverses it as a provider's refusal would. Each confirmed with a one-time code
//! by the console and written to the audit trail with the change.

use sqlx::AnyConnection;
use tolem_protocol::messages::ProviderRefusal;
use tolem_providers::adapter::is_provider_txn;

use super::reversal::{self, Payment, Refusal, ReversalError};
use crate::{
    audit::{self, Action, Actor, Event},
    card::earn::{self, EarnError},
    db::deliveries,
};

/// The result code a delivery marked refused by hand is kept with: OSMP's 300, "another
/// error of the provider's", final — the provider gave none of its own.
const MARKED_REFUSED_RESULT: i64 = 300;
/// The longest reason for marking a delivery refused, in characters.
const REASON_MAX_CHARS: usize = 500;

/// Why a manual action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManualError {
    #[error("no such delivery")]
    NotFound,
    #[error("the delivery has finished already")]
    Finished,
    #[error("the provider's number must be 1 to 64 letters, digits or - _ /")]
    BadProviderTxn,
    #[error("a reason of 1 to 500 characters is required")]
    BadReason,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Earn(#[from] EarnError),
    #[error(transparent)]
    Reversal(#[from] ReversalError),
}

impl ManualError {
    /// The translation key of the reason.
    pub fn message_key(&self) -> &'static str {
        match self {
            ManualError::NotFound => "deliveries.error_not_found",
            ManualError::Finished => "deliveries.error_finished",
            ManualError::BadProviderTxn => "deliveries.error_provider_txn",
            ManualError::BadReason => "deliveries.error_reason",
            ManualError::Database(_) | ManualError::Earn(_) | ManualError::Reversal(_) => {
                "errors.internal"
            }
        }
    }
}

/// The delivery of `transaction_id` if `dealer_code` (None: the operator, any dealer) may act
/// on it.
async fn delivery_of(
    conn: &mut AnyConnection,
    dealer_code: Option<&str>,
    transaction_id: &str,
) -> Result<deliveries::Delivery, ManualError> {
    let owner: Option<String> =
        sqlx::query_scalar("SELECT dealer_code FROM payments WHERE transaction_id = $1")
            .bind(transaction_id)
            .fetch_optional(&mut *conn)
            .await?;
    match (owner, dealer_code) {
        (None, _) => return Err(ManualError::NotFound),
        (Some(owner), Some(dealer)) if owner != dealer => return Err(ManualError::NotFound),
        _ => {}
    }
    deliveries::find(conn, transaction_id)
        .await?
        .ok_or(ManualError::NotFound)
}

/// Makes an unfinished delivery due now, inside the caller's transaction.
pub async fn retry_now_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    dealer_code: Option<&str>,
    transaction_id: &str,
    now_ms: i64,
) -> Result<(), ManualError> {
    let delivery = delivery_of(conn, dealer_code, transaction_id).await?;
    // Not made due when it is finished — or when an attempt is in flight right now, which is
    // the retry the person asked for (refusing it would tell them the delivery had finished).
    if !deliveries::make_due_now(conn, transaction_id, now_ms).await?
        && matches!(
            delivery.state,
            deliveries::State::Delivered | deliveries::State::Failed
        )
    {
        return Err(ManualError::Finished);
    }
    let event = Event {
        action: Action::DeliveryRetried,
        subject: format!("payment:{transaction_id}"),
        details: serde_json::json!({
            "provider": delivery.provider,
            "attempts": delivery.attempts,
            "state": delivery.state.as_str(),
        }),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    Ok(())
}

/// Marks an unfinished delivery delivered with the provider's number `provider_txn` (the
/// operator, after the provider confirmed it took the payment), inside the caller's
/// transaction; a card payment's fee and commission are earned with it.
pub async fn mark_delivered_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    transaction_id: &str,
    provider_txn: &str,
    now_ms: i64,
) -> Result<(), ManualError> {
    let provider_txn = provider_txn.trim();
    if !is_provider_txn(provider_txn) {
        return Err(ManualError::BadProviderTxn);
    }
    let delivery = delivery_of(conn, None, transaction_id).await?;
    let marked = deliveries::mark_delivered_in(
        conn,
        transaction_id,
        provider_txn,
        Some("marked delivered by hand"),
        Some(&actor.who),
        now_ms,
    )
    .await?;
    if !marked {
        return Err(ManualError::Finished);
    }
    let event = Event {
        action: Action::DeliveryMarked,
        subject: format!("payment:{transaction_id}"),
        details: audit::change(
            serde_json::json!({ "state": delivery.state.as_str(), "attempts": delivery.attempts }),
            serde_json::json!({ "state": "delivered", "provider_txn": provider_txn }),
        ),
    };
    // A card payment's fee and commission are the dealer's now. Before the audit row: every
    // writer locks the dealer's row before the audit chain's (PostgreSQL), or two deadlock.
    earn::earn_in(conn, transaction_id, now_ms).await?;
    audit::record_in(conn, actor, &event, now_ms).await?;
    Ok(())
}

/// Marks an unfinished delivery refused (the operator, when the provider never gives a final
/// answer), with the operator's `reason`, inside the caller's transaction: reversed exactly as
/// a provider's final refusal is ([`reversal::fail_and_refund_in`]) — the money back to the
/// dealer, the day's sums given back, the commission reversed, a card's money refunded.
pub async fn mark_refused_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    transaction_id: &str,
    reason: &str,
    now_ms: i64,
) -> Result<(), ManualError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_MAX_CHARS {
        return Err(ManualError::BadReason);
    }
    let delivery = delivery_of(conn, None, transaction_id).await?;
    // Not while an attempt is in flight: the provider may yet take the payment, and the dealer
    // would have it back as well. The same guard as *retry now*'s, taken as a write so that on
    // PostgreSQL it locks the row and no worker claims it before it is marked failed.
    if !deliveries::make_due_now(conn, transaction_id, now_ms).await? {
        return Err(ManualError::Finished);
    }
    let (dealer_code, point_code, amount_tiyn): (String, String, i64) = sqlx::query_as(
        "SELECT dealer_code, point_code, amount_tiyn FROM payments WHERE transaction_id = $1",
    )
    .bind(transaction_id)
    .fetch_one(&mut *conn)
    .await?;
    let comment = format!("marked refused by hand: {reason}");
    let refusal = Refusal {
        result_code: MARKED_REFUSED_RESULT,
        refusal: ProviderRefusal::Other,
        comment: Some(&comment),
    };
    let payment = Payment {
        transaction_id,
        dealer_code: &dealer_code,
        point_code: &point_code,
        amount_tiyn,
    };
    // The refund posts first: it locks the dealer's row before the audit row locks the chain's
    // (PostgreSQL), the order every writer keeps.
    let Some(commission_tiyn) =
        reversal::fail_and_refund_in(conn, &payment, &refusal, now_ms).await?
    else {
        return Err(ManualError::Finished);
    };
    let event = Event {
        action: Action::DeliveryMarkedRefused,
        subject: format!("payment:{transaction_id}"),
        details: audit::change(
            serde_json::json!({ "state": delivery.state.as_str(), "attempts": delivery.attempts }),
            serde_json::json!({
                "state": "failed",
                "reason": reason,
                "amount_tiyn": amount_tiyn,
                "commission_reversed_tiyn": commission_tiyn,
            }),
        ),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    tracing::info!(transaction_id, provider = %delivery.provider, amount_tiyn, commission_tiyn,
        by = %actor.who, "delivery marked refused by hand and refunded");
    Ok(())
}
