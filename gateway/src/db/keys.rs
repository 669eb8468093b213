//! Key cards and the point keys registered under them.
//!
//! A key's life: a card is issued (a serial, `P1001-1`) → the phone registers its public key
//! under that serial → *pending* → the dealer compares fingerprints and certifies it →
//! *certified* → revoked by the dealer or by the phone itself → *revoked*, for good.

use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};
use tolem_protocol::{keys::PublicKey, messages::KeyState};

use super::columns::Columns;

/// A registered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub serial: String,
    pub point_code: String,
    pub public_key: PublicKey,
    pub state: KeyState,
    pub registered_at_ms: i64,
    pub certified_at_ms: Option<i64>,
    pub certified_by: Option<String>,
    pub revoked_at_ms: Option<i64>,
    pub revoked_by: Option<String>,
    /// The cashier the key speaks for: its card's. `None` only for a key older than
    /// migration 0009 without a card, which may speak for any active cashier of its point.
    pub cashier_code: Option<String>,
}

/// How a registration went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Stored as pending; `other_pending` other keys of the point wait for the dealer too.
    Registered { other_pending: i64 },
    /// This very key is already registered under this card (the phone repeating a registration
    /// whose answer it lost); nothing changed.
    Repeated { state: KeyState },
    /// No card with this serial was issued to this point.
    UnknownCard,
    /// The card already has a key, or this public key is already registered under another.
    AlreadyBound,
}

/// The text form of a state in the `keys.state` column.
pub fn state_text(state: KeyState) -> &'static str {
    match state {
        KeyState::Pending => "pending",
        KeyState::Certified => "certified",
        KeyState::Revoked => "revoked",
    }
}

pub(crate) fn parse_state(text: &str) -> Result<KeyState, sqlx::Error> {
    match text {
        "pending" => Ok(KeyState::Pending),
        "certified" => Ok(KeyState::Certified),
        "revoked" => Ok(KeyState::Revoked),
        other => Err(sqlx::Error::Decode(
            format!("unknown key state {other:?}").into(),
        )),
    }
}

pub(crate) const KEY_COLUMNS: &str = "serial, point_code, public_key, state, registered_at_ms, \
    certified_at_ms, certified_by, revoked_at_ms, revoked_by, cashier_code";

fn key_from_row(row: &AnyRow) -> Result<Key, sqlx::Error> {
    key_from(Columns::of(row))
}

/// A key from its columns (alone, or its part of a joined row).
pub(crate) fn key_from(row: Columns<'_>) -> Result<Key, sqlx::Error> {
    let public_key: String = row.get("public_key")?;
    Ok(Key {
        serial: row.get("serial")?,
        point_code: row.get("point_code")?,
        public_key: public_key
            .parse()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        state: parse_state(&row.get::<String>("state")?)?,
        registered_at_ms: row.get("registered_at_ms")?,
        certified_at_ms: row.get("certified_at_ms")?,
        certified_by: row.get("certified_by")?,
        revoked_at_ms: row.get("revoked_at_ms")?,
        revoked_by: row.get("revoked_by")?,
        cashier_code: row.get("cashier_code")?,
    })
}

/// Issues a new key card: the point's next serial, `<point>-<n>`, naming `cashier_code`,
/// inside the caller's write transaction.
pub async fn issue_card(
    conn: &mut AnyConnection,
    point_code: &str,
    cashier_code: &str,
    now: i64,
) -> Result<String, sqlx::Error> {
    // The UPDATE comes first: it takes the row lock (PostgreSQL), so the number read next is
    // ours alone.
    sqlx::query("UPDATE points SET key_cards_issued = key_cards_issued + 1 WHERE code = $1")
        .bind(point_code)
        .execute(&mut *conn)
        .await?;
    let number: i64 = sqlx::query_scalar("SELECT key_cards_issued FROM points WHERE code = $1")
        .bind(point_code)
        .fetch_one(&mut *conn)
        .await?;
    let serial = format!("{point_code}-{number}");
    sqlx::query(
        "INSERT INTO key_cards (serial, point_code, cashier_code, issued_at_ms) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&serial)
    .bind(point_code)
    .bind(cashier_code)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(serial)
}

/// Stores `public_key` as the pending key of the card `serial` of `point_code`, inside the
/// caller's write transaction.
pub async fn register(
    conn: &mut AnyConnection,
    serial: &str,
    point_code: &str,
    public_key: &PublicKey,
    now: i64,
) -> Result<Registration, sqlx::Error> {
    // The card names the cashier; the key is bound to them for good (see `sender::authorize`).
    let Some(cashier) = card_cashier(&mut *conn, serial, point_code).await? else {
        return Ok(Registration::UnknownCard);
    };
    // No conflict target: either unique key (the serial, the public key) makes it a no-op.
    let done = sqlx::query(
        "INSERT INTO keys \
         (serial, point_code, public_key, fingerprint, state, registered_at_ms, cashier_code) \
         VALUES ($1, $2, $3, $4, 'pending', $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(serial)
    .bind(point_code)
    .bind(public_key.to_string())
    .bind(public_key.fingerprint().to_string())
    .bind(now)
    .bind(cashier)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        let same = key(&mut *conn, serial)
            .await?
            .filter(|key| key.point_code == point_code && key.public_key == *public_key);
        return Ok(match same {
            Some(key) => Registration::Repeated { state: key.state },
            None => Registration::AlreadyBound,
        });
    }
    let other_pending: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM keys WHERE point_code = $1 AND state = 'pending' AND serial <> $2",
    )
    .bind(point_code)
    .bind(serial)
    .fetch_one(conn)
    .await?;
    Ok(Registration::Registered { other_pending })
}

/// The cashier the key card `serial` of `point_code` names, if there is such a card.
pub async fn card_cashier<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    serial: &str,
    point_code: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT cashier_code FROM key_cards WHERE serial = $1 AND point_code = $2")
        .bind(serial)
        .bind(point_code)
        .fetch_optional(executor)
        .await
}

/// The key registered under `serial`.
pub async fn key<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    serial: &str,
) -> Result<Option<Key>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE serial = $1"))
        .bind(serial)
        .fetch_optional(executor)
        .await?;
    row.as_ref().map(key_from_row).transpose()
}

/// Every key of the points of a dealer, by point and then serial number.
pub async fn keys_of_dealer(pool: &AnyPool, dealer_code: &str) -> Result<Vec<Key>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM keys WHERE point_code IN \
         (SELECT code FROM points WHERE dealer_code = $1) \
         ORDER BY point_code, registered_at_ms, serial"
    ))
    .bind(dealer_code)
    .fetch_all(pool)
    .await?;
    rows.iter().map(key_from_row).collect()
}

/// Certifies a pending key of one of `dealer_code`'s points; `by` is the console user.
/// Returns false when there is no such pending key.
pub async fn certify(
    conn: &mut AnyConnection,
    serial: &str,
    dealer_code: &str,
    by: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE keys SET state = 'certified', certified_at_ms = $3, certified_by = $4 \
         WHERE serial = $1 AND state = 'pending' \
         AND point_code IN (SELECT code FROM points WHERE dealer_code = $2)",
    )
    .bind(serial)
    .bind(dealer_code)
    .bind(now)
    .bind(by)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes a key that is not revoked yet. `dealer_code` limits it to that dealer's points
/// (the console); `None` is for the key revoking itself. Returns false when nothing changed.
pub async fn revoke(
    conn: &mut AnyConnection,
    serial: &str,
    dealer_code: Option<&str>,
    by: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE keys SET state = 'revoked', revoked_at_ms = $3, revoked_by = $4 \
         WHERE serial = $1 AND state <> 'revoked' \
         AND ($2 IS NULL OR point_code IN (SELECT code FROM points WHERE dealer_code = $2))",
    )
    .bind(serial)
    .bind(dealer_code)
    .bind(now)
    .bind(by)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A key card of a point and the key registered under it, if any: one line of the point's
/// key history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardHistory {
    pub serial: String,
    pub cashier_code: String,
    pub issued_at_ms: i64,
    /// `None` while no key was registered under the card.
    pub key: Option<Key>,
}

/// Every key card of a point with its key, newest first.
pub async fn history_of_point(
    pool: &AnyPool,
    point_code: &str,
) -> Result<Vec<CardHistory>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.serial AS card_serial, c.cashier_code, c.issued_at_ms, k.serial, \
         k.point_code, k.public_key, k.state, k.registered_at_ms, k.certified_at_ms, \
         k.certified_by, k.revoked_at_ms, k.revoked_by \
         FROM key_cards c LEFT JOIN keys k ON k.serial = c.serial \
         WHERE c.point_code = $1 ORDER BY c.issued_at_ms DESC, c.serial DESC",
    )
    .bind(point_code)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let registered: Option<String> = row.try_get("serial")?;
            Ok(CardHistory {
                serial: row.try_get("card_serial")?,
                cashier_code: row.try_get("cashier_code")?,
                issued_at_ms: row.try_get("issued_at_ms")?,
                key: registered.map(|_| key_from_row(row)).transpose()?,
            })
        })
        .collect()
}
