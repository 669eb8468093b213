//! The mail outbox (`mail_outbox`, migration 0005): letters the points asked the gateway to
//! relay, each with its e-mail composed, its delivery state and its retries.
//!
//! Only rows are read and written here; when a letter is queued is decided in
//! [`crate::mail::queue`], when it is (re)sent in [`crate::mail::worker`].

use base64::{Engine, engine::general_purpose::STANDARD};
use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};

/// Where a letter stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailState {
    /// Waiting for its first attempt.
    Queued,
    /// The transport took it.
    Sent,
    /// At least one attempt failed; it will be tried again.
    FailedTemporarily,
}

impl MailState {
    /// The text in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            MailState::Queued => "queued",
            MailState::Sent => "sent",
            MailState::FailedTemporarily => "failed_temporarily",
        }
    }

    fn parse(text: &str) -> Result<MailState, sqlx::Error> {
        match text {
            "queued" => Ok(MailState::Queued),
            "sent" => Ok(MailState::Sent),
            "failed_temporarily" => Ok(MailState::FailedTemporarily),
            other => Err(sqlx::Error::Decode(
                format!("unknown mail state {other:?}").into(),
            )),
        }
    }
}

/// A letter to store, with its e-mail composed.
#[derive(Debug, Clone)]
pub struct NewMail<'a> {
    pub message_id: &'a str,
    pub point_code: &'a str,
    pub session: &'a str,
    pub dealer_code: &'a str,
    pub cashier_code: &'a str,
    pub key_serial: &'a str,
    pub recipient: &'a str,
    pub content_hash: &'a str,
    pub request_body: &'a [u8],
    pub request_signature: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub created_at_ms: i64,
}

/// A stored letter, as the worker sends it and the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub message_id: String,
    pub point_code: String,
    pub session: String,
    pub dealer_code: String,
    pub key_serial: String,
    pub recipient: String,
    pub content_hash: String,
    pub subject: String,
    pub body: String,
    pub state: MailState,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub sent_at_ms: Option<i64>,
}

const COLUMNS: &str = "message_id, point_code, session, dealer_code, key_serial, recipient, \
    content_hash, subject, body, state, attempts, next_attempt_at_ms, last_error, created_at_ms, \
    sent_at_ms";

fn from_row(row: &AnyRow) -> Result<Mail, sqlx::Error> {
    Ok(Mail {
        message_id: row.try_get("message_id")?,
        point_code: row.try_get("point_code")?,
        session: row.try_get("session")?,
        dealer_code: row.try_get("dealer_code")?,
        key_serial: row.try_get("key_serial")?,
        recipient: row.try_get("recipient")?,
        content_hash: row.try_get("content_hash")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        state: MailState::parse(&row.try_get::<String, _>("state")?)?,
        attempts: row.try_get("attempts")?,
        next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
        last_error: row.try_get("last_error")?,
        created_at_ms: row.try_get("created_at_ms")?,
        sent_at_ms: row.try_get("sent_at_ms")?,
    })
}

/// Stores a new letter, due at once.
pub async fn insert(conn: &mut AnyConnection, mail: &NewMail<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mail_outbox (message_id, point_code, session, dealer_code, cashier_code, \
         key_serial, recipient, content_hash, request_body, request_signature, subject, body, \
         state, attempts, next_attempt_at_ms, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, \
         $7, $8, $9, $10, $11, $12, 'queued', 0, $13, $14)",
    )
    .bind(mail.message_id)
    .bind(mail.point_code)
    .bind(mail.session)
    .bind(mail.dealer_code)
    .bind(mail.cashier_code)
    .bind(mail.key_serial)
    .bind(mail.recipient)
    .bind(mail.content_hash)
    .bind(STANDARD.encode(mail.request_body))
    .bind(mail.request_signature)
    .bind(mail.subject)
    .bind(mail.body)
    .bind(mail.created_at_ms)
    .bind(mail.created_at_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// The letter of `point_code` with `session`, if one was queued.
pub async fn find<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    point_code: &str,
    session: &str,
) -> Result<Option<Mail>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM mail_outbox WHERE point_code = $1 AND session = $2"
    ))
    .bind(point_code)
    .bind(session)
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The letter with this id.
pub async fn get(pool: &AnyPool, message_id: &str) -> Result<Option<Mail>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM mail_outbox WHERE message_id = $1"
    ))
    .bind(message_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// How many letters the point queued since `since_ms` (its hourly limit counts them).
pub async fn queued_since(
    conn: &mut AnyConnection,
    point_code: &str,
    since_ms: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM mail_outbox WHERE point_code = $1 AND created_at_ms >= $2",
    )
    .bind(point_code)
    .bind(since_ms)
    .fetch_one(conn)
    .await
}

/// A letter due for an attempt: which, and the due time the worker must still see when it
/// claims it (see [`claim`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub message_id: String,
    pub next_attempt_at_ms: i64,
}

/// Up to `limit` unsent letters due at `now_ms`, oldest due first.
pub async fn due(pool: &AnyPool, now_ms: i64, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT message_id, next_attempt_at_ms FROM mail_outbox \
         WHERE state <> 'sent' AND next_attempt_at_ms <= $1 \
         ORDER BY next_attempt_at_ms, message_id LIMIT $2",
    )
    .bind(now_ms)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Due {
                message_id: row.try_get("message_id")?,
                next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
            })
        })
        .collect()
}

/// When the next unsent letter is due, if there is one.
pub async fn next_due_at(pool: &AnyPool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MIN(next_attempt_at_ms) FROM mail_outbox WHERE state <> 'sent'")
        .fetch_one(pool)
        .await
}

/// Takes `due` for one attempt: moves its due time to `lease_until_ms` if nobody else has
/// moved it since it was read. `false`: another worker (another gateway on the same database)
/// has it. A worker that dies mid-attempt leaves the lease to expire, and the letter is tried
/// again then.
pub async fn claim(pool: &AnyPool, due: &Due, lease_until_ms: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE mail_outbox SET next_attempt_at_ms = $1 \
         WHERE message_id = $2 AND next_attempt_at_ms = $3 AND state <> 'sent'",
    )
    .bind(lease_until_ms)
    .bind(&due.message_id)
    .bind(due.next_attempt_at_ms)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a letter sent, inside the caller's write transaction. `false` if it already was.
pub async fn mark_sent(
    conn: &mut AnyConnection,
    message_id: &str,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE mail_outbox SET state = 'sent', sent_at_ms = $1, next_attempt_at_ms = $1 \
         WHERE message_id = $2 AND state <> 'sent'",
    )
    .bind(now_ms)
    .bind(message_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt: one more in `attempts`, the error, the next try at `next_ms`.
pub async fn mark_failed(
    pool: &AnyPool,
    message_id: &str,
    error: &str,
    next_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE mail_outbox SET state = 'failed_temporarily', attempts = attempts + 1, \
         last_error = $1, next_attempt_at_ms = $2 WHERE message_id = $3 AND state <> 'sent'",
    )
    .bind(error)
    .bind(next_ms)
    .bind(message_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The dealer's letters, newest first, at most `limit`.
pub async fn of_dealer(
    pool: &AnyPool,
    dealer_code: &str,
    limit: i64,
) -> Result<Vec<Mail>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM mail_outbox WHERE dealer_code = $1 \
         ORDER BY created_at_ms DESC, message_id DESC LIMIT $2"
    ))
    .bind(dealer_code)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}
