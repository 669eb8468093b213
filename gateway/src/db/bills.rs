//! Stored bills (card payments on the customer's phone) and their refunds to the card. The
//! rules — when a bill may be opened, paid, cancelled, refunded — are in [`crate::card`]; this
//! module only reads and writes rows, on the connection it is given.

use base64::{Engine, engine::general_purpose::STANDARD};
use sqlx::{AnyConnection, Row, any::AnyRow};

/// The counter that numbers bills for the payment service (`InvoiceId`, `InvId`).
pub const INVOICE_COUNTER: &str = "card_invoice";

/// Where a bill is (`bills.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillState {
    Awaiting,
    Paid,
    Expired,
    Cancelled,
}

impl BillState {
    pub fn as_str(self) -> &'static str {
        match self {
            BillState::Awaiting => "awaiting",
            BillState::Paid => "paid",
            BillState::Expired => "expired",
            BillState::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Result<BillState, sqlx::Error> {
        Ok(match text {
            "awaiting" => BillState::Awaiting,
            "paid" => BillState::Paid,
            "expired" => BillState::Expired,
            "cancelled" => BillState::Cancelled,
            other => return Err(sqlx::Error::Decode(format!("bill state {other:?}").into())),
        })
    }
}

/// The signed bill as the customer's phone brought it (absent for a bill cancelled before
/// anyone opened it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub provider: String,
    pub account: String,
    pub amount_tiyn: i64,
    pub customer_amount_tiyn: i64,
    pub content_hash: String,
    pub request_body: Vec<u8>,
    pub request_signature: String,
}

/// A bill as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bill {
    pub invoice: i64,
    pub point_code: String,
    pub session: String,
    pub dealer_code: String,
    pub state: BillState,
    pub content: Option<Content>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub service: Option<String>,
    pub page_url: Option<String>,
    pub service_order: Option<String>,
    pub email: Option<String>,
    pub language: String,
    pub decline: Option<String>,
    pub decline_reason: Option<String>,
    pub card_transaction: Option<String>,
    pub transaction_id: Option<String>,
    pub updated_at_ms: i64,
}

impl Bill {
    /// Whether the customer may still pay it at `now_ms`.
    pub fn payable(&self, now_ms: i64) -> bool {
        self.state == BillState::Awaiting && now_ms < self.expires_at_ms && self.content.is_some()
    }
}

const COLUMNS: &str = "invoice, point_code, session, dealer_code, state, provider, account, \
    amount_tiyn, customer_amount_tiyn, content_hash, created_at_ms, expires_at_ms, request_body, \
    request_signature, service, page_url, service_order, email, language, decline, \
    decline_reason, card_transaction, transaction_id, updated_at_ms";

fn from_row(row: &AnyRow) -> Result<Bill, sqlx::Error> {
    let body: Option<String> = row.try_get("request_body")?;
    let content = match body {
        None => None,
        Some(body) => Some(Content {
            provider: row.try_get("provider")?,
            account: row.try_get("account")?,
            amount_tiyn: row.try_get("amount_tiyn")?,
            customer_amount_tiyn: row.try_get("customer_amount_tiyn")?,
            content_hash: row.try_get("content_hash")?,
            request_body: STANDARD
                .decode(body)
                .map_err(|e| sqlx::Error::Decode(e.into()))?,
            request_signature: row.try_get("request_signature")?,
        }),
    };
    Ok(Bill {
        invoice: row.try_get("invoice")?,
        point_code: row.try_get("point_code")?,
        session: row.try_get("session")?,
        dealer_code: row.try_get("dealer_code")?,
        state: BillState::parse(&row.try_get::<String, _>("state")?)?,
        content,
        created_at_ms: row.try_get("created_at_ms")?,
        expires_at_ms: row.try_get("expires_at_ms")?,
        service: row.try_get("service")?,
        page_url: row.try_get("page_url")?,
        service_order: row.try_get("service_order")?,
        email: row.try_get("email")?,
        language: row.try_get("language")?,
        decline: row.try_get("decline")?,
        decline_reason: row.try_get("decline_reason")?,
        card_transaction: row.try_get("card_transaction")?,
        transaction_id: row.try_get("transaction_id")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
    })
}

/// The bill of `point_code` with `session`.
pub async fn find(
    conn: &mut AnyConnection,
    point_code: &str,
    session: &str,
) -> Result<Option<Bill>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM bills WHERE point_code = $1 AND session = $2"
    ))
    .bind(point_code)
    .bind(session)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// The bill with `invoice`.
pub async fn by_invoice(
    conn: &mut AnyConnection,
    invoice: i64,
) -> Result<Option<Bill>, sqlx::Error> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM bills WHERE invoice = $1"))
        .bind(invoice)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// A bill to store when it is first opened (or cancelled unopened: no content).
#[derive(Debug, Clone)]
pub struct NewBill<'a> {
    pub point_code: &'a str,
    pub session: &'a str,
    pub dealer_code: &'a str,
    pub state: BillState,
    pub content: Option<&'a Content>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub now_ms: i64,
}

/// Stores `bill` under a new invoice number unless its (point, session) has a bill already;
/// either way returns the stored bill.
pub async fn insert_or_get(
    conn: &mut AnyConnection,
    bill: &NewBill<'_>,
) -> Result<Bill, sqlx::Error> {
    if let Some(found) = find(&mut *conn, bill.point_code, bill.session).await? {
        return Ok(found);
    }
    let invoice = super::network::next_number(&mut *conn, INVOICE_COUNTER).await?;
    let content = bill.content;
    sqlx::query(
        "INSERT INTO bills (invoice, point_code, session, dealer_code, state, provider, account, \
         amount_tiyn, customer_amount_tiyn, content_hash, created_at_ms, expires_at_ms, \
         request_body, request_signature, opened_at_ms, finished_at_ms, updated_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (point_code, session) DO NOTHING",
    )
    .bind(invoice)
    .bind(bill.point_code)
    .bind(bill.session)
    .bind(bill.dealer_code)
    .bind(bill.state.as_str())
    .bind(content.map(|c| c.provider.as_str()))
    .bind(content.map(|c| c.account.as_str()))
    .bind(content.map(|c| c.amount_tiyn))
    .bind(content.map(|c| c.customer_amount_tiyn))
    .bind(content.map(|c| c.content_hash.as_str()))
    .bind(bill.created_at_ms)
    .bind(bill.expires_at_ms)
    .bind(content.map(|c| STANDARD.encode(&c.request_body)))
    .bind(content.map(|c| c.request_signature.as_str()))
    .bind(content.map(|_| bill.now_ms))
    .bind((bill.state != BillState::Awaiting).then_some(bill.now_ms))
    .bind(bill.now_ms)
    .execute(&mut *conn)
    .await?;
    find(conn, bill.point_code, bill.session)
        .await?
        .ok_or_else(|| sqlx::Error::RowNotFound)
}

/// Ends an awaiting bill as `state` (expired or cancelled). `false` if it was not awaiting.
pub async fn finish_unpaid(
    conn: &mut AnyConnection,
    invoice: i64,
    state: BillState,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE bills SET state = $1, finished_at_ms = $2, updated_at_ms = $2 \
         WHERE invoice = $3 AND state = 'awaiting'",
    )
    .bind(state.as_str())
    .bind(now_ms)
    .bind(invoice)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks an awaiting bill paid by `card_transaction`, as the payment `transaction_id`. `false`
/// if it was not awaiting (paid already, or ended): the caller writes nothing else.
pub async fn mark_paid(
    conn: &mut AnyConnection,
    invoice: i64,
    transaction_id: &str,
    card_transaction: Option<&str>,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE bills SET state = 'paid', transaction_id = $1, card_transaction = $2, \
         finished_at_ms = $3, updated_at_ms = $3 WHERE invoice = $4 AND state = 'awaiting'",
    )
    .bind(transaction_id)
    .bind(card_transaction)
    .bind(now_ms)
    .bind(invoice)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Where the customer was sent to pay, and in which language with which receipt address.
#[derive(Debug, Clone)]
pub struct OrderRow<'a> {
    pub invoice: i64,
    pub service: &'a str,
    pub page_url: &'a str,
    pub service_order: Option<&'a str>,
    pub email: Option<&'a str>,
    pub language: &'a str,
    pub now_ms: i64,
}

pub async fn set_order(conn: &mut AnyConnection, order: &OrderRow<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE bills SET service = $1, page_url = $2, service_order = $3, email = $4, \
         language = $5, updated_at_ms = $6 WHERE invoice = $7",
    )
    .bind(order.service)
    .bind(order.page_url)
    .bind(order.service_order)
    .bind(order.email)
    .bind(order.language)
    .bind(order.now_ms)
    .bind(order.invoice)
    .execute(conn)
    .await?;
    Ok(())
}

/// The customer's card was refused: why (kept until a card is accepted).
pub async fn set_decline(
    conn: &mut AnyConnection,
    invoice: i64,
    decline: &str,
    reason: Option<&str>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE bills SET decline = $1, decline_reason = $2, updated_at_ms = $3 \
         WHERE invoice = $4 AND state = 'awaiting'",
    )
    .bind(decline)
    .bind(reason)
    .bind(now_ms)
    .bind(invoice)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets the last refused card's reason (another card is being tried).
pub async fn clear_decline(
    conn: &mut AnyConnection,
    invoice: i64,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE bills SET decline = NULL, decline_reason = NULL, updated_at_ms = $1 \
         WHERE invoice = $2 AND state = 'awaiting'",
    )
    .bind(now_ms)
    .bind(invoice)
    .execute(conn)
    .await?;
    Ok(())
}

/// A notification as received, verified or not (kept as evidence).
#[derive(Debug, Clone)]
pub struct NotificationRow<'a> {
    pub id: &'a str,
    pub service: &'a str,
    pub kind: &'a str,
    pub invoice: Option<i64>,
    pub verified: bool,
    pub verdict: &'a str,
    pub amount_tiyn: Option<i64>,
    pub card_transaction: Option<&'a str>,
    pub received_at_ms: i64,
}

pub async fn log_notification(
    conn: &mut AnyConnection,
    row: &NotificationRow<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO card_notifications (id, service, kind, invoice, verified, verdict, \
         amount_tiyn, card_transaction, received_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(row.id)
    .bind(row.service)
    .bind(row.kind)
    .bind(row.invoice)
    .bind(i16::from(row.verified))
    .bind(row.verdict)
    .bind(row.amount_tiyn)
    .bind(row.card_transaction)
    .bind(row.received_at_ms)
    .execute(conn)
    .await?;
    Ok(())
}

// ----- refunds to the card ---------------------------------------------------------------------

/// Where a refund to the card is (`card_refunds.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundState {
    Pending,
    Done,
    Failed,
}

impl RefundState {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundState::Pending => "pending",
            RefundState::Done => "done",
            RefundState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<RefundState, sqlx::Error> {
        Ok(match text {
            "pending" => RefundState::Pending,
            "done" => RefundState::Done,
            "failed" => RefundState::Failed,
            other => {
                return Err(sqlx::Error::Decode(
                    format!("refund state {other:?}").into(),
                ));
            }
        })
    }
}

/// A refund to the card as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub key: String,
    pub invoice: i64,
    pub card_transaction: Option<String>,
    pub amount_tiyn: i64,
    pub state: RefundState,
    pub reason: String,
    pub requested_by: Option<String>,
    pub attempts: i64,
    /// The service's number of the refund; on a pending refund, one the service took and is
    /// still carrying out (Robokassa's request id), asked about rather than sent again.
    pub refund_id: Option<String>,
    pub error: Option<String>,
    pub requested_at_ms: i64,
    /// When it was first sent to the service.
    pub first_attempt_at_ms: Option<i64>,
    /// Attempts since the service last answered (none, or nothing readable).
    pub failed_attempts: i64,
    /// When the operator was told it is stuck (once).
    pub stuck_reported_at_ms: Option<i64>,
}

const REFUND_COLUMNS: &str = "key, invoice, card_transaction, amount_tiyn, state, reason, \
    requested_by, attempts, refund_id, error, requested_at_ms, first_attempt_at_ms, \
    failed_attempts, stuck_reported_at_ms";

fn refund_from_row(row: &AnyRow) -> Result<Refund, sqlx::Error> {
    Ok(Refund {
        key: row.try_get("key")?,
        invoice: row.try_get("invoice")?,
        card_transaction: row.try_get("card_transaction")?,
        amount_tiyn: row.try_get("amount_tiyn")?,
        state: RefundState::parse(&row.try_get::<String, _>("state")?)?,
        reason: row.try_get("reason")?,
        requested_by: row.try_get("requested_by")?,
        attempts: row.try_get("attempts")?,
        refund_id: row.try_get("refund_id")?,
        error: row.try_get("error")?,
        requested_at_ms: row.try_get("requested_at_ms")?,
        first_attempt_at_ms: row.try_get("first_attempt_at_ms")?,
        failed_attempts: row.try_get("failed_attempts")?,
        stuck_reported_at_ms: row.try_get("stuck_reported_at_ms")?,
    })
}

/// The idempotency key of the refund of `card_transaction` of `invoice`: the same charge
/// always gets the same key, so it is refunded once whoever asks.
pub fn refund_key(invoice: i64, card_transaction: Option<&str>) -> String {
    format!("tolem-{invoice}-{}", card_transaction.unwrap_or("invoice"))
}

/// Asks for a refund of the card transaction; `false` if one was asked for already (a card
/// payment is refunded once, in full).
pub async fn insert_refund(
    conn: &mut AnyConnection,
    invoice: i64,
    card_transaction: Option<&str>,
    amount_tiyn: i64,
    reason: &str,
    requested_by: Option<&str>,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO card_refunds (key, invoice, card_transaction, amount_tiyn, state, reason, \
         requested_by, next_attempt_at_ms, requested_at_ms) \
         VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $7) ON CONFLICT (key) DO NOTHING",
    )
    .bind(refund_key(invoice, card_transaction))
    .bind(invoice)
    .bind(card_transaction)
    .bind(amount_tiyn)
    .bind(reason)
    .bind(requested_by)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The refund with `key`.
pub async fn refund_of(conn: &mut AnyConnection, key: &str) -> Result<Option<Refund>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {REFUND_COLUMNS} FROM card_refunds WHERE key = $1"
    ))
    .bind(key)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(refund_from_row)
    .transpose()
}

/// Every refund of `invoice`, oldest first.
pub async fn refunds_of_invoice(
    conn: &mut AnyConnection,
    invoice: i64,
) -> Result<Vec<Refund>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {REFUND_COLUMNS} FROM card_refunds WHERE invoice = $1 ORDER BY requested_at_ms"
    ))
    .bind(invoice)
    .fetch_all(conn)
    .await?
    .iter()
    .map(refund_from_row)
    .collect()
}

/// Claims the oldest due pending refund until `claim_until_ms` (another worker skips it until
/// then); `None` when nothing is due.
pub async fn claim_due_refund(
    conn: &mut AnyConnection,
    now_ms: i64,
    claim_until_ms: i64,
) -> Result<Option<Refund>, sqlx::Error> {
    let due: Option<String> = sqlx::query_scalar(
        "SELECT key FROM card_refunds WHERE state = 'pending' AND next_attempt_at_ms <= $1 \
         ORDER BY next_attempt_at_ms LIMIT 1",
    )
    .bind(now_ms)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(key) = due else { return Ok(None) };
    let claimed = sqlx::query(
        "UPDATE card_refunds SET next_attempt_at_ms = $1, attempts = attempts + 1, \
         first_attempt_at_ms = COALESCE(first_attempt_at_ms, $3) \
         WHERE key = $2 AND state = 'pending' AND next_attempt_at_ms <= $3",
    )
    .bind(claim_until_ms)
    .bind(&key)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    if claimed.rows_affected() != 1 {
        return Ok(None);
    }
    refund_of(conn, &key).await
}

/// What one attempt at a refund came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempted<'a> {
    /// The service carried it out.
    Done { refund_id: Option<&'a str> },
    /// The service refused it, or gave up on it (why): the operator must act.
    Failed { why: &'a str },
    /// The service took it (its number for it) and is carrying it out: asked about again at
    /// `next_attempt_at_ms`.
    Processing {
        refund_id: Option<&'a str>,
        next_attempt_at_ms: i64,
    },
    /// No answer, or none that could be read (the error): again at `next_attempt_at_ms`.
    Unanswered {
        error: &'a str,
        next_attempt_at_ms: i64,
    },
}

/// Records the outcome of one refund attempt.
pub async fn finish_refund_attempt(
    conn: &mut AnyConnection,
    key: &str,
    attempted: Attempted<'_>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let (state, refund_id, error, next_attempt_at_ms) = match attempted {
        Attempted::Done { refund_id } => (RefundState::Done, refund_id, None, now_ms),
        Attempted::Failed { why } => (RefundState::Failed, None, Some(why), now_ms),
        Attempted::Processing {
            refund_id,
            next_attempt_at_ms,
        } => (RefundState::Pending, refund_id, None, next_attempt_at_ms),
        Attempted::Unanswered {
            error,
            next_attempt_at_ms,
        } => (RefundState::Pending, None, Some(error), next_attempt_at_ms),
    };
    let unanswered = matches!(attempted, Attempted::Unanswered { .. });
    sqlx::query(
        "UPDATE card_refunds SET state = $1, refund_id = COALESCE($2, refund_id), error = $3, \
         next_attempt_at_ms = $4, finished_at_ms = $5, \
         failed_attempts = CASE WHEN $6 = 1 THEN failed_attempts + 1 ELSE 0 END \
         WHERE key = $7 AND state = 'pending'",
    )
    .bind(state.as_str())
    .bind(refund_id)
    .bind(error)
    .bind(next_attempt_at_ms)
    .bind((state != RefundState::Pending).then_some(now_ms))
    .bind(i64::from(unanswered))
    .bind(key)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks the refund `key` as reported stuck to the operator: `true` the first time only.
pub async fn mark_refund_stuck(
    conn: &mut AnyConnection,
    key: &str,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let marked = sqlx::query(
        "UPDATE card_refunds SET stuck_reported_at_ms = $1 \
         WHERE key = $2 AND stuck_reported_at_ms IS NULL",
    )
    .bind(now_ms)
    .bind(key)
    .execute(conn)
    .await?;
    Ok(marked.rows_affected() == 1)
}

/// A paid bill as the console lists it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub bill: Bill,
    pub refund: Option<Refund>,
}

/// The newest bills of `dealer_code` (`None`: every dealer's), at most `limit`, with the
/// refund of the charge that paid each, if any.
pub async fn recent(
    conn: &mut AnyConnection,
    dealer_code: Option<&str>,
    limit: i64,
) -> Result<Vec<Listed>, sqlx::Error> {
    // Two statements rather than `$1 IS NULL OR ...`: PostgreSQL cannot type a parameter
    // that is only compared with NULL.
    let rows = match dealer_code {
        Some(dealer) => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM bills WHERE dealer_code = $1 \
                 AND request_body IS NOT NULL ORDER BY invoice DESC LIMIT $2"
            ))
            .bind(dealer)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?
        }
        None => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM bills WHERE request_body IS NOT NULL \
                 ORDER BY invoice DESC LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    listed_of(conn, &rows).await
}

/// The bill of `dealer_code` (`None`: any dealer's) that became the payment `text`, or whose
/// invoice number is `text`, as the console lists it: none, or that one.
pub async fn find_listed(
    conn: &mut AnyConnection,
    dealer_code: Option<&str>,
    text: &str,
) -> Result<Vec<Listed>, sqlx::Error> {
    let text = text.trim();
    // Not a number: no invoice has it (invoices are positive).
    let invoice = text.parse::<i64>().unwrap_or(-1);
    let found = |whose: &str| {
        format!(
            "SELECT {COLUMNS} FROM bills WHERE {whose} request_body IS NOT NULL \
             AND transaction_id = $1 \
             UNION ALL SELECT {COLUMNS} FROM bills WHERE {whose} request_body IS NOT NULL \
             AND invoice = $2 AND (transaction_id IS NULL OR transaction_id <> $1)"
        )
    };
    let rows = match dealer_code {
        Some(dealer) => {
            sqlx::query(&found("dealer_code = $3 AND"))
                .bind(text)
                .bind(invoice)
                .bind(dealer)
                .fetch_all(&mut *conn)
                .await?
        }
        None => {
            sqlx::query(&found(""))
                .bind(text)
                .bind(invoice)
                .fetch_all(&mut *conn)
                .await?
        }
    };
    listed_of(conn, &rows).await
}

/// Each bill of `rows` with the refund of the charge that paid it, if any.
async fn listed_of(
    conn: &mut AnyConnection,
    rows: &[sqlx::any::AnyRow],
) -> Result<Vec<Listed>, sqlx::Error> {
    let mut listed = Vec::with_capacity(rows.len());
    for row in rows {
        let bill = from_row(row)?;
        let refund = refund_of(
            &mut *conn,
            &refund_key(bill.invoice, bill.card_transaction.as_deref()),
        )
        .await?;
        listed.push(Listed { bill, refund });
    }
    Ok(listed)
}
