//! Registering and running dealers (manual §3): a dealer's registration details (name, BIN/IIN,
//! legal address, bank account, contact), blocking it (its phones get 52 at once: `active = 0`)
//! and unblocking it, and its limits (83 per payment, 84 per day, over all its points).
//!
//! Every function runs in the caller's transaction and writes its audit row there, in the
//! dealer's trail (the dealer sees what the operator changed).

use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};

use crate::{
    audit::{self, Action, Actor, Event},
    db::network,
};

/// What registering or changing a dealer can fail with; each has a catalogue key.
#[derive(Debug, thiserror::Error)]
pub enum DealerError {
    /// The name is empty or too long.
    #[error("the name is required")]
    BadName,
    /// The BIN/IIN is not 12 digits with a right control digit.
    #[error("not a BIN/IIN")]
    BadBin,
    /// Another dealer is registered with this BIN/IIN.
    #[error("a dealer with this BIN/IIN exists")]
    DuplicateBin,
    /// The bank account is not a Kazakh IBAN (KZ + 18 characters, mod-97 check).
    #[error("not a Kazakh IBAN")]
    BadBankAccount,
    /// The legal address or the contact is too long or has control characters.
    #[error("a text field is too long")]
    BadText,
    /// A limit is not an amount above zero.
    #[error("a limit is not above zero")]
    BadLimit,
    /// No such dealer.
    #[error("no such dealer")]
    NotFound,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl DealerError {
    /// The catalogue key of the message a person reads.
    pub fn message_key(&self) -> &'static str {
        match self {
            DealerError::BadName => "dealers.bad_name",
            DealerError::BadBin => "dealers.bad_bin",
            DealerError::DuplicateBin => "dealers.duplicate_bin",
            DealerError::BadBankAccount => "dealers.bad_bank_account",
            DealerError::BadText => "dealers.bad_text",
            DealerError::BadLimit => "dealers.bad_limit",
            DealerError::NotFound => "dealers.not_found",
            DealerError::Database(_) => "errors.internal",
        }
    }
}

/// A dealer's registration details, checked ([`Details::check`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Details {
    pub name: String,
    pub bin: String,
    pub legal_address: String,
    pub bank_account: String,
    pub contact: String,
}

impl Details {
    /// The details as typed, trimmed and checked; the IBAN upper-cased without spaces.
    pub fn check(
        name: &str,
        bin: &str,
        legal_address: &str,
        bank_account: &str,
        contact: &str,
    ) -> Result<Details, DealerError> {
        let name = text(name, 200).filter(|n| !n.is_empty());
        let name = name.ok_or(DealerError::BadName)?;
        let bin = bin.trim();
        if !valid_bin(bin) {
            return Err(DealerError::BadBin);
        }
        let bank_account: String = bank_account
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        if !valid_kz_iban(&bank_account) {
            return Err(DealerError::BadBankAccount);
        }
        Ok(Details {
            name,
            bin: bin.to_owned(),
            legal_address: text(legal_address, 300).ok_or(DealerError::BadText)?,
            bank_account,
            contact: text(contact, 200).ok_or(DealerError::BadText)?,
        })
    }
}

/// A trimmed text of at most `max` characters without control characters.
fn text(text: &str, max: usize) -> Option<String> {
    let text = text.trim();
    (text.chars().count() <= max && !text.chars().any(char::is_control)).then(|| text.to_owned())
}

/// Whether `bin` is a Kazakh BIN/IIN: 12 digits, the last the control digit of the first 11
/// (weights 1..11; when that sum mod 11 is 10, weights 3..11, 1, 2; a second 10 is invalid).
pub fn valid_bin(bin: &str) -> bool {
    let digits: Vec<u32> = bin.chars().filter_map(|c| c.to_digit(10)).collect();
    if bin.len() != 12 || digits.len() != 12 {
        return false;
    }
    let weighted = |weights: [u32; 11]| {
        digits[..11]
            .iter()
            .zip(weights)
            .map(|(d, w)| d * w)
            .sum::<u32>()
            % 11
    };
    let mut control = weighted([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    if control == 10 {
        control = weighted([3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]);
    }
    control < 10 && control == digits[11]
}

/// Whether `iban` (upper case, no spaces) is a Kazakh IBAN: `KZ`, 18 letters or digits, and the
/// ISO 13616 check (the first four characters moved to the end, letters as 10..35, mod 97 = 1).
pub fn valid_kz_iban(iban: &str) -> bool {
    if iban.len() != 20 || !iban.starts_with("KZ") {
        return false;
    }
    if !iban
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return false;
    }
    let rearranged = iban[4..].bytes().chain(iban[..4].bytes());
    let mut rest: u32 = 0;
    for b in rearranged {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rest = if value >= 10 {
            (rest * 100 + value) % 97
        } else {
            (rest * 10 + value) % 97
        };
    }
    rest == 1
}

/// A dealer as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealerRecord {
    pub code: String,
    pub details: Details,
    pub balance_tiyn: i64,
    pub active: bool,
    pub blocked_at_ms: Option<i64>,
    pub payment_limit_tiyn: Option<i64>,
    pub daily_limit_tiyn: Option<i64>,
}

const COLUMNS: &str = "code, name, COALESCE(bin, '') AS bin, legal_address, bank_account, \
    contact, balance_tiyn, active, blocked_at_ms, payment_limit_tiyn, daily_limit_tiyn";

fn from_row(row: &AnyRow) -> Result<DealerRecord, sqlx::Error> {
    Ok(DealerRecord {
        code: row.try_get("code")?,
        details: Details {
            name: row.try_get("name")?,
            bin: row.try_get("bin")?,
            legal_address: row.try_get("legal_address")?,
            bank_account: row.try_get("bank_account")?,
            contact: row.try_get("contact")?,
        },
        balance_tiyn: row.try_get("balance_tiyn")?,
        active: row.try_get::<i64, _>("active")? != 0,
        blocked_at_ms: row.try_get("blocked_at_ms")?,
        payment_limit_tiyn: row.try_get("payment_limit_tiyn")?,
        daily_limit_tiyn: row.try_get("daily_limit_tiyn")?,
    })
}

/// Every dealer, by code.
pub async fn list(pool: &AnyPool) -> Result<Vec<DealerRecord>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM dealers ORDER BY code"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The dealer `code`.
pub async fn get<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    code: &str,
) -> Result<Option<DealerRecord>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM dealers WHERE code = $1"))
        .bind(code)
        .fetch_optional(executor)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The dealer's console users: (e-mail, access level), by e-mail.
pub async fn users_of(pool: &AnyPool, code: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT email, access_level FROM console_users WHERE dealer_code = $1 ORDER BY email",
    )
    .bind(code)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("email")?, row.try_get("access_level")?)))
        .collect()
}

/// Whether another dealer than `except` has this BIN.
async fn bin_taken(
    conn: &mut AnyConnection,
    bin: &str,
    except: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let other: Option<String> =
        sqlx::query_scalar("SELECT code FROM dealers WHERE bin = $1 AND code <> $2")
            .bind(bin)
            .bind(except.unwrap_or(""))
            .fetch_optional(conn)
            .await?;
    Ok(other.is_some())
}

/// The actor, writing in `dealer`'s trail.
fn in_trail(actor: &Actor, dealer: &str) -> Actor {
    let mut actor = actor.clone();
    actor.dealer_code = Some(dealer.to_owned());
    actor
}

/// Registers a dealer (active, balance zero); returns its code, `D<nnn>`, skipping codes taken
/// (the demo's `D001`).
pub async fn register_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    details: &Details,
    now_ms: i64,
) -> Result<String, DealerError> {
    if bin_taken(&mut *tx, &details.bin, None).await? {
        return Err(DealerError::DuplicateBin);
    }
    let code = loop {
        let code = format!("D{:03}", network::next_number(&mut *tx, "dealer").await?);
        let inserted = sqlx::query(
            "INSERT INTO dealers (code, name, balance_tiyn, active, created_at_ms, bin, \
             legal_address, bank_account, contact, updated_at_ms) \
             VALUES ($1, $2, 0, 1, $3, $4, $5, $6, $7, $3) ON CONFLICT (code) DO NOTHING",
        )
        .bind(&code)
        .bind(&details.name)
        .bind(now_ms)
        .bind(&details.bin)
        .bind(&details.legal_address)
        .bind(&details.bank_account)
        .bind(&details.contact)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            break code;
        }
    };
    let event = Event {
        action: Action::DealerRegistered,
        subject: format!("dealer:{code}"),
        details: serde_json::json!({ "after": details }),
    };
    audit::record_in(tx, &in_trail(actor, &code), &event, now_ms).await?;
    tracing::info!(dealer = %code, by = %actor.who, "dealer registered");
    Ok(code)
}

/// Changes the dealer's registration details.
pub async fn edit_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    details: &Details,
    now_ms: i64,
) -> Result<(), DealerError> {
    let before = get(&mut *tx, code).await?.ok_or(DealerError::NotFound)?;
    if bin_taken(&mut *tx, &details.bin, Some(code)).await? {
        return Err(DealerError::DuplicateBin);
    }
    sqlx::query(
        "UPDATE dealers SET name = $1, bin = $2, legal_address = $3, bank_account = $4, \
         contact = $5, updated_at_ms = $6 WHERE code = $7",
    )
    .bind(&details.name)
    .bind(&details.bin)
    .bind(&details.legal_address)
    .bind(&details.bank_account)
    .bind(&details.contact)
    .bind(now_ms)
    .bind(code)
    .execute(&mut *tx)
    .await?;
    let event = Event {
        action: Action::DealerEdited,
        subject: format!("dealer:{code}"),
        details: audit::change(
            serde_json::json!(before.details),
            serde_json::json!(details),
        ),
    };
    audit::record_in(tx, &in_trail(actor, code), &event, now_ms).await?;
    Ok(())
}

/// Blocks (`blocked`) or unblocks the dealer; `false` when it was in that state already
/// (nothing written).
pub async fn set_blocked_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    blocked: bool,
    now_ms: i64,
) -> Result<bool, DealerError> {
    get(&mut *tx, code).await?.ok_or(DealerError::NotFound)?;
    let changed = if blocked {
        sqlx::query(
            "UPDATE dealers SET active = 0, blocked_at_ms = $1, updated_at_ms = $1 \
             WHERE code = $2 AND active = 1",
        )
        .bind(now_ms)
        .bind(code)
        .execute(&mut *tx)
        .await?
    } else {
        sqlx::query(
            "UPDATE dealers SET active = 1, blocked_at_ms = NULL, updated_at_ms = $1 \
             WHERE code = $2 AND active = 0",
        )
        .bind(now_ms)
        .bind(code)
        .execute(&mut *tx)
        .await?
    };
    if changed.rows_affected() == 0 {
        return Ok(false);
    }
    let event = Event {
        action: if blocked {
            Action::DealerBlocked
        } else {
            Action::DealerUnblocked
        },
        subject: format!("dealer:{code}"),
        details: audit::change(
            serde_json::json!({ "active": blocked }),
            serde_json::json!({ "active": !blocked }),
        ),
    };
    audit::record_in(tx, &in_trail(actor, code), &event, now_ms).await?;
    tracing::info!(dealer = %code, blocked, by = %actor.who, "dealer blocked or unblocked");
    Ok(true)
}

/// Sets the dealer's limits over all its points: per payment (83) and per day (84); `None` =
/// no limit.
pub async fn set_limits_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    payment_limit_tiyn: Option<i64>,
    daily_limit_tiyn: Option<i64>,
    now_ms: i64,
) -> Result<(), DealerError> {
    if payment_limit_tiyn.is_some_and(|l| l <= 0) || daily_limit_tiyn.is_some_and(|l| l <= 0) {
        return Err(DealerError::BadLimit);
    }
    let before = get(&mut *tx, code).await?.ok_or(DealerError::NotFound)?;
    sqlx::query(
        "UPDATE dealers SET payment_limit_tiyn = $1, daily_limit_tiyn = $2, updated_at_ms = $3 \
         WHERE code = $4",
    )
    .bind(payment_limit_tiyn)
    .bind(daily_limit_tiyn)
    .bind(now_ms)
    .bind(code)
    .execute(&mut *tx)
    .await?;
    let event = Event {
        action: Action::DealerLimits,
        subject: format!("dealer:{code}"),
        details: audit::change(
            serde_json::json!({
                "payment_limit_tiyn": before.payment_limit_tiyn,
                "daily_limit_tiyn": before.daily_limit_tiyn,
            }),
            serde_json::json!({
                "payment_limit_tiyn": payment_limit_tiyn,
                "daily_limit_tiyn": daily_limit_tiyn,
            }),
        ),
    };
    audit::record_in(tx, &in_trail(actor, code), &event, now_ms).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_and_ibans() {
        // The first sum mod 11 is 10 here: the second weights give 3.
        assert!(valid_bin("123456789013"));
        assert!(!valid_bin("123456789012"));
        assert!(valid_bin("080640000213"));
        assert!(!valid_bin("12345678901"));
        assert!(!valid_bin("12345678901a"));
        assert!(valid_kz_iban("KZ86125KZT5004100100"));
        assert!(!valid_kz_iban("KZ87125KZT5004100100"));
        assert!(!valid_kz_iban("DE86125KZT5004100100"));
        assert!(!valid_kz_iban("KZ86125KZT500410010"));
    }
}
