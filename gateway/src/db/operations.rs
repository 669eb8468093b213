//! Operations prepared by one console user for a full-access user to confirm (the bank's
//! "create and view" level prepares payment documents, "full access" confirms them).
//!
//! An operation is `prepared` → `confirmed` (carried out, in the same transaction) or
//! `cancelled`, once: the state change is conditional on `state = 'prepared'`, so two users
//! confirming at once carry it out once.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};

use super::network::{Limits, next_number};

/// What an operation does, with everything it needs: fixed when it is prepared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// Money the dealer paid in, with the bank's reference.
    TopUp { amount_tiyn: i64, reference: String },
    /// New limits of a point.
    PointLimits { point: String, limits: Limits },
}

impl Payload {
    /// The `operations.kind` text.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::TopUp { .. } => "top_up",
            Payload::PointLimits { .. } => "point_limits",
        }
    }
}

/// Where an operation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationState {
    Prepared,
    Confirmed,
    Cancelled,
}

impl OperationState {
    /// The `operations.state` text.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationState::Prepared => "prepared",
            OperationState::Confirmed => "confirmed",
            OperationState::Cancelled => "cancelled",
        }
    }
}

/// A stored operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub id: String,
    pub dealer_code: String,
    pub payload: Payload,
    pub state: OperationState,
    pub prepared_by: String,
    pub prepared_at_ms: i64,
    pub decided_by: Option<String>,
    pub decided_at_ms: Option<i64>,
}

const COLUMNS: &str =
    "id, dealer_code, payload, state, prepared_by, prepared_at_ms, decided_by, decided_at_ms";

fn from_row(row: &AnyRow) -> Result<Operation, sqlx::Error> {
    let decode = |what: String| sqlx::Error::Decode(what.into());
    let payload: String = row.try_get("payload")?;
    let state: String = row.try_get("state")?;
    Ok(Operation {
        id: row.try_get("id")?,
        dealer_code: row.try_get("dealer_code")?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| decode(format!("operation payload: {e}")))?,
        state: match state.as_str() {
            "prepared" => OperationState::Prepared,
            "confirmed" => OperationState::Confirmed,
            "cancelled" => OperationState::Cancelled,
            other => return Err(decode(format!("unknown operation state {other:?}"))),
        },
        prepared_by: row.try_get("prepared_by")?,
        prepared_at_ms: row.try_get("prepared_at_ms")?,
        decided_by: row.try_get("decided_by")?,
        decided_at_ms: row.try_get("decided_at_ms")?,
    })
}

/// Stores a prepared operation of `dealer_code` by `by`; returns its id, `op-<n>`.
pub async fn prepare(
    conn: &mut AnyConnection,
    dealer_code: &str,
    payload: &Payload,
    by: &str,
    now_ms: i64,
) -> Result<String, sqlx::Error> {
    let id = format!("op-{}", next_number(&mut *conn, "operation").await?);
    let json = serde_json::to_string(payload)
        .map_err(|e| sqlx::Error::Encode(format!("operation payload: {e}").into()))?;
    sqlx::query(
        "INSERT INTO operations (id, dealer_code, kind, payload, state, prepared_by, \
         prepared_at_ms) VALUES ($1, $2, $3, $4, 'prepared', $5, $6)",
    )
    .bind(&id)
    .bind(dealer_code)
    .bind(payload.kind())
    .bind(json)
    .bind(by)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(id)
}

/// The operation `id` of `dealer_code`.
pub async fn operation<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: &str,
    dealer_code: &str,
) -> Result<Option<Operation>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM operations WHERE id = $1 AND dealer_code = $2"
    ))
    .bind(id)
    .bind(dealer_code)
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The dealer's operations: the prepared ones (oldest first), then the `decided` latest
/// decided ones (newest first).
pub async fn operations_of_dealer(
    pool: &AnyPool,
    dealer_code: &str,
    decided: i64,
) -> Result<(Vec<Operation>, Vec<Operation>), sqlx::Error> {
    let prepared = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM operations WHERE dealer_code = $1 AND state = 'prepared' \
         ORDER BY prepared_at_ms, id"
    ))
    .bind(dealer_code)
    .fetch_all(pool)
    .await?;
    let done = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM operations WHERE dealer_code = $1 AND state <> 'prepared' \
         ORDER BY decided_at_ms DESC, id DESC LIMIT $2"
    ))
    .bind(dealer_code)
    .bind(decided)
    .fetch_all(pool)
    .await?;
    Ok((
        prepared.iter().map(from_row).collect::<Result<_, _>>()?,
        done.iter().map(from_row).collect::<Result<_, _>>()?,
    ))
}

/// Moves a prepared operation of `dealer_code` to `state` (confirmed or cancelled) by `by`;
/// returns false when it is not prepared (any more).
pub async fn decide(
    conn: &mut AnyConnection,
    id: &str,
    dealer_code: &str,
    state: OperationState,
    by: &str,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE operations SET state = $3, decided_by = $4, decided_at_ms = $5 \
         WHERE id = $1 AND dealer_code = $2 AND state = 'prepared'",
    )
    .bind(id)
    .bind(dealer_code)
    .bind(state.as_str())
    .bind(by)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
