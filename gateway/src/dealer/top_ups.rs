//! Money in, the four-eyes way, the dealer's half: a dealer's user asks the operator to credit
//! money the bank received (amount, the bank's reference, the day it paid). Nothing is credited
//! here: the operator checks the bank statement and confirms ([`crate::operator::money`]).
//!
//! A reference may be asked again only after the operator rejected it, and never once it was
//! posted to the ledger — nor typed another way ([`reference_key`]).

use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};

use crate::{
    audit::{self, Action, Actor, Event},
    db::{ledger, network},
};

/// The longest bank reference.
pub const MAX_REFERENCE_CHARS: usize = 64;

/// What asking for a top-up can fail with; each has a catalogue key.
#[derive(Debug, thiserror::Error)]
pub enum TopUpError {
    /// The amount is not above zero.
    #[error("the amount must be above zero")]
    BadAmount,
    /// The reference is empty, too long or has control characters.
    #[error("bad reference")]
    BadReference,
    /// The date is not a date, or is in the future.
    #[error("bad date")]
    BadDate,
    /// The reference is waiting or confirmed already, or posted in the ledger.
    #[error("reference used already")]
    ReferenceUsed,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl TopUpError {
    /// The catalogue key of the message a person reads.
    pub fn message_key(&self) -> &'static str {
        match self {
            TopUpError::BadAmount => "top_ups.bad_amount",
            TopUpError::BadReference => "top_ups.bad_reference",
            TopUpError::BadDate => "top_ups.bad_date",
            TopUpError::ReferenceUsed => "top_ups.reference_used",
            TopUpError::Database(_) => "errors.internal",
        }
    }
}

/// A request as asked.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub amount_tiyn: i64,
    pub bank_reference: &'a str,
    pub paid_on: time::Date,
}

/// A stored request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopUpRequest {
    pub id: String,
    pub dealer_code: String,
    pub amount_tiyn: i64,
    pub bank_reference: String,
    pub paid_on: String,
    /// `requested`, `confirmed` or `rejected`.
    pub state: String,
    pub requested_by: String,
    pub requested_at_ms: i64,
    pub decided_by: Option<String>,
    pub decided_at_ms: Option<i64>,
    /// Why it was rejected.
    pub decision_note: String,
}

pub(crate) const COLUMNS: &str = "id, dealer_code, amount_tiyn, bank_reference, paid_on, state, \
    requested_by, requested_at_ms, decided_by, decided_at_ms, decision_note";

pub(crate) fn from_row(row: &AnyRow) -> Result<TopUpRequest, sqlx::Error> {
    Ok(TopUpRequest {
        id: row.try_get("id")?,
        dealer_code: row.try_get("dealer_code")?,
        amount_tiyn: row.try_get("amount_tiyn")?,
        bank_reference: row.try_get("bank_reference")?,
        paid_on: row.try_get("paid_on")?,
        state: row.try_get("state")?,
        requested_by: row.try_get("requested_by")?,
        requested_at_ms: row.try_get("requested_at_ms")?,
        decided_by: row.try_get("decided_by")?,
        decided_at_ms: row.try_get("decided_at_ms")?,
        decision_note: row.try_get("decision_note")?,
    })
}

/// What makes two bank references the same transfer's: their letters and digits, case aside.
/// People type a payment order's number as `PP-500`, `pp 500` or `№ PP-500`, and a pasted one
/// may bring an invisible character along; each a "new" reference, one transfer would be
/// asked for — and credited — twice.
pub fn reference_key(reference: &str) -> String {
    reference
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The ledger reference of a confirmed request: references are unique across the ledger.
pub fn ledger_reference(dealer_code: &str, bank_reference: &str) -> String {
    format!("{dealer_code}/{bank_reference}")
}

/// Records `actor`'s request for `dealer_code` (checked: amount above zero, a reference, paid
/// not after `today`); returns its id, `T<n>`.
pub async fn request_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    dealer_code: &str,
    request: &NewRequest<'_>,
    today: time::Date,
    now_ms: i64,
) -> Result<String, TopUpError> {
    if request.amount_tiyn <= 0 {
        return Err(TopUpError::BadAmount);
    }
    let reference = request.bank_reference.trim();
    let chars = reference.chars().count();
    let key = reference_key(reference);
    if key.is_empty() || chars > MAX_REFERENCE_CHARS || reference.chars().any(char::is_control) {
        return Err(TopUpError::BadReference);
    }
    if request.paid_on > today {
        return Err(TopUpError::BadDate);
    }
    // The request's number first: taking it writes the counter's row, which a concurrent
    // request waits for until this transaction ends, so two requests take turns and the
    // second reads the first's reference below. (The unique index covers a reference only as
    // typed: on PostgreSQL `PP-500` and `pp 500` asked at the same moment would both pass
    // the comparison by key, and both could be confirmed — one transfer credited twice.) A
    // refused request rolls the number back with everything else.
    let id = format!(
        "T{}",
        network::next_number(&mut *tx, "top_up_request").await?
    );
    // Compared by key, so read here: a dealer asks for a few top-ups a week, and every
    // confirmed one stays a request (its ledger entry is named by the reference as typed).
    let asked: Vec<String> = sqlx::query_scalar(
        "SELECT bank_reference FROM top_up_requests WHERE dealer_code = $1 \
         AND state <> 'rejected'",
    )
    .bind(dealer_code)
    .fetch_all(&mut *tx)
    .await?;
    let waiting = asked.iter().find(|other| reference_key(other) == key);
    let posted: Option<String> = sqlx::query_scalar("SELECT id FROM ledger_entries WHERE id = $1")
        .bind(ledger::entry_id(
            ledger::LedgerKind::TopUp,
            &ledger_reference(dealer_code, reference),
        ))
        .fetch_optional(&mut *tx)
        .await?;
    if waiting.is_some() || posted.is_some() {
        return Err(TopUpError::ReferenceUsed);
    }
    sqlx::query(
        "INSERT INTO top_up_requests (id, dealer_code, amount_tiyn, bank_reference, paid_on, \
         state, requested_by, requested_at_ms) VALUES ($1, $2, $3, $4, $5, 'requested', $6, $7)",
    )
    .bind(&id)
    .bind(dealer_code)
    .bind(request.amount_tiyn)
    .bind(reference)
    .bind(request.paid_on.to_string())
    .bind(&actor.who)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    let event = Event {
        action: Action::TopUpRequested,
        subject: format!("top_up_request:{id}"),
        details: serde_json::json!({
            "after": {
                "amount_tiyn": request.amount_tiyn,
                "bank_reference": reference,
                "paid_on": request.paid_on.to_string(),
                "state": "requested",
            }
        }),
    };
    let mut in_trail = actor.clone();
    in_trail.dealer_code = Some(dealer_code.to_owned());
    audit::record_in(tx, &in_trail, &event, now_ms).await?;
    tracing::info!(request = %id, dealer = %dealer_code, amount_tiyn = request.amount_tiyn,
        by = %actor.who, "top-up requested");
    Ok(id)
}

/// The dealer's requests, newest first, at most `limit`.
pub async fn of_dealer(
    pool: &AnyPool,
    dealer_code: &str,
    limit: i64,
) -> Result<Vec<TopUpRequest>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM top_up_requests WHERE dealer_code = $1 \
         ORDER BY requested_at_ms DESC, id DESC LIMIT $2"
    ))
    .bind(dealer_code)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}
