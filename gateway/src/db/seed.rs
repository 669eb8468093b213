//! Demo data for `--demo`: the operator's user, one dealer with its admin and clerk, one point
//! with one cashier, and real Kazakh providers.
//!
//! The demo is made the way a real network is, through the same domain functions the CLI and
//! the console call: the operator's user and the dealer's users are created by
//! [`users::create_in`] and then given their printed passwords as a user changes their own
//! ([`users::set_own_password_in`]); the dealer is registered by
//! [`dealers::register_in`]; its opening balance is a top-up its admin requests
//! ([`top_ups::request_in`]) and the operator confirms ([`money::confirm_top_up_in`]) — so
//! the ledger, the requests and the audit trail look like a real first day. Two things are
//! written directly: the one-time-code secrets (known, printed in the banner, instead of an
//! enrolment by QR code) and the provider catalogue (real data, in which Kcell and its own
//! brand activ share number ranges — which the operator's console refuses for new providers).
//!
//! Seeding is idempotent: each part is made only when it is missing, so running it on every
//! start of a demo gateway changes nothing after the first time, and it never overwrites a row
//! someone has edited (a changed balance, a blocked point). The passwords are public on purpose
//! — they are printed in the start-up banner — so `--demo` is for trying Tolem out, never for a
//! dealer.
//!
//! ## `providers.account_rule`
//! A short rule the phone can check offline: `;`-separated parts, all of which must hold.
//! * `digits=N` or `digits=N-M` — the number has exactly N (N to M) digits. Phone numbers are
//!   written as their 10 national digits, without `+7` or `8`.
//! * `prefixes=a,b,c` — the number starts with one of these.

use sqlx::{AnyConnection, AnyPool};

use super::{
    begin_write, now_ms,
    sessions::{AccessLevel, Party},
};
use crate::{
    audit::Actor,
    db::connections::{self as stored_connections, StoredConnection},
    dealer::top_ups::{self, TopUpError},
    delivery::connections::{self, ConnectionError},
    operator::{
        dealers::{self, DealerError, Details},
        money::{self, MoneyError},
    },
    password::{PasswordError, hash_password},
    users::{self, NewUser, UserError},
};

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
    /// Dealer-console login that may only create and view (the dealer's clerk).
    pub clerk_email: &'static str,
    /// Password of [`Self::clerk_email`].
    pub clerk_password: &'static str,
    /// Console login of the operator (the processing centre above the dealers), full access.
    pub operator_email: &'static str,
    /// Password of [`Self::operator_email`].
    pub operator_password: &'static str,
    /// The operator user's one-time-code secret (as [`Self::admin_totp_secret`]).
    pub operator_totp_secret: &'static str,
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
    clerk_email: "clerk@tolem.demo",
    clerk_password: "tolem-clerk-demo",
    operator_email: "operator@tolem.demo",
    operator_password: "tolem-operator-demo",
    operator_totp_secret: "TOLEMDEMOOPERATORTOTPSECRET23456",
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
    /// A demo user could not be made.
    #[error("demo user: {0}")]
    User(#[from] UserError),
    /// The demo dealer could not be registered.
    #[error("demo provider connection: {0}")]
    Connection(#[from] ConnectionError),
    #[error("demo dealer: {0}")]
    Dealer(#[from] DealerError),
    /// The opening top-up could not be requested.
    #[error("demo opening top-up: {0}")]
    TopUp(#[from] TopUpError),
    /// The opening top-up could not be confirmed.
    #[error("demo opening top-up: {0}")]
    Money(#[from] MoneyError),
}

/// The demo dealer's registration details (a BIN and an IBAN whose check digits are right).
fn demo_dealer() -> Result<Details, DealerError> {
    Details::check(
        "Демо-дилер",
        "080640001122",
        "Алматы, пр. Абая, 10",
        "KZ86125KZT5004100100",
        "Демо-контакт, +7 701 000 00 00",
    )
}

/// Makes the console user `email` of `party` (unless it exists) with the printed `password`.
async fn demo_user(
    tx: &mut AnyConnection,
    email: &str,
    party: &Party,
    access_level: AccessLevel,
    password_hash: &str,
    now: i64,
) -> Result<(), SeedError> {
    let exists: Option<String> =
        sqlx::query_scalar("SELECT email FROM console_users WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_some() {
        return Ok(());
    }
    let user = NewUser {
        email,
        party,
        access_level,
    };
    let password = users::NewPassword::make().await?;
    users::create_in(tx, &seed_actor(), &user, password, now).await?;
    let ip = std::net::IpAddr::from([127, 0, 0, 1]);
    users::set_own_password_in(
        tx,
        email,
        party.dealer_code(),
        ip,
        password_hash,
        false,
        now,
    )
    .await?;
    Ok(())
}

/// Who the audit trail names for what the demo seed does.
fn seed_actor() -> Actor {
    let mut actor = Actor::system(None);
    actor.who = "demo-seed".to_owned();
    actor
}

/// Writes the demo data, leaving rows that already exist untouched.
pub async fn seed_demo(pool: &AnyPool) -> Result<DemoCredentials, SeedError> {
    let demo = DEMO_CREDENTIALS;
    // Hashed before the transaction so the slow part does not hold SQLite's write lock.
    // A fresh salt each run gives a different hash, but ON CONFLICT keeps the stored one.
    let point_hash = hash_password(demo.point_password.to_owned()).await?;
    let admin_hash = hash_password(demo.admin_password.to_owned()).await?;
    let clerk_hash = hash_password(demo.clerk_password.to_owned()).await?;
    let operator_hash = hash_password(demo.operator_password.to_owned()).await?;
    let now = now_ms();

    let mut tx = begin_write(pool).await?;
    demo_user(
        &mut tx,
        demo.operator_email,
        &Party::Operator,
        AccessLevel::Full,
        &operator_hash,
        now,
    )
    .await?;
    // The dealer starts at zero and gets its opening balance the four-eyes way, so the balance
    // equals the sum of its ledger entries from the first day. Only when the dealer is new:
    // an existing one keeps its balance and ledger.
    let dealer_exists: Option<String> =
        sqlx::query_scalar("SELECT code FROM dealers WHERE code = $1")
            .bind(DEMO_DEALER_CODE)
            .fetch_optional(&mut *tx)
            .await?;
    let operator = Actor::new(demo.operator_email, None, [127, 0, 0, 1].into());
    if dealer_exists.is_none() {
        let code = dealers::register_in(&mut tx, &operator, &demo_dealer()?, now).await?;
        if code != DEMO_DEALER_CODE {
            // Another dealer took the number: the demo belongs on a database of its own.
            tracing::warn!(%code, "demo dealer registered under another code");
        }
    }
    let dealer = Party::Dealer(DEMO_DEALER_CODE.to_owned());
    demo_user(
        &mut tx,
        demo.admin_email,
        &dealer,
        AccessLevel::Full,
        &admin_hash,
        now,
    )
    .await?;
    demo_user(
        &mut tx,
        demo.clerk_email,
        &dealer,
        AccessLevel::CreateView,
        &clerk_hash,
        now,
    )
    .await?;
    if dealer_exists.is_none() {
        let admin = Actor::new(
            demo.admin_email,
            Some(DEMO_DEALER_CODE),
            [127, 0, 0, 1].into(),
        );
        let opening = top_ups::NewRequest {
            amount_tiyn: DEMO_DEALER_BALANCE_TIYN,
            bank_reference: "DEMO-OPENING",
            paid_on: crate::payments::business_date(now),
        };
        let today = crate::payments::business_date(now);
        let request =
            top_ups::request_in(&mut tx, &admin, DEMO_DEALER_CODE, &opening, today, now).await?;
        money::confirm_top_up_in(&mut tx, &operator, &request, now).await?;
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

    // One-time codes of the admin and the operator are set up with the known secrets, unless
    // someone enrolled them with others.
    for (email, secret) in [
        (demo.admin_email, demo.admin_totp_secret),
        (demo.operator_email, demo.operator_totp_secret),
    ] {
        sqlx::query(
            "UPDATE console_users SET totp_secret = $2, totp_pending_secret = NULL, \
             totp_enrolled_at_ms = $3 WHERE email = $1 AND totp_secret IS NULL",
        )
        .bind(email)
        .bind(secret)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }

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

/// Connects every demo provider that has no connection yet to the provider emulator at `url`
/// (`scripts/run.sh` starts one), through the same checks and audit row as the console.
pub async fn connect_demo_providers(pool: &AnyPool, url: &str) -> Result<(), SeedError> {
    let now = now_ms();
    for &(code, ..) in DEMO_PROVIDERS {
        if stored_connections::find(pool, code).await?.is_some() {
            continue;
        }
        let stored = StoredConnection {
            provider: code.to_owned(),
            protocol: "osmp".to_owned(),
            url: url.to_owned(),
            username: None,
            password: None,
            timeout_ms: 10_000,
            ca_cert_pem: None,
            in_flight_max: None,
            updated_at_ms: now,
        };
        let mut tx = begin_write(pool).await?;
        connections::connect_in(&mut tx, &Actor::system(None), &stored, now).await?;
        tx.commit().await?;
    }
    tracing::info!(%url, "demo providers deliver to the emulator");
    Ok(())
}
