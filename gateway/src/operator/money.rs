//! Money in and corrections, the operator's half: confirming a dealer's top-up request after
//! checking the bank statement (only then is the ledger credited), rejecting it with a reason,
//! correcting a dealer's balance with a reason, and reversing a correction once.
//!
//! Every function runs in the caller's transaction (the console's, after a fresh one-time code)
//! and writes its audit row there, in the dealer's trail.

use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};

use crate::{
    audit::{self, Action, Actor, Event},
    db::{
        ledger::{self, LedgerKind, NewEntry, Posted},
        network,
    },
    dealer::top_ups::{self, TopUpRequest},
};

/// The longest reason.
pub const MAX_REASON_CHARS: usize = 500;

/// What the operator's money actions can fail with; each has a catalogue key.
#[derive(Debug, thiserror::Error)]
pub enum MoneyError {
    /// No such request, correction or dealer.
    #[error("not found")]
    NotFound,
    /// The request was confirmed or rejected already: nothing done.
    #[error("the request was decided already ({0})")]
    AlreadyDecided(String),
    /// The correction was reversed already: nothing done.
    #[error("the correction was reversed already")]
    AlreadyReversed,
    /// A reason is required (and at most [`MAX_REASON_CHARS`]).
    #[error("a reason is required")]
    ReasonRequired,
    /// A correction's amount is zero or not an amount.
    #[error("bad amount")]
    BadAmount,
    /// The dealer's balance is smaller than what would be taken away.
    #[error("the balance is too small")]
    InsufficientFunds,
    /// The reference was posted to the ledger already.
    #[error("the reference was posted already")]
    ReferenceUsed,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl MoneyError {
    /// The catalogue key of the message a person reads.
    pub fn message_key(&self) -> &'static str {
        match self {
            MoneyError::NotFound => "errors.not_found",
            MoneyError::AlreadyDecided(_) => "top_ups.already_decided",
            MoneyError::AlreadyReversed => "corrections.already_reversed",
            MoneyError::ReasonRequired => "corrections.reason_required",
            MoneyError::BadAmount => "corrections.bad_amount",
            MoneyError::InsufficientFunds => "corrections.insufficient_funds",
            MoneyError::ReferenceUsed => "top_ups.reference_used",
            MoneyError::Database(_) => "errors.internal",
        }
    }
}

/// A trimmed reason of 1 to [`MAX_REASON_CHARS`] characters.
fn reason(text: &str) -> Result<String, MoneyError> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_REASON_CHARS || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(MoneyError::ReasonRequired);
    }
    Ok(text.to_owned())
}

fn in_trail(actor: &Actor, dealer: &str) -> Actor {
    let mut actor = actor.clone();
    actor.dealer_code = Some(dealer.to_owned());
    actor
}

/// Every top-up request: the waiting ones first (oldest first), then the decided (newest
/// first), at most `decided` of them.
pub async fn top_up_requests(
    pool: &AnyPool,
    decided: i64,
) -> Result<Vec<TopUpRequest>, sqlx::Error> {
    let waiting = sqlx::query(&format!(
        "SELECT {} FROM top_up_requests WHERE state = 'requested' \
         ORDER BY requested_at_ms, id",
        top_ups::COLUMNS
    ))
    .fetch_all(pool)
    .await?;
    let done = sqlx::query(&format!(
        "SELECT {} FROM top_up_requests WHERE state <> 'requested' \
         ORDER BY decided_at_ms DESC, id DESC LIMIT $1",
        top_ups::COLUMNS
    ))
    .bind(decided)
    .fetch_all(pool)
    .await?;
    waiting
        .iter()
        .chain(done.iter())
        .map(top_ups::from_row)
        .collect()
}

/// The request `id`.
async fn request(conn: &mut AnyConnection, id: &str) -> Result<TopUpRequest, MoneyError> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM top_up_requests WHERE id = $1",
        top_ups::COLUMNS
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref()
        .map(top_ups::from_row)
        .transpose()?
        .ok_or(MoneyError::NotFound)
}

/// Marks the waiting request decided; `AlreadyDecided` when it is not waiting.
async fn decide(
    tx: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    state: &str,
    note: &str,
    now_ms: i64,
) -> Result<TopUpRequest, MoneyError> {
    let found = request(&mut *tx, id).await?;
    let moved = sqlx::query(
        "UPDATE top_up_requests SET state = $1, decided_by = $2, decided_at_ms = $3, \
         decision_note = $4 WHERE id = $5 AND state = 'requested'",
    )
    .bind(state)
    .bind(&actor.who)
    .bind(now_ms)
    .bind(note)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() == 0 {
        return Err(MoneyError::AlreadyDecided(found.state));
    }
    Ok(found)
}

/// Confirms the waiting request `id`: posts its `top_up` ledger entry (reference
/// `{dealer}/{bank reference}`); returns the dealer's balance after it.
pub async fn confirm_top_up_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    now_ms: i64,
) -> Result<i64, MoneyError> {
    let found = decide(&mut *tx, actor, id, "confirmed", "", now_ms).await?;
    let reference = top_ups::ledger_reference(&found.dealer_code, &found.bank_reference);
    let entry = NewEntry {
        dealer_code: &found.dealer_code,
        kind: LedgerKind::TopUp,
        amount_tiyn: found.amount_tiyn,
        reference: &reference,
        point_code: None,
        created_at_ms: now_ms,
    };
    let balance_after = match ledger::post_in(&mut *tx, &entry).await? {
        Posted::Done { balance_after_tiyn } => balance_after_tiyn,
        Posted::AlreadyPosted => return Err(MoneyError::ReferenceUsed),
        Posted::NoDealer => return Err(MoneyError::NotFound),
        Posted::InsufficientFunds => return Err(MoneyError::InsufficientFunds),
    };
    let event = Event {
        action: Action::MoneyTopUp,
        subject: format!("ledger:{}", ledger::entry_id(LedgerKind::TopUp, &reference)),
        details: serde_json::json!({
            "request": id,
            "amount_tiyn": found.amount_tiyn,
            "reference": found.bank_reference,
            "paid_on": found.paid_on,
            "requested_by": found.requested_by,
            "change": audit::change(
                serde_json::json!({ "balance_tiyn": balance_after - found.amount_tiyn }),
                serde_json::json!({ "balance_tiyn": balance_after }),
            ),
        }),
    };
    audit::record_in(tx, &in_trail(actor, &found.dealer_code), &event, now_ms).await?;
    tracing::info!(request = %id, dealer = %found.dealer_code, amount_tiyn = found.amount_tiyn,
        by = %actor.who, "top-up confirmed");
    Ok(balance_after)
}

/// Rejects the waiting request `id` with `why` (shown to the dealer).
pub async fn reject_top_up_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    id: &str,
    why: &str,
    now_ms: i64,
) -> Result<(), MoneyError> {
    let why = reason(why)?;
    let found = decide(&mut *tx, actor, id, "rejected", &why, now_ms).await?;
    let event = Event {
        action: Action::TopUpRejected,
        subject: format!("top_up_request:{id}"),
        details: serde_json::json!({
            "reason": why,
            "amount_tiyn": found.amount_tiyn,
            "reference": found.bank_reference,
            "change": audit::change(
                serde_json::json!({ "state": "requested" }),
                serde_json::json!({ "state": "rejected" }),
            ),
        }),
    };
    audit::record_in(tx, &in_trail(actor, &found.dealer_code), &event, now_ms).await?;
    Ok(())
}

/// A correction of a dealer's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub id: String,
    pub dealer_code: String,
    pub amount_tiyn: i64,
    pub reason: String,
    pub made_by: String,
    pub made_at_ms: i64,
    pub reversed_by: Option<String>,
    pub reversed_at_ms: Option<i64>,
    pub reversal_reason: Option<String>,
}

const CORRECTION_COLUMNS: &str = "id, dealer_code, amount_tiyn, reason, made_by, made_at_ms, \
    reversed_by, reversed_at_ms, reversal_reason";

fn correction_from_row(row: &AnyRow) -> Result<Correction, sqlx::Error> {
    Ok(Correction {
        id: row.try_get("id")?,
        dealer_code: row.try_get("dealer_code")?,
        amount_tiyn: row.try_get("amount_tiyn")?,
        reason: row.try_get("reason")?,
        made_by: row.try_get("made_by")?,
        made_at_ms: row.try_get("made_at_ms")?,
        reversed_by: row.try_get("reversed_by")?,
        reversed_at_ms: row.try_get("reversed_at_ms")?,
        reversal_reason: row.try_get("reversal_reason")?,
    })
}

/// The dealer's corrections, newest first.
pub async fn corrections_of(
    pool: &AnyPool,
    dealer_code: &str,
) -> Result<Vec<Correction>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {CORRECTION_COLUMNS} FROM corrections WHERE dealer_code = $1 \
         ORDER BY made_at_ms DESC, id DESC"
    ))
    .bind(dealer_code)
    .fetch_all(pool)
    .await?;
    rows.iter().map(correction_from_row).collect()
}

/// Posts a `correction` ledger entry with its reference.
async fn post_correction(
    tx: &mut AnyConnection,
    dealer_code: &str,
    amount_tiyn: i64,
    reference: &str,
    now_ms: i64,
) -> Result<i64, MoneyError> {
    let entry = NewEntry {
        dealer_code,
        kind: LedgerKind::Correction,
        amount_tiyn,
        reference,
        point_code: None,
        created_at_ms: now_ms,
    };
    match ledger::post_in(tx, &entry).await? {
        Posted::Done { balance_after_tiyn } => Ok(balance_after_tiyn),
        Posted::AlreadyPosted => Err(MoneyError::ReferenceUsed),
        Posted::NoDealer => Err(MoneyError::NotFound),
        Posted::InsufficientFunds => Err(MoneyError::InsufficientFunds),
    }
}

/// Corrects the dealer's balance by `amount_tiyn` (signed) for `why`; returns the correction's
/// id, `K<n>`. Taking away more than the balance is refused.
pub async fn correct_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    dealer_code: &str,
    amount_tiyn: i64,
    why: &str,
    now_ms: i64,
) -> Result<String, MoneyError> {
    if amount_tiyn == 0 {
        return Err(MoneyError::BadAmount);
    }
    let why = reason(why)?;
    let id = format!("K{}", network::next_number(&mut *tx, "correction").await?);
    let balance_after = post_correction(
        &mut *tx,
        dealer_code,
        amount_tiyn,
        &format!("{dealer_code}/{id}"),
        now_ms,
    )
    .await?;
    sqlx::query(
        "INSERT INTO corrections (id, dealer_code, amount_tiyn, reason, made_by, made_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(dealer_code)
    .bind(amount_tiyn)
    .bind(&why)
    .bind(&actor.who)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    let event = Event {
        action: Action::MoneyCorrection,
        subject: format!("correction:{id}"),
        details: serde_json::json!({
            "amount_tiyn": amount_tiyn,
            "reason": why,
            "change": audit::change(
                serde_json::json!({ "balance_tiyn": balance_after - amount_tiyn }),
                serde_json::json!({ "balance_tiyn": balance_after }),
            ),
        }),
    };
    audit::record_in(tx, &in_trail(actor, dealer_code), &event, now_ms).await?;
    tracing::info!(correction = %id, dealer = %dealer_code, amount_tiyn, by = %actor.who,
        "balance corrected");
    Ok(id)
}

/// Reverses the dealer's correction `id` (an opposite ledger entry), for `why` if given; a
/// correction is reversed once only (`AlreadyReversed`).
pub async fn reverse_correction_in(
    tx: &mut AnyConnection,
    actor: &Actor,
    dealer_code: &str,
    id: &str,
    why: &str,
    now_ms: i64,
) -> Result<i64, MoneyError> {
    let why = match why.trim() {
        "" => None,
        given => Some(reason(given)?),
    };
    let row = sqlx::query(&format!(
        "SELECT {CORRECTION_COLUMNS} FROM corrections WHERE id = $1 AND dealer_code = $2"
    ))
    .bind(id)
    .bind(dealer_code)
    .fetch_optional(&mut *tx)
    .await?;
    let correction = row
        .as_ref()
        .map(correction_from_row)
        .transpose()?
        .ok_or(MoneyError::NotFound)?;
    let moved = sqlx::query(
        "UPDATE corrections SET reversed_by = $1, reversed_at_ms = $2, reversal_reason = $3 \
         WHERE id = $4 AND reversed_at_ms IS NULL",
    )
    .bind(&actor.who)
    .bind(now_ms)
    .bind(&why)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() == 0 {
        return Err(MoneyError::AlreadyReversed);
    }
    let amount = -correction.amount_tiyn;
    let balance_after = post_correction(
        &mut *tx,
        dealer_code,
        amount,
        &format!("{dealer_code}/{id}/reversal"),
        now_ms,
    )
    .await?;
    let event = Event {
        action: Action::MoneyCorrectionReversed,
        subject: format!("correction:{id}"),
        details: serde_json::json!({
            "amount_tiyn": amount,
            "reason": why,
            "change": audit::change(
                serde_json::json!({ "balance_tiyn": balance_after - amount }),
                serde_json::json!({ "balance_tiyn": balance_after }),
            ),
        }),
    };
    audit::record_in(tx, &in_trail(actor, dealer_code), &event, now_ms).await?;
    Ok(balance_after)
}
