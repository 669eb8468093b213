//! Demo data for `--demo`: one dealer, one point with one cashier, two console users (the admin
//! with one-time codes set up from a known secret) and real Kazakh providers.
//!
//! Seeding is idempotent (`INSERT ... ON CONFLICT DO NOTHING`): running it on every start of a
//! demo gateway changes nothing after the first time, and it never overwrites a row someone has
//! edited (a changed balance, a blocked point). The passwords are public on purpose — they are
//! printed in the start-up banner — so `--demo` is for trying Tolem out, never for a dealer.
//! The demo dealer's opening balance is a top-up in its ledger, written only when the dealer
//! itself is new, so its balance always equals the sum of its ledger entries.
//!
//! ## `providers.account_rule`
//! A short rule the phone can check offline: `;`-separated parts, all of which must hold.
//! * `digits=N` or `digits=N-M` — the number has exactly N (N to M) digits. Phone numbers are
//!   written as their 10 national digits, without `+7` or `8`.
//! * `prefixes=a,b,c` — the number starts with one of these.

use sqlx::AnyPool;

use super::{
    begin_write,
    ledger::{self, LedgerKind},
    now_ms,
};
use crate::password::{PasswordError, hash_password};

/// Credentials of the demo accounts, printed in the banner when the gateway runs with `--demo`.
#[derive(Debug, Clone, Copy)]
pub struct DemoCredentials {
    /// Code of the demo point.
    pub point_code: &'static str,
    /// Password of the demo point, used once to register a key.
    pub point_password: &'static str,
    /// Dealer-console login with full access (may certify keys and activate points).
    pub admin_email: &'static str,
    /// Password of [`Self::admin_email`].
    pub admin_password: &'static str,
    /// Dealer-console login that may only create and view.
    pub operator_email: &'static str,
    /// Password of [`Self::operator_email`].
    pub operator_password: &'static str,
    /// The admin's one-time-code secret (RFC 6238: HMAC-SHA-1, 6 digits, 30 s), base32: add
    /// it to an authenticator app to confirm sensitive operations in the demo.
    pub admin_totp_secret: &'static str,
}

/// The demo accounts.
pub const DEMO_CREDENTIALS: DemoCredentials = DemoCredentials {
    point_code: "P1001",
    point_password: "tolem-demo-1001",
    admin_email: "admin@tolem.demo",
    admin_password: "tolem-admin-demo",
    operator_email: "operator@tolem.demo",
    operator_password: "tolem-operator-demo",
    // 32 base32 characters = 160 bits, readable on purpose: it is printed in the banner.
    admin_totp_secret: "TOLEMDEMOADMINTOTPSECRETKZ234567",
};

/// Code of the demo dealer.
pub const DEMO_DEALER_CODE: &str = "D001";

/// Code of the demo point's cashier.
pub const DEMO_CASHIER_CODE: &str = "C1";

/// 500 000 tenge in tiyn: enough for many demo payments.
const DEMO_DEALER_BALANCE_TIYN: i64 = 500_000 * 100;

/// 100 tenge — the smallest payment a provider takes in the demo.
const MIN_TIYN: i64 = 100 * 100;
/// 100 000 tenge — the largest mobile or internet payment in the demo.
const MAX_TIYN: i64 = 100_000 * 100;
/// 300 000 tenge — utility bills for a winter month can be large.
const MAX_UTILITIES_TIYN: i64 = 300_000 * 100;

/// A provider row of the demo: (code, name, short_label, grp, account_kind, account_rule, max).
type ProviderSeed = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i64,
);

/// Real providers of Kazakhstan with their mobile prefixes. activ is Kcell's second brand and
/// shares its prefixes; Tele2 and Altel are one company today but keep separate brands.
#[rustfmt::skip]
const DEMO_PROVIDERS: &[ProviderSeed] = &[
    ("beeline", "Beeline", "Beeline", "mobile", "phone", "digits=10;prefixes=705,771,776,777", MAX_TIYN),
    ("kcell", "Kcell", "Kcell", "mobile", "phone", "digits=10;prefixes=701,702,775,778", MAX_TIYN),
    ("activ", "activ", "activ", "mobile", "phone", "digits=10;prefixes=701,702,775,778", MAX_TIYN),
    ("tele2", "Tele2", "Tele2", "mobile", "phone", "digits=10;prefixes=707,747", MAX_TIYN),
    ("altel", "Altel", "Altel", "mobile", "phone", "digits=10;prefixes=700,708", MAX_TIYN),
    ("kazakhtelecom", "Казахтелеком — домашний интернет", "Казахтелеком", "internet", "account", "digits=10", MAX_TIYN),
    ("alseco", "Алсеко — коммунальные услуги", "Алсеко", "utilities", "account", "digits=6-12", MAX_UTILITIES_TIYN),
];

/// Why the demo data could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Hashing a demo password failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The database refused an insert.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Writes the demo data, leaving rows that already exist untouched.
pub async fn seed_demo(pool: &AnyPool) -> Result<DemoCredentials, SeedError> {
    let demo = DEMO_CREDENTIALS;
    // Hashed before the transaction so the slow part does not hold SQLite's write lock.
    // A fresh salt each run gives a different hash, but ON CONFLICT keeps the stored one.
    let point_hash = hash_password(demo.point_password.to_owned()).await?;
    let admin_hash = hash_password(demo.admin_password.to_owned()).await?;
    let operator_hash = hash_password(demo.operator_password.to_owned()).await?;
    let now = now_ms();

    let mut tx = begin_write(pool).await?;
    // The dealer starts at zero and gets its opening balance as a top-up, so the balance
    // equals the sum of its ledger entries from the first day. Only when the dealer is new:
    // an existing one keeps its balance and ledger.
    let created = sqlx::query(
        "INSERT INTO dealers (code, name, balance_tiyn, active, created_at_ms) \
         VALUES ($1, $2, 0, 1, $3) ON CONFLICT DO NOTHING",
    )
    .bind(DEMO_DEALER_CODE)
    .bind("Демо-дилер")
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if created.rows_affected() == 1 {
        let opening = ledger::NewEntry {
            dealer_code: DEMO_DEALER_CODE,
            kind: LedgerKind::TopUp,
            amount_tiyn: DEMO_DEALER_BALANCE_TIYN,
            reference: &format!("opening-{DEMO_DEALER_CODE}"),
            point_code: None,
            created_at_ms: now,
        };
        let posted = ledger::post_in(&mut tx, &opening).await?;
        if !matches!(posted, ledger::Posted::Done { .. }) {
            tracing::warn!(
                dealer = DEMO_DEALER_CODE,
                ?posted,
                "demo opening balance not posted"
            );
        }
    }

    // Inactive, like every new point: the dealer activates it after certifying its key.
    sqlx::query(
        "INSERT INTO points (code, dealer_code, name, address, password_hash, active, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, 0, $6) ON CONFLICT DO NOTHING",
    )
    .bind(demo.point_code)
    .bind(DEMO_DEALER_CODE)
    .bind("Демо-касса")
    .bind("Алматы, ул. Абая, 1")
    .bind(point_hash)
    .bind(now)
    .execute(&mut *tx)
    .await?;

    sqlx::query(
        "INSERT INTO cashiers (point_code, code, name, active, created_at_ms) \
         VALUES ($1, $2, $3, 1, $4) ON CONFLICT DO NOTHING",
    )
    .bind(demo.point_code)
    .bind(DEMO_CASHIER_CODE)
    .bind("Демо-кассир")
    .bind(now)
    .execute(&mut *tx)
    .await?;

    let users = [
        (demo.admin_email, admin_hash, "full"),
        (demo.operator_email, operator_hash, "create_view"),
    ];
    for (email, hash, access_level) in users {
        sqlx::query(
            "INSERT INTO dealer_users (email, dealer_code, password_hash, access_level, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(email)
        .bind(DEMO_DEALER_CODE)
        .bind(hash)
        .bind(access_level)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    // The admin's one-time codes are set up with the known secret, unless someone enrolled
    // the admin with another one.
    sqlx::query(
        "UPDATE dealer_users SET totp_secret = $2, totp_pending_secret = NULL, \
         totp_enrolled_at_ms = $3 WHERE email = $1 AND totp_secret IS NULL",
    )
    .bind(demo.admin_email)
    .bind(demo.admin_totp_secret)
    .bind(now)
    .execute(&mut *tx)
    .await?;

    for &(code, name, short_label, grp, account_kind, account_rule, max_tiyn) in DEMO_PROVIDERS {
        sqlx::query(
            "INSERT INTO providers (code, name, short_label, grp, account_kind, account_rule, \
             min_tiyn, max_tiyn, active, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9) ON CONFLICT DO NOTHING",
        )
        .bind(code)
        .bind(name)
        .bind(short_label)
        .bind(grp)
        .bind(account_kind)
        .bind(account_rule)
        .bind(MIN_TIYN)
        .bind(max_tiyn)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    tracing::info!(
        dealer = DEMO_DEALER_CODE,
        point = demo.point_code,
        "demo data present"
    );
    Ok(demo)
}
