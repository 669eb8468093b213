//! Stored payments: the outcome of every payment the gateway decided, keyed by the point and
//! the session the phone chose, with the exact signed request and the exact answer.
//!
//! The rules that decide a payment are in [`crate::payments`]; this module only reads and
//! writes rows, on the connection (usually a transaction) it is given.

use base64::{Engine, engine::general_purpose::STANDARD};
use sqlx::{AnyConnection, Row};
use tolem_protocol::{codes::ResultCode, messages::PaymentState};

/// What is kept of a decided payment to answer its session again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPayment {
    pub transaction_id: String,
    pub content_hash: String,
    pub state: PaymentState,
    pub code: ResultCode,
    /// The exact bytes that were answered.
    pub response_body: Vec<u8>,
}

/// A decided payment to store.
#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    pub point_code: &'a str,
    pub session: &'a str,
    pub transaction_id: &'a str,
    pub dealer_code: &'a str,
    pub cashier_code: &'a str,
    pub key_serial: &'a str,
    pub provider: &'a str,
    pub account: &'a str,
    pub amount_tiyn: i64,
    pub customer_amount_tiyn: i64,
    pub comment: Option<&'a str>,
    pub content_hash: &'a str,
    pub code: ResultCode,
    pub created_at_ms: i64,
    pub received_at_ms: i64,
    pub request_body: &'a [u8],
    /// As it came in the signature header.
    pub request_signature: &'a str,
    pub response_body: &'a [u8],
}

/// Whose payments a sum counts.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Point(&'a str),
    Dealer(&'a str),
}

/// The payment of `point_code` with `session`, if the gateway decided one.
pub async fn find(
    conn: &mut AnyConnection,
    point_code: &str,
    session: &str,
) -> Result<Option<StoredPayment>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT transaction_id, content_hash, state, code, response_body FROM payments \
         WHERE point_code = $1 AND session = $2",
    )
    .bind(point_code)
    .bind(session)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let decode = |what: String| sqlx::Error::Decode(what.into());
    let state: String = row.try_get("state")?;
    let number: i64 = row.try_get("code")?;
    let body: String = row.try_get("response_body")?;
    Ok(Some(StoredPayment {
        transaction_id: row.try_get("transaction_id")?,
        content_hash: row.try_get("content_hash")?,
        state: match state.as_str() {
            "accepted" => PaymentState::Accepted,
            "rejected" => PaymentState::Rejected,
            other => return Err(decode(format!("unknown payment state {other:?}"))),
        },
        code: u16::try_from(number)
            .ok()
            .and_then(ResultCode::from_number)
            .ok_or_else(|| decode(format!("unknown result code {number}")))?,
        response_body: STANDARD
            .decode(body)
            .map_err(|e| decode(format!("stored answer is not base64: {e}")))?,
    }))
}

/// Stores a decided payment: accepted when its code is 0, else rejected.
pub async fn insert(conn: &mut AnyConnection, payment: &NewPayment<'_>) -> Result<(), sqlx::Error> {
    let accepted = payment.code == ResultCode::Ok;
    sqlx::query(
        "INSERT INTO payments (point_code, session, transaction_id, dealer_code, cashier_code, \
         key_serial, provider, account, amount_tiyn, customer_amount_tiyn, comment, \
         content_hash, state, code, created_at_ms, received_at_ms, accepted_at_ms, \
         request_body, request_signature, response_body) VALUES ($1, $2, $3, $4, $5, $6, $7, \
         $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(payment.point_code)
    .bind(payment.session)
    .bind(payment.transaction_id)
    .bind(payment.dealer_code)
    .bind(payment.cashier_code)
    .bind(payment.key_serial)
    .bind(payment.provider)
    .bind(payment.account)
    .bind(payment.amount_tiyn)
    .bind(payment.customer_amount_tiyn)
    .bind(payment.comment)
    .bind(payment.content_hash)
    .bind(if accepted { "accepted" } else { "rejected" })
    .bind(i64::from(payment.code.number()))
    .bind(payment.created_at_ms)
    .bind(payment.received_at_ms)
    .bind(accepted.then_some(payment.received_at_ms))
    .bind(STANDARD.encode(payment.request_body))
    .bind(payment.request_signature)
    .bind(STANDARD.encode(payment.response_body))
    .execute(conn)
    .await?;
    Ok(())
}

/// The sum of the accepted payments of a point or a dealer received since `since_ms`.
pub async fn accepted_sum_since(
    conn: &mut AnyConnection,
    scope: Scope<'_>,
    since_ms: i64,
) -> Result<i64, sqlx::Error> {
    let (column, code) = match scope {
        Scope::Point(code) => ("point_code", code),
        Scope::Dealer(code) => ("dealer_code", code),
    };
    // Cast: PostgreSQL's SUM of BIGINT is NUMERIC, which the Any driver cannot read as i64.
    sqlx::query_scalar(&format!(
        "SELECT CAST(COALESCE(SUM(amount_tiyn), 0) AS BIGINT) FROM payments \
         WHERE {column} = $1 AND state = 'accepted' AND received_at_ms >= $2"
    ))
    .bind(code)
    .bind(since_ms)
    .fetch_one(conn)
    .await
}

/// What makes two payments the same for the duplicate rule.
#[derive(Debug, Clone, Copy)]
pub struct Sameness<'a> {
    pub point_code: &'a str,
    pub provider: &'a str,
    pub account: &'a str,
    pub amount_tiyn: i64,
}

/// The transaction id of an accepted payment the same as `payment` created between `from_ms`
/// and `to_ms` (both included), if there is one.
pub async fn accepted_same(
    conn: &mut AnyConnection,
    payment: Sameness<'_>,
    from_ms: i64,
    to_ms: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT transaction_id FROM payments WHERE point_code = $1 AND provider = $2 \
         AND account = $3 AND amount_tiyn = $4 AND state = 'accepted' \
         AND created_at_ms >= $5 AND created_at_ms <= $6 LIMIT 1",
    )
    .bind(payment.point_code)
    .bind(payment.provider)
    .bind(payment.account)
    .bind(payment.amount_tiyn)
    .bind(from_ms)
    .bind(to_ms)
    .fetch_optional(conn)
    .await
}
