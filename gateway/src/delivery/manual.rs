//! What a person may do about a delivery: ask for it to be tried again now (the dealer's
//! full-access user or the operator), or — the operator only, after settling a dispute with
//! the provider — mark it delivered with the provider's own number. Both confirmed with a
//! one-time code by the console and written to the audit trail with the change.

use sqlx::AnyConnection;
use tolem_providers::adapter::is_provider_txn;

use crate::{
    audit::{self, Action, Actor, Event},
    card::earn::{self, EarnError},
    db::deliveries,
};

/// Why a manual action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManualError {
    #[error("no such delivery")]
    NotFound,
    #[error("the delivery has finished already")]
    Finished,
    #[error("the provider's number must be 1 to 64 letters, digits or - _ /")]
    BadProviderTxn,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Earn(#[from] EarnError),
}

impl ManualError {
    /// The translation key of the reason.
    pub fn message_key(&self) -> &'static str {
        match self {
            ManualError::NotFound => "deliveries.error_not_found",
            ManualError::Finished => "deliveries.error_finished",
            ManualError::BadProviderTxn => "deliveries.error_provider_txn",
            ManualError::Database(_) | ManualError::Earn(_) => "errors.internal",
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
