//! The dealer's ledger: every change of a balance is an entry, written in the same transaction
//! as the change of `dealers.balance_tiyn`, so the balance always equals the sum of the
//! dealer's entries and every tiyn can be traced to a payment, a top-up, a commission, a
//! correction or a refund.
//!
//! Entry ids are `<kind>:<reference>` (`payment:D001-17`, `top_up:opening-D001`): posting the
//! same top-up twice (a double click, a re-sent bank statement) is refused by the primary key.

use sqlx::{AnyConnection, AnyPool};

use super::{batch::Batch, begin_write, lists::ROWS_PER_STATEMENT};

/// What an entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerKind {
    /// Money the dealer paid in.
    TopUp,
    /// A payment of one of the dealer's points (negative).
    Payment,
    /// The dealer's commission, credited daily.
    Commission,
    /// A correction by the gateway's operator, either way.
    Correction,
    /// A payment's money back after the provider refused it for good (positive; the
    /// reference is the payment's transaction id).
    Refund,
    /// A customer's card paid a bill of one of the dealer's points (positive): the provider's
    /// amount, credited just before that payment's debit (the reference is the payment's
    /// transaction id), and the point's fee once the provider took it (`fee-` and the
    /// transaction id; [`crate::card::earn`]). Card payments settled before migration 0022 were
    /// credited the whole customer amount at once.
    CardPayment,
    /// A card payment's money back to the card (negative; the reference is the payment's
    /// transaction id).
    CardRefund,
}

impl LedgerKind {
    /// The text form in `ledger_entries.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::TopUp => "top_up",
            LedgerKind::Payment => "payment",
            LedgerKind::Commission => "commission",
            LedgerKind::Correction => "correction",
            LedgerKind::Refund => "refund",
            LedgerKind::CardPayment => "card_payment",
            LedgerKind::CardRefund => "card_refund",
        }
    }
}

/// An entry to write.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub dealer_code: &'a str,
    pub kind: LedgerKind,
    /// Signed: negative takes money away.
    pub amount_tiyn: i64,
    pub reference: &'a str,
    pub point_code: Option<&'a str>,
    pub created_at_ms: i64,
}

/// How posting an entry went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    /// Written; the dealer's balance is now this.
    Done { balance_after_tiyn: i64 },
    /// An entry with this kind and reference exists already; nothing changed.
    AlreadyPosted,
    /// The balance would go below zero; nothing changed.
    InsufficientFunds,
    /// No such dealer.
    NoDealer,
}

/// The id of an entry.
pub fn entry_id(kind: LedgerKind, reference: &str) -> String {
    format!("{}:{reference}", kind.as_str())
}

/// Moves the dealer's balance by the entry's amount and writes the entry, inside the caller's
/// transaction. The update is conditional, so the balance never goes below zero however many
/// transactions race: `InsufficientFunds` means nothing was changed.
pub async fn post_in(
    conn: &mut AnyConnection,
    entry: &NewEntry<'_>,
) -> Result<Posted, sqlx::Error> {
    // The balance after comes back with the move: one round trip, not two.
    let moved: Option<i64> = sqlx::query_scalar(
        "UPDATE dealers SET balance_tiyn = balance_tiyn + $1 \
         WHERE code = $2 AND balance_tiyn + $1 >= 0 RETURNING balance_tiyn",
    )
    .bind(entry.amount_tiyn)
    .bind(entry.dealer_code)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(balance_after_tiyn) = moved else {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT balance_tiyn FROM dealers WHERE code = $1")
                .bind(entry.dealer_code)
                .fetch_optional(&mut *conn)
                .await?;
        return Ok(match exists {
            Some(_) => Posted::InsufficientFunds,
            None => Posted::NoDealer,
        });
    };
    let written = sqlx::query(
        "INSERT INTO ledger_entries (id, dealer_code, kind, amount_tiyn, balance_after_tiyn, \
         reference, point_code, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT DO NOTHING",
    )
    .bind(entry_id(entry.kind, entry.reference))
    .bind(entry.dealer_code)
    .bind(entry.kind.as_str())
    .bind(entry.amount_tiyn)
    .bind(balance_after_tiyn)
    .bind(entry.reference)
    .bind(entry.point_code)
    .bind(entry.created_at_ms)
    .execute(&mut *conn)
    .await?;
    if written.rows_affected() == 0 {
        // The caller must roll back: the balance above moved for an entry that exists.
        return Ok(Posted::AlreadyPosted);
    }
    Ok(Posted::Done { balance_after_tiyn })
}

/// Writes entries whose balance moves the caller has already made in this same transaction
/// (the payment writer moves each dealer's balance once for a whole group and knows every
/// balance after): `(entry, balance after it)`, in one statement. An entry id that exists
/// already is an error here: a group's references are new transaction ids. Written in
/// `batch`.
pub fn insert_moved_into<'q>(batch: &mut Batch<'q>, entries: &[(NewEntry<'q>, i64)]) {
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO ledger_entries (id, dealer_code, kind, amount_tiyn, balance_after_tiyn, \
             reference, point_code, created_at_ms) VALUES {}",
            batch.placeholders().values(chunk.len(), 8)
        );
        let (_, mut binder) = batch.push(sql);
        for (entry, balance_after_tiyn) in chunk {
            binder
                .bind(entry_id(entry.kind, entry.reference))
                .bind(entry.dealer_code)
                .bind(entry.kind.as_str())
                .bind(entry.amount_tiyn)
                .bind(*balance_after_tiyn)
                .bind(entry.reference)
                .bind(entry.point_code)
                .bind(entry.created_at_ms);
        }
    }
}

/// Posts one entry in its own transaction (a top-up or a correction from the console, a test
/// setting a scene). Anything but `Done` changes nothing.
pub async fn post(pool: &AnyPool, entry: &NewEntry<'_>) -> Result<Posted, sqlx::Error> {
    let mut tx = begin_write(pool).await?;
    let posted = post_in(&mut tx, entry).await?;
    if matches!(posted, Posted::Done { .. }) {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(posted)
}

/// The sum of the dealer's entries: always equal to its balance.
pub async fn sum(pool: &AnyPool, dealer_code: &str) -> Result<i64, sqlx::Error> {
    // Cast: PostgreSQL's SUM of BIGINT is NUMERIC, which the Any driver cannot read as i64.
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount_tiyn), 0) AS BIGINT) FROM ledger_entries \
         WHERE dealer_code = $1",
    )
    .bind(dealer_code)
    .fetch_one(pool)
    .await
}

/// A stored entry, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub kind: String,
    pub amount_tiyn: i64,
    pub balance_after_tiyn: i64,
    pub reference: String,
    pub point_code: Option<String>,
    pub created_at_ms: i64,
}

/// The dealer's entries written in `[from_ms, to_ms)`, newest first, at most `limit`.
pub async fn entries(
    pool: &AnyPool,
    dealer_code: &str,
    from_ms: i64,
    to_ms: i64,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE dealer_code = $1 \
         AND created_at_ms >= $2 AND created_at_ms < $3 \
         ORDER BY created_at_ms DESC, id DESC LIMIT $4"
    ))
    .bind(dealer_code)
    .bind(from_ms)
    .bind(to_ms)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(entry_of).collect()
}

/// The columns [`entry_of`] reads.
const ENTRY_COLUMNS: &str =
    "id, kind, amount_tiyn, balance_after_tiyn, reference, point_code, created_at_ms";

fn entry_of(row: &sqlx::any::AnyRow) -> Result<Entry, sqlx::Error> {
    use sqlx::Row;
    Ok(Entry {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        amount_tiyn: row.try_get("amount_tiyn")?,
        balance_after_tiyn: row.try_get("balance_after_tiyn")?,
        reference: row.try_get("reference")?,
        point_code: row.try_get("point_code")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

/// Where a page of [`entries_page`] starts, in the order of [`entries`] (newest first, then
/// by id): an entry is named by its time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart<'a> {
    /// The newest entries.
    Newest,
    /// The entries right after (older than) this one.
    OlderThan { created_at_ms: i64, id: &'a str },
    /// The entries right before (newer than) this one.
    NewerThan { created_at_ms: i64, id: &'a str },
}

/// A page of entries, newest first, and whether there are more on either side of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntriesPage {
    pub entries: Vec<Entry>,
    /// Entries newer than the page's first exist.
    pub newer: bool,
    /// Entries older than the page's last exist.
    pub older: bool,
}

/// At most `limit` of the dealer's entries written in `[from_ms, to_ms)` from `start`, newest
/// first. Keyset paging by (time, id), which the index on `(dealer_code, created_at_ms)`
/// serves: a page costs the same however deep into a busy day it is, and an entry written
/// meanwhile neither repeats nor hides one.
pub async fn entries_page(
    pool: &AnyPool,
    dealer_code: &str,
    from_ms: i64,
    to_ms: i64,
    start: PageStart<'_>,
    limit: i64,
) -> Result<EntriesPage, sqlx::Error> {
    let limit = limit.max(1);
    let (condition, order, key) = match start {
        PageStart::Newest => ("", "DESC", None),
        PageStart::OlderThan { created_at_ms, id } => (
            "AND created_at_ms <= $4 AND (created_at_ms < $4 OR id < $5)",
            "DESC",
            Some((created_at_ms, id)),
        ),
        PageStart::NewerThan { created_at_ms, id } => (
            "AND created_at_ms >= $4 AND (created_at_ms > $4 OR id > $5)",
            "ASC",
            Some((created_at_ms, id)),
        ),
    };
    let take = if key.is_some() { "$6" } else { "$4" };
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE dealer_code = $1 \
         AND created_at_ms >= $2 AND created_at_ms < $3 {condition} \
         ORDER BY created_at_ms {order}, id {order} LIMIT {take}"
    );
    let mut query = sqlx::query(&sql)
        .bind(dealer_code)
        .bind(from_ms)
        .bind(to_ms);
    if let Some((created_at_ms, id)) = key {
        query = query.bind(created_at_ms).bind(id);
    }
    // One more than a page: whether there is a page beyond this one.
    let rows = query.bind(limit + 1).fetch_all(pool).await?;
    let mut entries = rows.iter().map(entry_of).collect::<Result<Vec<_>, _>>()?;
    let beyond = entries.len() as i64 > limit;
    entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(match start {
        PageStart::Newest => EntriesPage {
            entries,
            newer: false,
            older: beyond,
        },
        PageStart::OlderThan { .. } => EntriesPage {
            entries,
            newer: true,
            older: beyond,
        },
        PageStart::NewerThan { .. } => {
            entries.reverse();
            EntriesPage {
                entries,
                newer: beyond,
                older: true,
            }
        }
    })
}

/// The figures of a daily statement: what the balance was, how each kind of entry moved it,
/// and what it became. `closing == opening + top_ups + payments + commission + corrections +
/// refunds + card payments + card refunds` always holds, because every figure is a sum over the
/// same entries, read together ([`statement`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Statement {
    /// The sum of the entries before the period.
    pub opening_tiyn: i64,
    pub top_ups_tiyn: i64,
    /// Negative: money paid out.
    pub payments_tiyn: i64,
    pub payments: i64,
    pub commission_tiyn: i64,
    pub corrections_tiyn: i64,
    /// Payments the providers refused, given back (positive).
    pub refunds_tiyn: i64,
    /// What customers' cards paid for the dealer's bills (positive).
    pub card_payments_tiyn: i64,
    /// Card payments given back to the cards (negative).
    pub card_refunds_tiyn: i64,
    /// The sum of the entries up to the end of the period.
    pub closing_tiyn: i64,
}

impl Statement {
    /// Whether the movements add up from the opening to the closing balance.
    pub fn reconciles(&self) -> bool {
        self.opening_tiyn
            + self.top_ups_tiyn
            + self.payments_tiyn
            + self.commission_tiyn
            + self.corrections_tiyn
            + self.refunds_tiyn
            + self.card_payments_tiyn
            + self.card_refunds_tiyn
            == self.closing_tiyn
    }
}

/// The statement of the dealer's entries written in `[from_ms, to_ms)`.
///
/// One statement reads every figure: today's statement of a busy dealer is read while
/// payments keep coming, and separate reads of the opening, the closing and the sums each saw
/// a different ledger, so an entry written between them made a sound ledger look like it did
/// not reconcile. A single statement sees one snapshot on both SQLite and PostgreSQL, whatever
/// the isolation level.
pub async fn statement(
    pool: &AnyPool,
    dealer_code: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Statement, sqlx::Error> {
    use sqlx::Row;
    // Per kind: what came before the period (the opening's share) and what came within it.
    // Cast: PostgreSQL's SUM of BIGINT is NUMERIC, which the Any driver cannot read as i64.
    let rows = sqlx::query(
        "SELECT kind, \
         CAST(COALESCE(SUM(CASE WHEN created_at_ms < $2 THEN amount_tiyn ELSE 0 END), 0) \
         AS BIGINT) AS opening, \
         CAST(COALESCE(SUM(CASE WHEN created_at_ms >= $2 THEN amount_tiyn ELSE 0 END), 0) \
         AS BIGINT) AS total, \
         CAST(COALESCE(SUM(CASE WHEN created_at_ms >= $2 THEN 1 ELSE 0 END), 0) AS BIGINT) \
         AS entries \
         FROM ledger_entries WHERE dealer_code = $1 AND created_at_ms < $3 GROUP BY kind",
    )
    .bind(dealer_code)
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(pool)
    .await?;
    let mut statement = Statement::default();
    for row in rows {
        let opening: i64 = row.try_get("opening")?;
        let total: i64 = row.try_get("total")?;
        statement.opening_tiyn += opening;
        // The closing takes every row, whatever its kind, so `reconciles` still catches a kind
        // the figures below leave out.
        statement.closing_tiyn += opening + total;
        match row.try_get::<String, _>("kind")?.as_str() {
            "top_up" => statement.top_ups_tiyn = total,
            "payment" => {
                statement.payments_tiyn = total;
                statement.payments = row.try_get("entries")?;
            }
            "commission" => statement.commission_tiyn = total,
            "refund" => statement.refunds_tiyn = total,
            "card_payment" => statement.card_payments_tiyn = total,
            "card_refund" => statement.card_refunds_tiyn = total,
            _ => statement.corrections_tiyn += total,
        }
    }
    Ok(statement)
}
