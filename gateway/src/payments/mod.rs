//! The rules of a payment (CyberplatMobile manual §10–11, §15), shared by the `check` step
//! (nothing moves, nothing is stored) and the `pay` step ([`pay`]: one database transaction).
//!
//! A payment is refused with the first rule it breaks, in this order:
//! 1. created more than [`CLOCK_AHEAD_MS`] in the gateway's future — 910, never stored (the
//!    phone's clock is wrong; once it is fixed the same payment can be sent again);
//! 2. older than the point's offline `max_age_ms` — 909 (a deferred payment that waited too long);
//! 3. provider unknown — 908, switched off by the operator — 914; account not by the provider's
//!    rule — 8; amount outside the provider's range or below the customer amount — 7;
//! 4. the same payment (point, provider, account, amount) accepted with a creation time within
//!    [`DUPLICATE_WINDOW_MS`] before or after this one's — 32;
//! 5. over the point's (81) or the dealer's (83) limit for one payment;
//! 6. over the point's (82) or the dealer's (84) limit for the business day;
//! 7. more than the dealer's balance — 21.
//!
//! A duplicate is reported before the limits: "this was already paid" tells the cashier more
//! than "the limit is reached" when both are true.
//!
//! ## The business day
//! Daily limits count the accepted payments received since the start of the current business
//! day: midnight in Kazakhstan, a fixed UTC+5 ([`BUSINESS_DAY_OFFSET_MS`]; the whole country
//! has been on UTC+5, without daylight saving, since 1 March 2024). Received time, not creation
//! time: a payment deferred yesterday and sent today counts against today, the day the dealer's
//! money actually moves.

pub mod group;
mod group_state;
pub mod pay;
pub mod receipt;

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use tolem_protocol::{codes::ResultCode, messages::Payment, providers::ProviderInfo};

use crate::db::{
    day_sums::{self, Scope},
    payments::{self, Sameness},
};

/// Kazakhstan's offset from UTC (UTC+5 all year), in milliseconds.
pub const BUSINESS_DAY_OFFSET_MS: i64 = 5 * 60 * 60 * 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// How close two creation times must be for the second payment to be a duplicate (inclusive).
pub const DUPLICATE_WINDOW_MS: i64 = 60 * 60 * 1000;
/// How far in the future a creation time may be before the phone's clock is taken as wrong:
/// phones drift a little, and a request can be signed a moment before the gateway's clock ticks.
pub const CLOCK_AHEAD_MS: i64 = 5 * 60 * 1000;

/// The start (UTC milliseconds) of the business day that contains `now_ms`.
pub fn business_day_start(now_ms: i64) -> i64 {
    (now_ms + BUSINESS_DAY_OFFSET_MS).div_euclid(DAY_MS) * DAY_MS - BUSINESS_DAY_OFFSET_MS
}

/// The date in Kazakhstan (UTC+5) of the moment `ms` (UTC milliseconds): the business day's
/// name, as on a statement.
pub fn business_date(ms: i64) -> time::Date {
    let local = ms.saturating_add(BUSINESS_DAY_OFFSET_MS).div_euclid(1000);
    time::OffsetDateTime::from_unix_timestamp(local)
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN)
}

/// The start (UTC milliseconds) of the business day named `date`.
pub fn business_day_of(date: time::Date) -> i64 {
    let midnight = date.midnight().assume_utc().unix_timestamp();
    midnight.saturating_mul(1000) - BUSINESS_DAY_OFFSET_MS
}

/// How long a business day lasts, in milliseconds.
pub const BUSINESS_DAY_MS: i64 = DAY_MS;

/// The idempotency fingerprint of a payment's content: SHA-256 (lowercase hex) over provider,
/// account, amount, customer amount and comment, each length-prefixed so no two different
/// payments can run together into the same bytes. Exactly as sent, not normalised: the phone
/// replays the bytes it signed, so the same session always carries the same text.
pub fn content_hash(payment: &Payment) -> String {
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    field(payment.provider.as_bytes());
    field(payment.account.as_bytes());
    field(&payment.amount_tiyn.to_be_bytes());
    field(&payment.customer_amount_tiyn.to_be_bytes());
    match &payment.comment {
        Some(comment) => {
            field(b"1");
            field(comment.as_bytes());
        }
        None => field(b"0"),
    }
    hash.finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The transaction id of the dealer's `number`-th payment: `D001-17`. Unique by construction
/// (dealer codes are unique, the number is a counter under the dealer's row lock), short
/// enough to read out over the phone to support.
pub fn transaction_id(dealer_code: &str, number: i64) -> String {
    format!("{dealer_code}-{number}")
}

/// Whether a creation time is in the gateway's future by more than the allowed drift (910).
pub fn is_clock_ahead(created_at_ms: i64, now_ms: i64) -> bool {
    created_at_ms > now_ms.saturating_add(CLOCK_AHEAD_MS)
}

/// The rules that need no money figures (2 and 3 of the module docs). Returns the account
/// normalised by the provider's rule.
pub fn screen(
    payment: &Payment,
    provider: Result<&ProviderInfo, ResultCode>,
    created_at_ms: i64,
    now_ms: i64,
    max_age_ms: i64,
) -> Result<String, ResultCode> {
    if now_ms.saturating_sub(created_at_ms) > max_age_ms {
        return Err(ResultCode::TooOld);
    }
    // 908 for a provider nobody knows, 914 for one the operator switched off.
    let provider = provider?;
    let account = provider
        .check_account(&payment.account)
        .map_err(|_| ResultCode::BadAccount)?;
    if !provider.accepts_amount(payment.amount_tiyn)
        || payment.customer_amount_tiyn < payment.amount_tiyn
    {
        return Err(ResultCode::BadAmount);
    }
    Ok(account)
}

/// The money figures a payment is judged against, read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    pub balance_tiyn: i64,
    pub point_payment_limit_tiyn: Option<i64>,
    pub point_daily_limit_tiyn: Option<i64>,
    /// Accepted today (business day) by the point; 0, not read, without a daily limit.
    pub point_today_tiyn: i64,
    pub dealer_payment_limit_tiyn: Option<i64>,
    pub dealer_daily_limit_tiyn: Option<i64>,
    /// Accepted today by all the dealer's points; 0, not read, without a daily limit.
    pub dealer_today_tiyn: i64,
    /// The transaction id of the same payment accepted within the duplicate window.
    pub duplicate_of: Option<String>,
}

/// Rules 4 to 7 of the module docs.
pub fn judge(amount_tiyn: i64, standing: &Standing) -> Result<(), ResultCode> {
    let over = |limit: Option<i64>, already: i64| {
        limit.is_some_and(|limit| already.saturating_add(amount_tiyn) > limit)
    };
    if standing.duplicate_of.is_some() {
        Err(ResultCode::Duplicate)
    } else if over(standing.point_payment_limit_tiyn, 0) {
        Err(ResultCode::PointPaymentLimit)
    } else if over(standing.dealer_payment_limit_tiyn, 0) {
        Err(ResultCode::DealerPaymentLimit)
    } else if over(standing.point_daily_limit_tiyn, standing.point_today_tiyn) {
        Err(ResultCode::PointDailyLimit)
    } else if over(standing.dealer_daily_limit_tiyn, standing.dealer_today_tiyn) {
        Err(ResultCode::DealerDailyLimit)
    } else if amount_tiyn > standing.balance_tiyn {
        Err(ResultCode::InsufficientFunds)
    } else {
        Ok(())
    }
}

/// Reads the [`Standing`] of a payment of `point_code` (normalised `account`) created at
/// `created_at_ms`, as of `now_ms`. Inside the payment's transaction this sees every payment
/// decided before it (see [`pay`] for why).
pub async fn read_standing(
    conn: &mut AnyConnection,
    point_code: &str,
    payment: &Payment,
    account: &str,
    created_at_ms: i64,
    now_ms: i64,
) -> Result<Standing, sqlx::Error> {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT d.code AS dealer_code, d.balance_tiyn, d.payment_limit_tiyn AS dealer_payment, \
         d.daily_limit_tiyn AS dealer_daily, p.payment_limit_tiyn AS point_payment, \
         p.daily_limit_tiyn AS point_daily FROM points p JOIN dealers d ON d.code = p.dealer_code \
         WHERE p.code = $1",
    )
    .bind(point_code)
    .fetch_one(&mut *conn)
    .await?;
    let dealer_code: String = row.try_get("dealer_code")?;
    let day_start = business_day_start(now_ms);
    let sameness = Sameness {
        point_code,
        provider: &payment.provider,
        account,
        amount_tiyn: payment.amount_tiyn,
    };
    let point_daily_limit_tiyn: Option<i64> = row.try_get("point_daily")?;
    let dealer_daily_limit_tiyn: Option<i64> = row.try_get("dealer_daily")?;
    // A day's sum is read only when there is a daily limit to hold it against ([`judge`]
    // reads it for nothing else): it grows with every payment of the day, and on the pay path
    // it is read under the write lock.
    let point_today_tiyn = match point_daily_limit_tiyn {
        Some(_) => day_sums::of(conn, Scope::Point(point_code), day_start).await?,
        None => 0,
    };
    let dealer_today_tiyn = match dealer_daily_limit_tiyn {
        Some(_) => day_sums::of(conn, Scope::Dealer(&dealer_code), day_start).await?,
        None => 0,
    };
    Ok(Standing {
        balance_tiyn: row.try_get("balance_tiyn")?,
        point_payment_limit_tiyn: row.try_get("point_payment")?,
        point_daily_limit_tiyn,
        point_today_tiyn,
        dealer_payment_limit_tiyn: row.try_get("dealer_payment")?,
        dealer_daily_limit_tiyn,
        dealer_today_tiyn,
        duplicate_of: payments::accepted_same(
            conn,
            sameness,
            created_at_ms.saturating_sub(DUPLICATE_WINDOW_MS),
            created_at_ms.saturating_add(DUPLICATE_WINDOW_MS),
        )
        .await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-03-14 00:00 in Almaty = 2024-03-13 19:00 UTC.
    const ALMATY_MIDNIGHT_MS: i64 = 1_710_356_400_000;

    #[test]
    fn business_dates_are_named_in_kazakhstan() {
        let date = business_date(ALMATY_MIDNIGHT_MS);
        assert_eq!(date.to_string(), "2024-03-14");
        assert_eq!(
            business_date(ALMATY_MIDNIGHT_MS - 1).to_string(),
            "2024-03-13"
        );
        assert_eq!(business_day_of(date), ALMATY_MIDNIGHT_MS);
    }

    #[test]
    fn the_business_day_starts_at_midnight_in_kazakhstan() {
        assert_eq!(business_day_start(ALMATY_MIDNIGHT_MS), ALMATY_MIDNIGHT_MS);
        assert_eq!(
            business_day_start(ALMATY_MIDNIGHT_MS + DAY_MS - 1),
            ALMATY_MIDNIGHT_MS
        );
        // 23:59:59.999 the evening before, Almaty time: still the previous day.
        assert_eq!(
            business_day_start(ALMATY_MIDNIGHT_MS - 1),
            ALMATY_MIDNIGHT_MS - DAY_MS
        );
        // 20:00 UTC is already 01:00 the next morning in Almaty.
        assert_eq!(
            business_day_start(ALMATY_MIDNIGHT_MS + 60 * 60 * 1000),
            ALMATY_MIDNIGHT_MS
        );
    }

    fn payment(comment: Option<&str>) -> Payment {
        Payment {
            provider: "kcell".into(),
            account: "7011234567".into(),
            amount_tiyn: 100_000,
            customer_amount_tiyn: 102_000,
            comment: comment.map(Into::into),
        }
    }

    #[test]
    fn every_field_changes_the_content_hash() {
        let base = content_hash(&payment(None));
        assert_eq!(base.len(), 64);
        assert_eq!(base, content_hash(&payment(None)));
        let mut changed = vec![
            content_hash(&payment(Some(""))),
            content_hash(&payment(Some("x"))),
        ];
        let mut p = payment(None);
        p.provider = "activ".into();
        changed.push(content_hash(&p));
        let mut p = payment(None);
        p.account = "7011234568".into();
        changed.push(content_hash(&p));
        let mut p = payment(None);
        p.amount_tiyn += 1;
        changed.push(content_hash(&p));
        let mut p = payment(None);
        p.customer_amount_tiyn += 1;
        changed.push(content_hash(&p));
        // Fields cannot run into each other.
        let mut p = payment(None);
        p.provider = "kcell7".into();
        p.account = "011234567".into();
        changed.push(content_hash(&p));
        for (i, hash) in changed.iter().enumerate() {
            assert_ne!(*hash, base, "change {i}");
        }
    }

    #[test]
    fn rules_are_judged_in_order() {
        let calm = Standing {
            balance_tiyn: 1_000_000,
            ..Standing::default()
        };
        assert_eq!(judge(1_000_000, &calm), Ok(()));
        assert_eq!(judge(1_000_001, &calm), Err(ResultCode::InsufficientFunds));

        let tight = Standing {
            balance_tiyn: 1_000_000,
            point_payment_limit_tiyn: Some(500),
            point_daily_limit_tiyn: Some(1000),
            point_today_tiyn: 600,
            dealer_payment_limit_tiyn: Some(450),
            dealer_daily_limit_tiyn: Some(900),
            dealer_today_tiyn: 600,
            duplicate_of: Some("D001-1".into()),
        };
        assert_eq!(judge(501, &tight), Err(ResultCode::Duplicate));
        let tight = Standing {
            duplicate_of: None,
            ..tight
        };
        assert_eq!(judge(501, &tight), Err(ResultCode::PointPaymentLimit));
        assert_eq!(judge(451, &tight), Err(ResultCode::DealerPaymentLimit));
        assert_eq!(judge(401, &tight), Err(ResultCode::PointDailyLimit));
        assert_eq!(judge(400, &tight), Err(ResultCode::DealerDailyLimit));
        assert_eq!(judge(300, &tight), Ok(()));
    }
}
