//! Money back to a customer's card. Three ways in, one way out:
//! * a provider refused the payment for good — the delivery's reversal
//!   ([`crate::delivery::reversal`]) gives the dealer's balance the payment back and calls
//!   [`after_reversal_in`] in the same transaction, which takes the card's money back off the
//!   balance (`card_refund`: what the settlement credited, [`super::earn`]) and asks for the
//!   refund of all the card paid;
//! * a charge that could not be settled ([`super::settle`]) — it never reached the balance, so
//!   only the refund is asked for;
//! * the console ([`console_refund`]): the operator or the dealer's full-access user, with a
//!   one-time code, within [`CONSOLE_REFUND_DAYS`] days, in full, once.
//!
//! A refund is a row of `card_refunds` written in the transaction that decided it; the
//! [`Worker`] sends it to the payment service with the row's key as the idempotency key until
//! the service answers — so a crash between the decision and the call loses nothing and a
//! retry never refunds twice. It is done only once the service says the money went back: a
//! refund the service took to carry out later (Robokassa) stays pending with the service's
//! number for it, which the worker asks about — never sending it again — until it is finished
//! or canceled. A refund sent again after the service may have forgotten the key (TipTop Pay
//! keeps it an hour) is first looked for at the service. One the service keeps not answering
//! is tried for ever, and reported to the operator once ([`STUCK_AFTER_ATTEMPTS`]).

use std::{sync::Arc, time::Duration};

use sqlx::{AnyConnection, AnyPool};
use tolem_card_payments::{PaymentService, RefundProgress, Refunded, ServiceError};

use super::{CardPayments, earn::EarnError};
use crate::{
    audit::{self, Action, Actor, Event},
    db::{
        begin_write,
        bills::{self, Attempted, Bill, Refund},
        day_sums, deliveries,
        ledger::{self, LedgerKind, NewEntry, Posted},
        now_ms,
    },
    delivery::reversal::{self, ReversalError},
    jobs::{backoff, millis},
};

/// How long after the payment the console may still refund it (the card documents' rule).
pub const CONSOLE_REFUND_DAYS: i64 = 14;

/// Why the money goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The provider refused the payment for good.
    ProviderRefused,
    /// The charge could not become a payment.
    NotSettled,
    /// Someone entitled refunded it from the console.
    Console,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ProviderRefused => "provider_refused",
            Reason::NotSettled => "not_settled",
            Reason::Console => "console",
        }
    }
}

/// Asks for the refund of `amount_tiyn` of the card `transaction` that paid `bill`, inside the
/// caller's transaction, with its audit row. `false` if it was asked for already.
pub async fn request_in(
    conn: &mut AnyConnection,
    bill: &Bill,
    transaction: Option<&str>,
    amount_tiyn: i64,
    reason: Reason,
    requested_by: Option<&Actor>,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let asked = bills::insert_refund(
        &mut *conn,
        bill.invoice,
        transaction,
        amount_tiyn,
        reason.as_str(),
        requested_by.map(|actor| actor.who.as_str()),
        now_ms,
    )
    .await?;
    if asked {
        let event = Event {
            action: Action::CardRefundRequested,
            subject: format!("bill:{}", bill.invoice),
            details: serde_json::json!({
                "point": bill.point_code,
                "session": bill.session,
                "payment": bill.transaction_id,
                "card_transaction": transaction,
                "amount_tiyn": amount_tiyn,
                "reason": reason.as_str(),
            }),
        };
        // In the bill's dealer's trail whoever asked (the operator too): the dealer sees
        // every refund of its payments.
        let actor = match requested_by {
            Some(user) => Actor {
                dealer_code: Some(bill.dealer_code.clone()),
                ..user.clone()
            },
            None => Actor::system(Some(&bill.dealer_code)),
        };
        audit::record_in(&mut *conn, &actor, &event, now_ms).await?;
    }
    Ok(asked)
}

/// Refunds a charge that never became a payment (see [`super::settle`]), in its own
/// transaction.
pub async fn refund_unsettled(
    pool: &AnyPool,
    bill: &Bill,
    transaction: Option<&str>,
    amount_tiyn: i64,
    why: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    let asked = request_in(
        &mut tx,
        bill,
        transaction,
        amount_tiyn,
        Reason::NotSettled,
        None,
        now_ms,
    )
    .await?;
    tx.commit().await?;
    if asked {
        tracing::warn!(invoice = bill.invoice, amount_tiyn, %why,
            "a card charge could not be settled: refunding it");
    }
    Ok(())
}

/// The bill that became the payment `transaction_id`, if it was paid by card.
async fn bill_of_payment(
    conn: &mut AnyConnection,
    transaction_id: &str,
) -> Result<Option<Bill>, sqlx::Error> {
    let invoice: Option<i64> =
        sqlx::query_scalar("SELECT invoice FROM bills WHERE transaction_id = $1")
            .bind(transaction_id)
            .fetch_optional(&mut *conn)
            .await?;
    match invoice {
        Some(invoice) => bills::by_invoice(conn, invoice).await,
        None => Ok(None),
    }
}

/// Why a refund could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("the dealer's balance is too low to give the card its money back")]
    InsufficientFunds,
    #[error("inconsistent ledger: {0}")]
    Ledger(String),
}

/// The card's money back off the dealer's balance (`card_refund`: what was credited for it).
async fn take_back_in(
    conn: &mut AnyConnection,
    bill: &Bill,
    transaction_id: &str,
    amount_tiyn: i64,
    now_ms: i64,
) -> Result<(), RefundError> {
    let entry = NewEntry {
        dealer_code: &bill.dealer_code,
        kind: LedgerKind::CardRefund,
        amount_tiyn: -amount_tiyn,
        reference: transaction_id,
        point_code: Some(&bill.point_code),
        created_at_ms: now_ms,
    };
    match ledger::post_in(conn, &entry).await? {
        Posted::Done { .. } => Ok(()),
        Posted::InsufficientFunds => Err(RefundError::InsufficientFunds),
        other => Err(RefundError::Ledger(format!("{transaction_id}: {other:?}"))),
    }
}

/// After the provider refused the payment `transaction_id` for good and it was reversed: if a
/// card paid it, the card's money leaves the dealer's balance and the refund is asked for, in
/// the reversal's transaction. Nothing for a cash payment.
pub async fn after_reversal_in(
    conn: &mut AnyConnection,
    transaction_id: &str,
    now_ms: i64,
) -> Result<(), RefundError> {
    let Some(bill) = bill_of_payment(&mut *conn, transaction_id).await? else {
        return Ok(());
    };
    let content = bill
        .content
        .as_ref()
        .ok_or_else(|| RefundError::Ledger(format!("bill {} has no content", bill.invoice)))?;
    // Its fee was not earned (the provider never took it): the settlement credited only the
    // provider's amount, which the reversal's refund has just given back. A card payment
    // settled before fees waited for delivery was credited the whole customer amount.
    let credited = if super::earn::forgo_in(&mut *conn, transaction_id).await? {
        content.amount_tiyn
    } else {
        content.customer_amount_tiyn
    };
    take_back_in(&mut *conn, &bill, transaction_id, credited, now_ms).await?;
    request_in(
        conn,
        &bill,
        bill.card_transaction.as_deref(),
        content.customer_amount_tiyn,
        Reason::ProviderRefused,
        None,
        now_ms,
    )
    .await?;
    Ok(())
}

/// Why the console may not refund a card payment.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleRefundError {
    #[error("no card payment with this transaction number")]
    NotACardPayment,
    #[error("the payment was refunded already")]
    AlreadyRefunded,
    #[error("the payment is older than {CONSOLE_REFUND_DAYS} days")]
    TooOld,
    #[error("the payment is still on its way to the provider: wait for its answer")]
    NotDelivered,
    #[error("the dealer's balance is too low to give the card its money back")]
    InsufficientFunds,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("inconsistent ledger: {0}")]
    Ledger(String),
}

impl ConsoleRefundError {
    /// The console's text for it.
    pub fn message_key(&self) -> &'static str {
        match self {
            ConsoleRefundError::NotACardPayment => "card.error_not_card",
            ConsoleRefundError::AlreadyRefunded => "card.error_refunded",
            ConsoleRefundError::TooOld => "card.error_too_old",
            ConsoleRefundError::NotDelivered => "card.error_not_delivered",
            ConsoleRefundError::InsufficientFunds => "card.error_funds",
            ConsoleRefundError::Database(_) | ConsoleRefundError::Ledger(_) => "errors.internal",
        }
    }
}

impl From<RefundError> for ConsoleRefundError {
    fn from(error: RefundError) -> Self {
        match error {
            RefundError::Database(e) => ConsoleRefundError::Database(e),
            RefundError::InsufficientFunds => ConsoleRefundError::InsufficientFunds,
            RefundError::Ledger(what) => ConsoleRefundError::Ledger(what),
        }
    }
}

impl From<EarnError> for ConsoleRefundError {
    fn from(error: EarnError) -> Self {
        match error {
            EarnError::Database(e) => ConsoleRefundError::Database(e),
            EarnError::Ledger(transaction, what) => {
                ConsoleRefundError::Ledger(format!("{transaction}: {what}"))
            }
        }
    }
}

impl From<ReversalError> for ConsoleRefundError {
    fn from(error: ReversalError) -> Self {
        match error {
            ReversalError::Database(e) => ConsoleRefundError::Database(e),
            ReversalError::InsufficientFunds => ConsoleRefundError::InsufficientFunds,
            ReversalError::Ledger(_, what) => ConsoleRefundError::Ledger(what),
        }
    }
}

/// Refunds from the console, inside the caller's confirmed transaction (the one-time code was
/// used up in it; the caller commits): a card payment of `dealer_code` (`None`: the operator,
/// any dealer's) delivered to the provider, not refunded, at most [`CONSOLE_REFUND_DAYS`] old.
/// The provider keeps the payment it was delivered; the dealer's balance gives the customer's
/// card the customer amount back and the dealer's commission on it is reversed; the payment
/// shows as refunded on the phone.
pub async fn console_refund_in(
    tx: &mut AnyConnection,
    transaction_id: &str,
    dealer_code: Option<&str>,
    user: &Actor,
    now_ms: i64,
) -> Result<Bill, ConsoleRefundError> {
    let bill = bill_of_payment(&mut *tx, transaction_id)
        .await?
        .filter(|b| dealer_code.is_none_or(|d| d == b.dealer_code))
        .ok_or(ConsoleRefundError::NotACardPayment)?;
    let (accepted_at, refunded_at): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT accepted_at_ms, refunded_at_ms FROM payments WHERE transaction_id = $1",
    )
    .bind(transaction_id)
    .fetch_one(&mut *tx)
    .await?;
    let accepted_at = accepted_at.ok_or(ConsoleRefundError::NotACardPayment)?;
    if refunded_at.is_some() {
        return Err(ConsoleRefundError::AlreadyRefunded);
    }
    if now_ms - accepted_at > CONSOLE_REFUND_DAYS * 24 * 60 * 60 * 1000 {
        return Err(ConsoleRefundError::TooOld);
    }
    let delivery = deliveries::find(&mut *tx, transaction_id).await?;
    if delivery.is_none_or(|d| d.state != deliveries::State::Delivered) {
        return Err(ConsoleRefundError::NotDelivered);
    }
    let marked = sqlx::query(
        "UPDATE payments SET refunded_at_ms = $1 \
         WHERE transaction_id = $2 AND refunded_at_ms IS NULL",
    )
    .bind(now_ms)
    .bind(transaction_id)
    .execute(&mut *tx)
    .await?;
    if marked.rows_affected() != 1 {
        return Err(ConsoleRefundError::AlreadyRefunded);
    }
    // Delivered, so its fee and commission are the dealer's: earned now if the worker has not
    // yet, so that what is taken back below was credited.
    super::earn::earn_in(&mut *tx, transaction_id, now_ms).await?;
    let amount = bill
        .content
        .as_ref()
        .map(|c| c.customer_amount_tiyn)
        .ok_or_else(|| ConsoleRefundError::Ledger("the bill has no content".into()))?;
    take_back_in(&mut *tx, &bill, transaction_id, amount, now_ms).await?;
    // After the dealer's row (locked by the posting): see `day_sums` on the order of locks.
    day_sums::take_back_in(&mut *tx, transaction_id).await?;
    reversal::reverse_commission_in(
        &mut *tx,
        transaction_id,
        &bill.dealer_code,
        &bill.point_code,
        now_ms,
    )
    .await?;
    let asked = request_in(
        &mut *tx,
        &bill,
        bill.card_transaction.as_deref(),
        amount,
        Reason::Console,
        Some(user),
        now_ms,
    )
    .await?;
    if !asked {
        return Err(ConsoleRefundError::AlreadyRefunded);
    }
    tracing::info!(%transaction_id, invoice = bill.invoice, amount_tiyn = amount,
        "card payment refunded from the console");
    Ok(bill)
}

/// Failed attempts in a row after which the operator is told, once, that a refund is stuck:
/// with the worker's backoff (5 s doubling to 10 minutes) about an hour of trying.
pub const STUCK_AFTER_ATTEMPTS: i64 = 10;

/// How long after a refund was first sent the service may have forgotten its idempotency key:
/// TipTop Pay keeps an answer by `X-Request-ID` for an hour ("Обработанный результат хранится в
/// системе в течение 1 часа"); ten minutes short of it, for clocks and slow answers.
pub const KEY_REMEMBERED: Duration = Duration::from_secs(50 * 60);

/// Sends the refunds that are due to the payment service, and follows those it takes and
/// carries out later until it says they are over.
#[derive(Clone)]
pub struct Worker {
    pub pool: AnyPool,
    pub card: Arc<CardPayments>,
    /// The wait after the first failed attempt; it doubles, up to 10 minutes.
    pub first_retry: Duration,
    /// How long an attempt holds its refund before another worker may send it again.
    pub lease: Duration,
    /// How long after its first attempt a refund is sent again only once the service has
    /// said it was not made ([`PaymentService::find_refund`]): [`KEY_REMEMBERED`].
    pub key_remembered: Duration,
}

impl Worker {
    pub fn new(pool: AnyPool, card: Arc<CardPayments>) -> Worker {
        Worker {
            pool,
            card,
            first_retry: Duration::from_secs(5),
            lease: Duration::from_secs(5 * 60),
            key_remembered: KEY_REMEMBERED,
        }
    }

    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move { self.run().await })
    }

    async fn run(self) {
        loop {
            let sent = match self.send_due().await {
                Ok(sent) => sent,
                Err(error) => {
                    tracing::error!(%error, "refund worker: database error; pausing");
                    false
                }
            };
            if !sent {
                // Woken by a new refund, or look again in a while (retries come due).
                let _ = tokio::time::timeout(Duration::from_secs(5), self.card.refunds.notified())
                    .await;
            }
        }
    }

    /// Asks the service about one due refund; `false` when none was due.
    pub async fn send_due(&self) -> Result<bool, sqlx::Error> {
        let Some(service) = self.card.service.clone() else {
            return Ok(false);
        };
        let now = now_ms();
        let claimed = {
            let mut conn = self.pool.acquire().await?;
            bills::claim_due_refund(&mut conn, now, now + millis(self.lease)).await?
        };
        let Some(refund) = claimed else {
            return Ok(false);
        };
        let outcome = self.attempt(service.as_ref(), &refund, now).await;
        let now = now_ms();
        let wait = backoff(
            self.first_retry,
            Duration::from_secs(600),
            refund.attempts + 1,
        );
        let error = outcome.as_ref().err().map(ToString::to_string);
        // A refund being followed was taken: nothing said about it now refuses it.
        let refusal = match &outcome {
            Err(error) if refund.refund_id.is_none() => error.refusal(),
            _ => None,
        };
        let (attempted, action) = match (&outcome, &refusal) {
            (
                Ok(Refunded {
                    refund_id,
                    progress: RefundProgress::Finished,
                }),
                _,
            ) => (
                Attempted::Done {
                    refund_id: refund_id.as_deref(),
                },
                Some(Action::CardRefunded),
            ),
            // Taken: its number is kept and asked about, never sent again.
            (
                Ok(Refunded {
                    refund_id,
                    progress: RefundProgress::Processing,
                }),
                _,
            ) => (
                Attempted::Processing {
                    refund_id: refund_id.as_deref(),
                    next_attempt_at_ms: now + millis(wait),
                },
                None,
            ),
            (
                Ok(Refunded {
                    progress: RefundProgress::Canceled(why),
                    ..
                }),
                _,
            )
            | (Err(_), Some(why)) => (Attempted::Failed { why }, Some(Action::CardRefundFailed)),
            (Err(_), None) => (
                Attempted::Unanswered {
                    error: error.as_deref().unwrap_or_default(),
                    next_attempt_at_ms: now + millis(wait),
                },
                None,
            ),
        };
        let mut tx = begin_write(&self.pool).await?;
        bills::finish_refund_attempt(&mut tx, &refund.key, attempted, now).await?;
        if let Some(action) = action {
            self.record(&mut tx, &refund, action, &outcome, now).await?;
        }
        // Still tried (a corrected address heals it), but a customer waits for the money: past
        // so many attempts without an answer the operator hears of it, once.
        if matches!(attempted, Attempted::Unanswered { .. })
            && refund.failed_attempts + 1 >= STUCK_AFTER_ATTEMPTS
            && bills::mark_refund_stuck(&mut tx, &refund.key, now).await?
        {
            self.record(&mut tx, &refund, Action::CardRefundStuck, &outcome, now)
                .await?;
        }
        tx.commit().await?;
        tracing::info!(invoice = refund.invoice, key = %refund.key, ?attempted,
            "card refund attempt");
        Ok(true)
    }

    /// One question to the service about `refund`: how a refund it took is getting on; or,
    /// sent long enough ago that the service may have forgotten its key, whether it was made
    /// already, then (if not) the refund itself.
    async fn attempt(
        &self,
        service: &dyn PaymentService,
        refund: &Refund,
        now: i64,
    ) -> Result<Refunded, ServiceError> {
        if let Some(refund_id) = &refund.refund_id {
            let progress = service.refund_state(refund_id).await?;
            return Ok(Refunded {
                refund_id: Some(refund_id.clone()),
                progress,
            });
        }
        let invoice = u32::try_from(refund.invoice).unwrap_or(u32::MAX);
        let transaction = refund.card_transaction.as_deref();
        // `attempts` counts this one: an earlier attempt may have been made, its answer lost.
        let sent_before = refund.attempts > 1;
        let first_sent = refund.first_attempt_at_ms.unwrap_or(refund.requested_at_ms);
        if sent_before
            && now - first_sent >= millis(self.key_remembered)
            && let Some(found) = service.find_refund(invoice, transaction).await?
        {
            tracing::info!(invoice, key = %refund.key, "card refund made already: not sent again");
            return Ok(found);
        }
        service
            .refund(invoice, transaction, refund.amount_tiyn, &refund.key)
            .await
    }

    /// The refund's audit row: in the bill's dealer's trail, as the gateway's.
    async fn record(
        &self,
        tx: &mut AnyConnection,
        refund: &Refund,
        action: Action,
        outcome: &Result<Refunded, ServiceError>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let dealer: Option<String> =
            sqlx::query_scalar("SELECT dealer_code FROM bills WHERE invoice = $1")
                .bind(refund.invoice)
                .fetch_optional(&mut *tx)
                .await?;
        let error = match outcome {
            Ok(Refunded {
                progress: RefundProgress::Canceled(why),
                ..
            }) => Some(why.clone()),
            Ok(_) => None,
            // A ServiceError's text is the service's answer or the network's, never a secret.
            Err(error) => Some(error.to_string()),
        };
        let event = Event {
            action,
            subject: format!("bill:{}", refund.invoice),
            details: serde_json::json!({
                "amount_tiyn": refund.amount_tiyn,
                "reason": refund.reason,
                "attempts": refund.attempts,
                "error": error,
            }),
        };
        audit::record_in(tx, &Actor::system(dealer.as_deref()), &event, now).await?;
        Ok(())
    }
}
