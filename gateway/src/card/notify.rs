//! A payment service's notification: verified by the adapter over the exact bytes received
//! before a field is read, then decided here, and answered in the service's format. Every
//! notification is kept (`card_notifications`), a forged one as evidence that is never acted
//! on — from one client address, the first of a quarter of an hour and the one that blocks
//! the address (as a login's failures are, [`crate::throttle`]): a flood of forged
//! notifications, which anyone can send, must not grow the table and the audit trail without
//! bound nor take the database's write turn from the payments once each.
//!
//! * *Check* (before the card is charged): would the bill be paid? Only an awaiting, unexpired
//!   bill of the same amount in tenge whose point may still pay, and whose payment the rules
//!   would take now, is accepted — so a charge is refused *before* it happens whenever possible.
//! * *Pay*: confirmed with the service's API (the signature covers the body, not the address:
//!   a signed Check posted here must not pass for a charge), then settled ([`super::settle`]).
//!   The charge happened, so the answer is "taken" whatever became of it: settled, already
//!   settled, or refunded.
//! * *Fail*: the card was refused; why is kept for the customer's page and the cashier.
//! * *Refund*: the service confirms a refund the refund worker asked for.

use std::{net::IpAddr, time::Duration};

use sqlx::AnyPool;
use tolem_card_payments::{
    Decline, Incoming, NotificationKind, PaymentService, Reply, ServiceError, Verdict,
};
use tolem_protocol::{codes::ResultCode, messages::CardRefusal};

use super::{open, settle};
use crate::{
    audit::{self, Action, Actor, Event},
    db::{
        begin_write,
        bills::{self, Bill, BillState, NotificationRow},
    },
    payments::{self, pay::Candidate},
    throttle::{self, Subject},
};

/// Why a notification could not be decided now (answered so that the service sends it again).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Settle(#[from] settle::SettleError),
}

/// The refusal as the phone and the customer's page name it.
pub fn refusal_of(decline: Decline) -> CardRefusal {
    match decline {
        Decline::InsufficientFunds => CardRefusal::InsufficientFunds,
        Decline::NotEnabledForInternet => CardRefusal::NotEnabledForInternet,
        Decline::CardExpired => CardRefusal::CardExpired,
        Decline::WrongCardData => CardRefusal::WrongCardData,
        Decline::LimitExceeded => CardRefusal::LimitExceeded,
        Decline::AuthenticationFailed => CardRefusal::AuthenticationFailed,
        Decline::Other => CardRefusal::Declined,
    }
}

/// A notification that failed its service's signature (`why`), from `client`: counted against
/// the address, and kept with a line in the audit trail when it is the first of a window or
/// the one that blocks the address; the rest are counted only.
async fn keep_forged(
    pool: &AnyPool,
    kind_name: &str,
    incoming: &Incoming<'_>,
    why: &str,
    client: IpAddr,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let from = Subject::forged_card_notifications(client);
    let blocked = throttle::charge(pool, &[&from], now_ms).await?;
    let failures = throttle::failures(pool, &from).await?;
    let kept = blocked.is_none() && from.is_notable_failure(failures);
    tracing::warn!(service = kind_name, path = incoming.path, error = why, %client, failures,
        kept, "card notification refused: not verified");
    if !kept {
        return Ok(());
    }
    let id = notification_id();
    let row = NotificationRow {
        id: &id,
        service: kind_name,
        kind: incoming.path,
        invoice: None,
        verified: false,
        verdict: "forged",
        amount_tiyn: None,
        card_transaction: None,
        received_at_ms: now_ms,
    };
    let event = Event {
        action: Action::CardNotificationForged,
        subject: format!("card:{kind_name}"),
        details: serde_json::json!({ "path": incoming.path, "error": why,
            "notification": id, "from": from.as_str(), "failures": failures }),
    };
    keep_with_event(pool, &row, &event).await
}

/// Keeps a notification not acted on, with the line in the audit trail that says why, in one
/// transaction.
async fn keep_with_event(
    pool: &AnyPool,
    row: &NotificationRow<'_>,
    event: &Event,
) -> Result<(), sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    bills::log_notification(&mut tx, row).await?;
    audit::record_in(&mut tx, &Actor::system(None), event, row.received_at_ms).await?;
    tx.commit().await
}

/// The stored word of a refusal (`bills.decline`), as the protocol writes it.
pub fn refusal_word(refusal: CardRefusal) -> String {
    serde_json::to_value(refusal)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "declined".to_owned())
}

/// Reads back a stored refusal word.
pub fn refusal_from_word(word: &str) -> CardRefusal {
    serde_json::from_value(serde_json::Value::String(word.to_owned()))
        .unwrap_or(CardRefusal::Declined)
}

/// Handles one notification to `service` from `client`, received at `now_ms`, a settlement
/// waiting at most `lock_wait` for a row another transaction holds ([`settle::settle`]); the
/// reply to send.
pub async fn handle(
    pool: &AnyPool,
    service: &dyn PaymentService,
    incoming: &Incoming<'_>,
    client: IpAddr,
    now_ms: i64,
    lock_wait: Duration,
) -> Result<(Reply, bool), NotifyError> {
    let kind_name = service.kind().name();
    let notification = match service.read_notification(incoming) {
        Ok(notification) => notification,
        Err(error) => {
            keep_forged(
                pool,
                kind_name,
                incoming,
                &error.to_string(),
                client,
                now_ms,
            )
            .await?;
            return Ok((service.reply_refused(&error), false));
        }
    };
    if notification.test && !service.takes_test_payments() {
        return refuse_test_payment(pool, service, incoming, &notification, now_ms).await;
    }
    let bill = {
        let mut conn = pool.acquire().await?;
        bills::by_invoice(&mut conn, i64::from(notification.invoice)).await?
    };
    let mut settled = false;
    let verdict = match (&bill, notification.kind) {
        (None, _) => Verdict::UnknownInvoice,
        (Some(bill), NotificationKind::Check) => {
            let verdict = check(pool, bill, &notification, now_ms).await?;
            if verdict == Verdict::Accept && bill.decline.is_some() {
                // Another card is being tried: the last one's refusal no longer applies.
                let mut conn = pool.acquire().await?;
                bills::clear_decline(&mut conn, bill.invoice, now_ms).await?;
            }
            verdict
        }
        (Some(bill), NotificationKind::Pay) => {
            match confirm_charged(pool, service, bill, &notification, now_ms).await? {
                Verdict::Accept => {
                    let outcome =
                        settle::settle(pool, bill, &notification, now_ms, lock_wait).await?;
                    settled = matches!(outcome, settle::Settled::Paid { accepted: true, .. });
                    Verdict::Accept
                }
                other => other,
            }
        }
        (Some(bill), NotificationKind::Fail) => {
            let refusal = refusal_of(notification.decline.unwrap_or(Decline::Other));
            let mut conn = pool.acquire().await?;
            bills::set_decline(
                &mut conn,
                bill.invoice,
                &refusal_word(refusal),
                notification.reason.as_deref(),
                now_ms,
            )
            .await?;
            tracing::info!(
                invoice = bill.invoice,
                ?refusal,
                "the customer's card was refused"
            );
            Verdict::Accept
        }
        (Some(_), NotificationKind::Refund) => Verdict::Accept,
    };
    let mut conn = pool.acquire().await?;
    bills::log_notification(
        &mut conn,
        &NotificationRow {
            id: &notification_id(),
            service: kind_name,
            kind: incoming.path,
            invoice: Some(i64::from(notification.invoice)),
            verified: true,
            verdict: verdict_word(verdict),
            amount_tiyn: Some(notification.amount_tiyn),
            card_transaction: notification.transaction.as_deref(),
            received_at_ms: now_ms,
        },
    )
    .await?;
    Ok((service.reply(&notification, verdict), settled))
}

/// Whether the service itself says a verified Pay's card transaction was charged for its
/// invoice and amount ([`PaymentService::confirm_paid`]) before a bill is settled on it: the
/// signature covers the body, not the address, and a signed Check (sent before the card is
/// charged, then declined, perhaps) posted to the Pay address must not settle a bill no card
/// paid. [`Verdict::Accept`] when it was charged, or when this same transaction paid the bill
/// already (a repeat: nothing is settled again); [`Verdict::NotPayable`] when the service says
/// it was not (an alarm in the audit trail); [`Verdict::TryLater`] when the service could not
/// be asked now (it sends the Pay again).
async fn confirm_charged(
    pool: &AnyPool,
    service: &dyn PaymentService,
    bill: &Bill,
    paid: &tolem_card_payments::Notification,
    now_ms: i64,
) -> Result<Verdict, NotifyError> {
    if bill.state == BillState::Paid && bill.card_transaction == paid.transaction {
        return Ok(Verdict::Accept);
    }
    match service.confirm_paid(paid).await {
        Ok(()) => Ok(Verdict::Accept),
        Err(ServiceError::Refused(why)) => {
            tracing::error!(invoice = bill.invoice, transaction = ?paid.transaction, %why,
                "a signed Pay the service says was not charged: nothing settled");
            let event = Event {
                action: Action::CardNotificationForged,
                subject: format!("bill:{}", bill.invoice),
                details: serde_json::json!({ "kind": "pay", "transaction": paid.transaction,
                    "error": format!("not charged: {why}") }),
            };
            audit::record(
                pool,
                &Actor::system(Some(&bill.dealer_code)),
                &event,
                now_ms,
            )
            .await?;
            Ok(Verdict::NotPayable)
        }
        Err(error) => {
            tracing::warn!(invoice = bill.invoice, %error,
                "the service could not confirm a Pay's charge now; it sends the Pay again");
            Ok(Verdict::TryLater)
        }
    }
}

/// A notification of a payment in the service's test mode, to a gateway not set up for it: no
/// money moved, so nothing is decided on it — a bill settled on it would have the dealer's
/// balance pay the provider for a card that paid nothing. The service's site was left in test
/// mode; the operator is told (the log and the audit trail), and a *Check* is refused, so no
/// such "payment" happens.
async fn refuse_test_payment(
    pool: &AnyPool,
    service: &dyn PaymentService,
    incoming: &Incoming<'_>,
    notification: &tolem_card_payments::Notification,
    now_ms: i64,
) -> Result<(Reply, bool), NotifyError> {
    let kind_name = service.kind().name();
    tracing::error!(
        service = kind_name,
        invoice = notification.invoice,
        kind = incoming.path,
        "card notification of a test payment refused: the service's site is in test mode"
    );
    let id = notification_id();
    let row = NotificationRow {
        id: &id,
        service: kind_name,
        kind: incoming.path,
        invoice: Some(i64::from(notification.invoice)),
        verified: true,
        verdict: "test_mode",
        amount_tiyn: Some(notification.amount_tiyn),
        card_transaction: notification.transaction.as_deref(),
        received_at_ms: now_ms,
    };
    let event = Event {
        action: Action::CardNotificationTestMode,
        subject: format!("bill:{}", notification.invoice),
        details: serde_json::json!({ "service": kind_name, "kind": incoming.path,
            "notification": id }),
    };
    keep_with_event(pool, &row, &event).await?;
    Ok((service.reply(notification, Verdict::NotPayable), false))
}

/// The *Check* rules (see the module docs).
async fn check(
    pool: &AnyPool,
    bill: &Bill,
    notification: &tolem_card_payments::Notification,
    now_ms: i64,
) -> Result<Verdict, NotifyError> {
    let Some(content) = bill.content.as_ref().filter(|_| bill.payable(now_ms)) else {
        return Ok(Verdict::NotPayable);
    };
    if notification.amount_tiyn != content.customer_amount_tiyn
        || notification.currency != settle::CURRENCY
    {
        return Ok(Verdict::WrongAmount);
    }
    let Ok(sender) = open::authorize(
        pool,
        content.request_body.clone(),
        &content.request_signature,
    )
    .await
    else {
        return Ok(Verdict::NotPayable);
    };
    let tolem_protocol::messages::Step::Bill(signed) = &sender.request.step else {
        return Ok(Verdict::NotPayable);
    };
    let candidate = Candidate::new(&sender, &signed.payment);
    let Ok(account) = candidate.screen_now(pool, now_ms).await? else {
        return Ok(Verdict::NotPayable);
    };
    let mut conn = pool.acquire().await?;
    let standing = payments::read_standing(
        &mut conn,
        &bill.point_code,
        &signed.payment,
        &account,
        sender.request.created_at_ms,
        now_ms,
    )
    .await?;
    Ok(
        match payments::judge(signed.payment.amount_tiyn, &standing) {
            Ok(()) | Err(ResultCode::InsufficientFunds) => Verdict::Accept,
            Err(_) => Verdict::NotPayable,
        },
    )
}

fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Accept => "accepted",
        Verdict::UnknownInvoice => "unknown_invoice",
        Verdict::WrongAmount => "wrong_amount",
        Verdict::NotPayable => "not_payable",
        Verdict::TryLater => "try_later",
    }
}

/// A fresh id for a kept notification.
fn notification_id() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
