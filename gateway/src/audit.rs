//! The audit trail (Kaspi Business agreement §1.15: every action kept 5 years): every console
//! action and every key event — who, when (UTC ms), from where (IP), what (an action name and
//! the JSON of the changed fields before and after) — in the append-only, hash-chained table
//! `audit_log`.
//!
//! ## The chain
//! Row `n` stores `prev_hash` (row `n-1`'s hash) and
//! `hash = hex(SHA-256(prev_hash ‖ canonical))`, where `prev_hash` is its 64 hex characters and
//! `canonical` is the compact JSON array
//! `[seq, at_ms, actor, dealer_code, ip, action, subject, details]` of the row as stored
//! (`dealer_code` `null` when absent, `details` the stored JSON *text*, as a string). The first
//! row's `prev_hash` is 64 zeros. Changing any stored field of a row changes its hash; changing
//! the hash too breaks the next row's `prev_hash`; deleting rows leaves a gap in `seq` or, at
//! the end, a head (`audit_chain.head_*`) that no longer matches. [`chain::verify`] walks it.
//!
//! A row is written by [`record_in`] inside the transaction of the action it describes, so
//! there is never an action without its row or a row without its action. Writers are
//! serialised by the `UPDATE` of the chain's head (a row lock on PostgreSQL, the database lock
//! on SQLite), which is taken last in each transaction so it is held only briefly.
//!
//! What the chain cannot do alone: someone with write access to the database who recomputes
//! every hash after their change. Against that, note the head hash the operator's audit page
//! (when asked to check the chain) and `verify-audit` print (e.g. in the monthly report) and compare it later; and on
//! PostgreSQL take UPDATE and DELETE on `audit_log` away from the gateway's user
//! (`migrations/README.md`).

pub mod chain;

use std::net::IpAddr;

use serde_json::Value;
use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};

use crate::{db::begin_write, secrets::sha256_hex};

/// The `prev_hash` of the first row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did something that is audited.
#[derive(Debug, Clone)]
pub struct Actor {
    /// A console user's e-mail, `point:P1001`, `key:P1001-1` or `system`.
    pub who: String,
    /// The dealer whose trail it belongs to, when known.
    pub dealer_code: Option<String>,
    /// Where the request came from (`-` for the gateway itself).
    pub ip: String,
}

impl Actor {
    /// A person or a phone at `ip`.
    pub fn new(who: impl Into<String>, dealer_code: Option<&str>, ip: IpAddr) -> Actor {
        Actor {
            who: who.into(),
            dealer_code: dealer_code.map(str::to_owned),
            ip: ip.to_string(),
        }
    }

    /// Somebody at the gateway's command line (`tolem-gateway operator add`): trusted as the
    /// machine's administrator, named as such in the trail.
    pub fn cli() -> Actor {
        Actor {
            who: "cli".to_owned(),
            dealer_code: None,
            ip: "-".to_owned(),
        }
    }

    /// The gateway itself (the daily commission run, retention).
    pub fn system(dealer_code: Option<&str>) -> Actor {
        Actor {
            who: "system".to_owned(),
            dealer_code: dealer_code.map(str::to_owned),
            ip: "-".to_owned(),
        }
    }
}

/// What was done: one variant per kind of audited action. Stored as its dotted name
/// ([`Action::as_str`]), which the hash chain covers, so a name never changes once written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A key card (serial) was issued to a point's phone.
    KeyCardIssued,
    /// A phone registered its public key.
    KeyRegistered,
    /// A full-access user certified a point key.
    KeyCertified,
    /// A full-access user revoked a point key.
    KeyRevoked,
    /// The phone revoked its own key.
    KeyRevokedByPhone,
    /// A point was registered.
    PointRegistered,
    /// A point was activated.
    PointActivated,
    /// A point was blocked (its phones get 53).
    PointBlocked,
    /// A blocked point was unblocked.
    PointUnblocked,
    /// A point's limits changed.
    PointLimits,
    /// A point's password was reset.
    PointPasswordReset,
    /// A point's hourly letter quota changed.
    PointMessageQuota,
    /// A cashier was registered.
    CashierRegistered,
    /// A cashier was blocked (54).
    CashierBlocked,
    /// A cashier was unblocked.
    CashierUnblocked,
    /// A create-and-view user prepared an operation.
    OperationPrepared,
    /// A full-access user confirmed a prepared operation.
    OperationConfirmed,
    /// A prepared operation was cancelled.
    OperationCancelled,
    /// The operator credited a dealer's balance (a confirmed top-up request).
    MoneyTopUp,
    /// A dealer's user asked the operator to credit money received by the bank.
    TopUpRequested,
    /// The operator refused a top-up request.
    TopUpRejected,
    /// The operator corrected a dealer's balance, with a reason.
    MoneyCorrection,
    /// The operator reversed an earlier correction.
    MoneyCorrectionReversed,
    /// A user asked for the commission credit to run now.
    CommissionRun,
    /// A business day's commission was credited.
    CommissionCredited,
    /// A point's signed letter was queued for e-mail.
    MessageQueued,
    /// A letter was handed to the mail transport.
    MessageSent,
    /// A console user logged in.
    LoginOk,
    /// A console login failed (wrong password, unknown user, throttled, blocked).
    LoginFailed,
    /// A console user logged out.
    Logout,
    /// A console user enrolled a one-time-code app.
    TotpEnrolled,
    /// A one-time code was refused.
    TotpRefused,
    /// A console user's one-time-code app was reset by another user.
    TotpReset,
    /// A console user changed their own password.
    PasswordChanged,
    /// A console user's password was reset by another user.
    PasswordReset,
    /// A console user was created with a one-time password.
    UserInvited,
    /// A console user was blocked.
    UserBlocked,
    /// A console user was unblocked.
    UserUnblocked,
    /// The operator registered a dealer.
    DealerRegistered,
    /// The operator changed a dealer's details.
    DealerEdited,
    /// The operator blocked a dealer (its phones get 52).
    DealerBlocked,
    /// The operator unblocked a dealer.
    DealerUnblocked,
    /// The operator changed a dealer's limits (83/84).
    DealerLimits,
    /// The operator added a provider to the catalogue.
    ProviderAdded,
    /// The operator changed a provider.
    ProviderEdited,
    /// The operator disabled a provider (new payments refused).
    ProviderDisabled,
    /// The operator enabled a provider again.
    ProviderEnabled,
    /// The operator set a dealer's own commission rate for a provider.
    DealerRate,
    /// A provider refused a payment for good; the gateway reversed it (money back to the
    /// dealer, commission taken back).
    PaymentRefunded,
    /// Someone entitled asked for a delivery to be tried again now.
    DeliveryRetried,
    /// The operator marked a delivery delivered by hand, with the provider's number (a
    /// dispute settled with the provider).
    DeliveryMarked,
    /// A provider finally refused a payment the operator had marked delivered by hand while
    /// its attempt was in flight: nothing reversed, a dispute for the operator to settle.
    DeliveryRefusedAfterMarked,
    /// A provider took a payment whose delivery had been marked refused (by the operator, or
    /// failed otherwise) while its attempt was in flight: the dealer had the money back (a card
    /// its refund) and the provider has it too — a dispute for the operator to settle.
    DeliveryDeliveredAfterRefused,
    /// The operator marked a delivery refused by hand, with a reason (a provider that never
    /// gives a final answer): reversed as a provider's refusal is.
    DeliveryMarkedRefused,
    /// The operator (or the CLI) set how the gateway reaches a provider.
    ProviderConnected,
    /// A payment service confirmed a customer's card paid a bill; it became a payment.
    CardPaid,
    /// A card payment the provider took: its fee and the dealer's commission on it became the
    /// dealer's ([`crate::card::earn`]).
    CardEarned,
    /// Money was asked back to a customer's card (after a provider's refusal, a charge that
    /// could not be settled, or from the console with a one-time code).
    CardRefundRequested,
    /// The payment service confirmed a refund to the card.
    CardRefunded,
    /// The payment service refused a refund: the operator must act.
    CardRefundFailed,
    /// A refund to the card has gone unanswered for many attempts (the service unreachable,
    /// answering an HTTP error — a wrong address, say): still being tried, but a customer is
    /// waiting for their money and the operator should look. Recorded once per refund.
    CardRefundStuck,
    /// A notification claiming to come from a payment service did not verify.
    CardNotificationForged,
    CardNotificationTestMode,
    /// Rows past their retention were purged.
    AuditPurged,
}

impl Action {
    /// The dotted name stored in `audit_log.action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::KeyCardIssued => "key.card_issued",
            Action::KeyRegistered => "key.registered",
            Action::KeyCertified => "key.certified",
            Action::KeyRevoked => "key.revoked",
            Action::KeyRevokedByPhone => "key.revoked_by_phone",
            Action::PointRegistered => "point.registered",
            Action::PointActivated => "point.activated",
            Action::PointBlocked => "point.blocked",
            Action::PointUnblocked => "point.unblocked",
            Action::PointLimits => "point.limits",
            Action::PointPasswordReset => "point.password_reset",
            Action::PointMessageQuota => "point.message_quota",
            Action::CashierRegistered => "cashier.registered",
            Action::CashierBlocked => "cashier.blocked",
            Action::CashierUnblocked => "cashier.unblocked",
            Action::OperationPrepared => "operation.prepared",
            Action::OperationConfirmed => "operation.confirmed",
            Action::OperationCancelled => "operation.cancelled",
            Action::MoneyTopUp => "money.top_up",
            Action::TopUpRequested => "top_up.requested",
            Action::TopUpRejected => "top_up.rejected",
            Action::MoneyCorrection => "money.correction",
            Action::MoneyCorrectionReversed => "money.correction_reversed",
            Action::CommissionRun => "commission.run",
            Action::CommissionCredited => "commission.credited",
            Action::MessageQueued => "message.queued",
            Action::MessageSent => "message.sent",
            Action::LoginOk => "login.ok",
            Action::LoginFailed => "login.failed",
            Action::Logout => "logout",
            Action::TotpEnrolled => "totp.enrolled",
            Action::TotpRefused => "totp.refused",
            Action::TotpReset => "totp.reset",
            Action::PasswordChanged => "password.changed",
            Action::PasswordReset => "password.reset",
            Action::UserInvited => "user.invited",
            Action::UserBlocked => "user.blocked",
            Action::UserUnblocked => "user.unblocked",
            Action::DealerRegistered => "dealer.registered",
            Action::DealerEdited => "dealer.edited",
            Action::DealerBlocked => "dealer.blocked",
            Action::DealerUnblocked => "dealer.unblocked",
            Action::DealerLimits => "dealer.limits",
            Action::ProviderAdded => "provider.added",
            Action::ProviderEdited => "provider.edited",
            Action::ProviderDisabled => "provider.disabled",
            Action::ProviderEnabled => "provider.enabled",
            Action::DealerRate => "dealer.rate",
            Action::PaymentRefunded => "payment.refunded",
            Action::DeliveryRetried => "delivery.retried",
            Action::DeliveryMarked => "delivery.marked",
            Action::DeliveryRefusedAfterMarked => "delivery.refused_after_marked",
            Action::DeliveryDeliveredAfterRefused => "delivery.delivered_after_refused",
            Action::DeliveryMarkedRefused => "delivery.marked_refused",
            Action::ProviderConnected => "provider.connected",
            Action::CardPaid => "card.paid",
            Action::CardEarned => "card.earned",
            Action::CardRefundRequested => "card.refund_requested",
            Action::CardRefunded => "card.refunded",
            Action::CardRefundFailed => "card.refund_failed",
            Action::CardRefundStuck => "card.refund_stuck",
            Action::CardNotificationForged => "card.notification_forged",
            Action::CardNotificationTestMode => "card.notification_test_mode",
            Action::AuditPurged => "audit.purged",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An audited event: what was done to what, and the fields it changed.
#[derive(Debug, Clone)]
pub struct Event {
    /// What was done.
    pub action: Action,
    /// What it is about: `key:P1001-1`, `point:P1002`, `user:a@b.kz`...
    pub subject: String,
    /// `{"before": {...}, "after": {...}}` for a change, or what was done.
    pub details: Value,
}

/// `{"before": before, "after": after}`: the usual details of a change.
pub fn change(before: Value, after: Value) -> Value {
    serde_json::json!({ "before": before, "after": after })
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub dealer_code: Option<String>,
    pub ip: String,
    pub action: String,
    pub subject: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    /// The canonical JSON the row's hash covers (see the module docs).
    pub fn canonical(&self) -> String {
        serde_json::json!([
            self.seq,
            self.at_ms,
            self.actor,
            self.dealer_code,
            self.ip,
            self.action,
            self.subject,
            self.details
        ])
        .to_string()
    }

    /// What the row's hash must be, chained to `prev_hash`.
    pub fn expected_hash(&self, prev_hash: &str) -> String {
        let mut bytes = prev_hash.as_bytes().to_vec();
        bytes.extend_from_slice(self.canonical().as_bytes());
        sha256_hex(&bytes)
    }
}

pub(crate) const COLUMNS: &str =
    "seq, at_ms, actor, dealer_code, ip, action, subject, details, prev_hash, hash";

pub(crate) fn from_row(row: &AnyRow) -> Result<AuditRow, sqlx::Error> {
    Ok(AuditRow {
        seq: row.try_get("seq")?,
        at_ms: row.try_get("at_ms")?,
        actor: row.try_get("actor")?,
        dealer_code: row.try_get("dealer_code")?,
        ip: row.try_get("ip")?,
        action: row.try_get("action")?,
        subject: row.try_get("subject")?,
        details: row.try_get("details")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Appends `event` by `actor` at `at_ms` to the chain, inside the caller's transaction (which
/// must be a write transaction: [`begin_write`]). Call it last in the transaction: it locks the
/// chain's head until the commit.
pub async fn record_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    event: &Event,
    at_ms: i64,
) -> Result<i64, sqlx::Error> {
    // The UPDATE first: it takes the head's row lock, so the head read next is ours alone.
    sqlx::query("UPDATE audit_chain SET head_seq = head_seq + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    let head = sqlx::query("SELECT head_seq, head_hash FROM audit_chain WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let mut row = AuditRow {
        seq: head.try_get("head_seq")?,
        at_ms,
        actor: actor.who.clone(),
        dealer_code: actor.dealer_code.clone(),
        ip: actor.ip.clone(),
        action: event.action.as_str().to_owned(),
        subject: event.subject.clone(),
        details: event.details.to_string(),
        prev_hash: head.try_get("head_hash")?,
        hash: String::new(),
    };
    row.hash = row.expected_hash(&row.prev_hash);
    sqlx::query(&format!(
        "INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(row.seq)
    .bind(row.at_ms)
    .bind(&row.actor)
    .bind(&row.dealer_code)
    .bind(&row.ip)
    .bind(&row.action)
    .bind(&row.subject)
    .bind(&row.details)
    .bind(&row.prev_hash)
    .bind(&row.hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_chain SET head_hash = $1 WHERE id = 1")
        .bind(&row.hash)
        .execute(&mut *conn)
        .await?;
    Ok(row.seq)
}

/// Appends `event` in a transaction of its own: for events that change nothing else (a login,
/// a refused code).
pub async fn record(
    pool: &AnyPool,
    actor: &Actor,
    event: &Event,
    at_ms: i64,
) -> Result<i64, sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    let seq = record_in(&mut tx, actor, event, at_ms).await?;
    tx.commit().await?;
    Ok(seq)
}

/// What the console's audit page lists.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The dealer whose trail it is; `None` = the whole trail (the operator's view).
    pub dealer_code: Option<String>,
    /// From this time (UTC ms, included).
    pub from_ms: Option<i64>,
    /// Until this time (UTC ms, excluded).
    pub to_ms: Option<i64>,
    /// At most this many rows, newest first.
    pub limit: i64,
}

/// The rows of a dealer's trail (or of the whole trail), newest first.
pub async fn rows(pool: &AnyPool, filter: &Filter) -> Result<Vec<AuditRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM audit_log WHERE ($1 IS NULL OR dealer_code = $1) \
         AND at_ms >= $2 AND at_ms < $3 ORDER BY seq DESC LIMIT $4"
    ))
    .bind(filter.dealer_code.as_deref())
    .bind(filter.from_ms.unwrap_or(i64::MIN))
    .bind(filter.to_ms.unwrap_or(i64::MAX))
    .bind(filter.limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The rows of a dealer's trail (or of the whole trail) after the row `after_seq`
/// (`i64::MIN`: from the start), oldest first, at most `filter.limit`: a page of an export.
pub async fn rows_after(
    pool: &AnyPool,
    filter: &Filter,
    after_seq: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM audit_log WHERE ($1 IS NULL OR dealer_code = $1) \
         AND at_ms >= $2 AND at_ms < $3 AND seq > $4 ORDER BY seq LIMIT $5"
    ))
    .bind(filter.dealer_code.as_deref())
    .bind(filter.from_ms.unwrap_or(i64::MIN))
    .bind(filter.to_ms.unwrap_or(i64::MAX))
    .bind(after_seq)
    .bind(filter.limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> AuditRow {
        AuditRow {
            seq: 1,
            at_ms: 1_700_000_000_000,
            actor: "admin@tolem.demo".into(),
            dealer_code: Some("D001".into()),
            ip: "127.0.0.1".into(),
            action: "key.certified".into(),
            subject: "key:P1001-1".into(),
            details: r#"{"after":{"state":"certified"},"before":{"state":"pending"}}"#.into(),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        }
    }

    #[test]
    fn the_canonical_form_is_fixed() {
        assert_eq!(
            row().canonical(),
            r#"[1,1700000000000,"admin@tolem.demo","D001","127.0.0.1","key.certified","key:P1001-1","{\"after\":{\"state\":\"certified\"},\"before\":{\"state\":\"pending\"}}"]"#
        );
        let mut system = row();
        system.dealer_code = None;
        assert!(system.canonical().contains(r#""admin@tolem.demo",null,"#));
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = row().expected_hash(GENESIS_HASH);
        assert_eq!(base.len(), 64);
        let changes: [fn(&mut AuditRow); 8] = [
            |r| r.seq = 2,
            |r| r.at_ms += 1,
            |r| r.actor.push('x'),
            |r| r.dealer_code = None,
            |r| r.ip = "127.0.0.2".into(),
            |r| r.action = "key.revoked".into(),
            |r| r.subject = "key:P1001-2".into(),
            |r| r.details = "{}".into(),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut changed = row();
            change(&mut changed);
            assert_ne!(changed.expected_hash(GENESIS_HASH), base, "field {i}");
        }
        assert_ne!(row().expected_hash(&"1".repeat(64)), base, "prev_hash");
    }
}
