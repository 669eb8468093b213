//! Stored payments: the outcome of every payment the gateway decided, keyed by the point and
//! the session the phone chose, with the exact signed request and the exact answer.
//!
//! The rules that decide a payment are in [`crate::payments`]; this module only reads and
//! writes rows, on the connection (usually a transaction) it is given.

use base64::{Engine, engine::general_purpose::STANDARD};
use std::collections::HashMap;

use sqlx::{AnyConnection, Row, any::AnyRow};
use tolem_protocol::{
    codes::ResultCode,
    messages::{PaymentMethod, PaymentState},
};

use super::{
    batch::{Batch, Done, Slot},
    lists::ROWS_PER_STATEMENT,
};

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
    /// Cash, or a bill paid by card.
    pub method: PaymentMethod,
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
    row.as_ref().map(stored).transpose()
}

/// Looks up the stored payments of the given (point, session) pairs in `batch`: one statement
/// for a whole group of payments ([`crate::payments::group_state`]). Read the answer with
/// [`found_all`].
pub fn find_all_into<'q>(batch: &mut Batch<'q>, sessions: &[(&'q str, &'q str)]) -> Vec<Slot> {
    let mut slots = Vec::new();
    for chunk in sessions.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT point_code, session, transaction_id, content_hash, state, code, \
             response_body FROM payments WHERE {}",
            batch
                .placeholders()
                .any_of(chunk.len(), &["point_code", "session"])
        );
        let (slot, mut binder) = batch.push(sql);
        for (point_code, session) in chunk {
            binder.bind(*point_code).bind(*session);
        }
        slots.push(slot);
    }
    slots
}

/// What [`find_all_into`]'s statements found, keyed by (point, session).
pub fn found_all(
    done: &mut [Done],
    slots: &[Slot],
) -> Result<HashMap<(String, String), StoredPayment>, sqlx::Error> {
    let mut found = HashMap::new();
    for slot in slots {
        for row in slot.take(done).rows {
            found.insert(
                (row.try_get("point_code")?, row.try_get("session")?),
                stored(&row)?,
            );
        }
    }
    Ok(found)
}

fn stored(row: &AnyRow) -> Result<StoredPayment, sqlx::Error> {
    let decode = |what: String| sqlx::Error::Decode(what.into());
    let state: String = row.try_get("state")?;
    let number: i64 = row.try_get("code")?;
    let body: String = row.try_get("response_body")?;
    Ok(StoredPayment {
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
    })
}

/// When the payment `transaction_id` was refunded, if it was.
pub async fn refunded_at(
    conn: &mut AnyConnection,
    transaction_id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let at: Option<Option<i64>> =
        sqlx::query_scalar("SELECT refunded_at_ms FROM payments WHERE transaction_id = $1")
            .bind(transaction_id)
            .fetch_optional(conn)
            .await?;
    Ok(at.flatten())
}

/// Stores decided payments, each accepted when its code is 0, else rejected: a whole group
/// in one statement (or one per [`ROWS_PER_STATEMENT`]), in `batch`.
pub fn insert_all_into<'q>(batch: &mut Batch<'q>, payments: &[NewPayment<'q>]) {
    const COLUMNS: usize = 21;
    for chunk in payments.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO payments (point_code, session, transaction_id, dealer_code, \
             cashier_code, key_serial, provider, account, amount_tiyn, customer_amount_tiyn, \
             comment, content_hash, state, code, created_at_ms, received_at_ms, \
             accepted_at_ms, request_body, request_signature, response_body, method) VALUES {}",
            batch.placeholders().values(chunk.len(), COLUMNS)
        );
        let (_, mut binder) = batch.push(sql);
        for payment in chunk {
            let accepted = payment.code == ResultCode::Ok;
            binder
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
                .bind(match payment.method {
                    PaymentMethod::Cash => "cash",
                    PaymentMethod::Card => "card",
                });
        }
    }
}

/// What makes two payments the same for the duplicate rule.
#[derive(Debug, Clone, Copy)]
pub struct Sameness<'a> {
    pub point_code: &'a str,
    pub provider: &'a str,
    pub account: &'a str,
    pub amount_tiyn: i64,
}

/// An accepted payment as the duplicate rule compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedLike {
    pub transaction_id: String,
    pub point_code: String,
    pub provider: String,
    pub account: String,
    pub amount_tiyn: i64,
    pub created_at_ms: i64,
}

impl AcceptedLike {
    /// Whether this payment is the same as `payment` and was created between `from_ms` and
    /// `to_ms` (both included).
    pub fn is_same(&self, payment: &Sameness<'_>, from_ms: i64, to_ms: i64) -> bool {
        self.point_code == payment.point_code
            && self.provider == payment.provider
            && self.account == payment.account
            && self.amount_tiyn == payment.amount_tiyn
            && (from_ms..=to_ms).contains(&self.created_at_ms)
    }
}

/// The transaction id of an accepted payment the same as `payment` created between `from_ms`
/// and `to_ms` (both included), if there is one.
pub async fn accepted_same(
    conn: &mut AnyConnection,
    payment: Sameness<'_>,
    from_ms: i64,
    to_ms: i64,
) -> Result<Option<String>, sqlx::Error> {
    let found = accepted_like(conn, &[(payment, from_ms, to_ms)]).await?;
    Ok(found.into_iter().next().map(|like| like.transaction_id))
}

/// Every accepted payment the same as one of `payments`, created in that one's window (both
/// ends included): the duplicate rule's look-up for a whole group in one statement. Each term
/// is answered from the `payments_duplicates` index.
pub async fn accepted_like(
    conn: &mut AnyConnection,
    payments: &[(Sameness<'_>, i64, i64)],
) -> Result<Vec<AcceptedLike>, sqlx::Error> {
    let mut batch = Batch::new(conn);
    let slots = accepted_like_into(&mut batch, payments);
    let mut done = batch.run(conn).await?;
    accepted_like_found(&mut done, &slots)
}

/// [`accepted_like`]'s statements in `batch`; read their answer with [`accepted_like_found`].
pub fn accepted_like_into<'q>(
    batch: &mut Batch<'q>,
    payments: &[(Sameness<'q>, i64, i64)],
) -> Vec<Slot> {
    let mut slots = Vec::new();
    // 6 values per term: a chunk of 500 binds 3 000.
    for chunk in payments.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT transaction_id, point_code, provider, account, amount_tiyn, created_at_ms \
             FROM payments WHERE state = 'accepted' AND refunded_at_ms IS NULL AND ({})",
            batch.placeholders().any_of(
                chunk.len(),
                &[
                    "point_code",
                    "provider",
                    "account",
                    "amount_tiyn",
                    "created_at_ms >= {}",
                    "created_at_ms <= {}",
                ],
            )
        );
        let (slot, mut binder) = batch.push(sql);
        for (payment, from_ms, to_ms) in chunk {
            binder
                .bind(payment.point_code)
                .bind(payment.provider)
                .bind(payment.account)
                .bind(payment.amount_tiyn)
                .bind(*from_ms)
                .bind(*to_ms);
        }
        slots.push(slot);
    }
    slots
}

/// What [`accepted_like_into`]'s statements found.
pub fn accepted_like_found(
    done: &mut [Done],
    slots: &[Slot],
) -> Result<Vec<AcceptedLike>, sqlx::Error> {
    let mut found = Vec::new();
    for slot in slots {
        for row in slot.take(done).rows {
            found.push(AcceptedLike {
                transaction_id: row.try_get("transaction_id")?,
                point_code: row.try_get("point_code")?,
                provider: row.try_get("provider")?,
                account: row.try_get("account")?,
                amount_tiyn: row.try_get("amount_tiyn")?,
                created_at_ms: row.try_get("created_at_ms")?,
            });
        }
    }
    Ok(found)
}

/// What the console searches payments by; every field set narrows the search.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Always set: a dealer sees only its own payments.
    pub dealer_code: String,
    /// Received from this time (UTC ms, included).
    pub from_ms: Option<i64>,
    /// Received before this time (UTC ms, excluded).
    pub to_ms: Option<i64>,
    pub point_code: Option<String>,
    pub provider: Option<String>,
    /// Part of the phone or account number.
    pub account: Option<String>,
    /// `accepted` or `rejected`.
    pub state: Option<String>,
    /// A result code (0 for accepted).
    pub code: Option<i64>,
    pub session: Option<String>,
    /// Only those listed after this one, `(received_at_ms, transaction_id)`: the next page.
    pub after: Option<(i64, String)>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// A payment as the console lists and exports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub point_code: String,
    pub session: String,
    pub transaction_id: String,
    pub cashier_code: String,
    pub key_serial: String,
    pub provider: String,
    /// `None` for a provider the gateway does not know (rejected with 908).
    pub provider_name: Option<String>,
    pub account: String,
    pub amount_tiyn: i64,
    pub customer_amount_tiyn: i64,
    pub comment: Option<String>,
    /// `accepted` or `rejected`.
    pub state: String,
    pub code: i64,
    pub created_at_ms: i64,
    pub received_at_ms: i64,
    /// The dealer's commission accrued on it (accepted payments).
    pub commission_tiyn: Option<i64>,
}

/// A payment with the proof of what was asked and answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub payment: Listed,
    /// The exact signed bytes of the request.
    pub request_body: Vec<u8>,
    /// The point key's signature over them, as it came in the header.
    pub request_signature: String,
    /// The exact bytes the gateway answered.
    pub response_body: Vec<u8>,
}

const LISTED_COLUMNS: &str = "p.point_code, p.session, p.transaction_id, p.cashier_code, \
    p.key_serial, p.provider, pr.name AS provider_name, p.account, p.amount_tiyn, \
    p.customer_amount_tiyn, p.comment, p.state, p.code, p.created_at_ms, p.received_at_ms, \
    a.commission_tiyn";
const LISTED_FROM: &str = "payments p LEFT JOIN providers pr ON pr.code = p.provider \
    LEFT JOIN commission_accruals a ON a.transaction_id = p.transaction_id";

fn listed_from_row(row: &sqlx::any::AnyRow) -> Result<Listed, sqlx::Error> {
    Ok(Listed {
        point_code: row.try_get("point_code")?,
        session: row.try_get("session")?,
        transaction_id: row.try_get("transaction_id")?,
        cashier_code: row.try_get("cashier_code")?,
        key_serial: row.try_get("key_serial")?,
        provider: row.try_get("provider")?,
        provider_name: row.try_get("provider_name")?,
        account: row.try_get("account")?,
        amount_tiyn: row.try_get("amount_tiyn")?,
        customer_amount_tiyn: row.try_get("customer_amount_tiyn")?,
        comment: row.try_get("comment")?,
        state: row.try_get("state")?,
        code: row.try_get("code")?,
        created_at_ms: row.try_get("created_at_ms")?,
        received_at_ms: row.try_get("received_at_ms")?,
        commission_tiyn: row.try_get("commission_tiyn")?,
    })
}

/// A value bound to a search's placeholder.
enum Bind {
    Text(String),
    Int(i64),
}

/// The dealer's payments matching `search`, newest first.
pub async fn search(pool: &sqlx::AnyPool, search: &Search) -> Result<Vec<Listed>, sqlx::Error> {
    let mut conditions = vec!["p.dealer_code = $1".to_owned()];
    let mut binds = vec![Bind::Text(search.dealer_code.clone())];
    let mut add = |condition: &str, bind: Bind| {
        binds.push(bind);
        conditions.push(condition.replace('?', &format!("${}", binds.len())));
    };
    if let Some(from) = search.from_ms {
        add("p.received_at_ms >= ?", Bind::Int(from));
    }
    if let Some(to) = search.to_ms {
        add("p.received_at_ms < ?", Bind::Int(to));
    }
    if let Some(point) = &search.point_code {
        add("p.point_code = ?", Bind::Text(point.clone()));
    }
    if let Some(provider) = &search.provider {
        add("p.provider = ?", Bind::Text(provider.clone()));
    }
    if let Some(account) = &search.account {
        // LIKE's own wildcards are taken literally: only letters and digits reach here.
        add("p.account LIKE ?", Bind::Text(format!("%{account}%")));
    }
    if let Some(state) = &search.state {
        add("p.state = ?", Bind::Text(state.clone()));
    }
    if let Some(code) = search.code {
        add("p.code = ?", Bind::Int(code));
    }
    if let Some(session) = &search.session {
        add("p.session = ?", Bind::Text(session.clone()));
    }
    if let Some((received_at_ms, transaction_id)) = &search.after {
        // Newest first: the next page is older, or as old with a lower number.
        binds.push(Bind::Int(*received_at_ms));
        binds.push(Bind::Text(transaction_id.clone()));
        let (at, id) = (binds.len() - 1, binds.len());
        conditions.push(format!(
            "(p.received_at_ms < ${at} OR (p.received_at_ms = ${at} AND p.transaction_id < ${id}))"
        ));
    }
    binds.push(Bind::Int(search.limit));
    let sql = format!(
        "SELECT {LISTED_COLUMNS} FROM {LISTED_FROM} WHERE {} \
         ORDER BY p.received_at_ms DESC, p.transaction_id DESC LIMIT ${}",
        conditions.join(" AND "),
        binds.len()
    );
    let mut query = sqlx::query(&sql);
    for bind in binds {
        query = match bind {
            Bind::Text(text) => query.bind(text),
            Bind::Int(number) => query.bind(number),
        };
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(listed_from_row).collect()
}

/// The payment of `point_code` with `session`, if it is `dealer_code`'s.
pub async fn detail(
    pool: &sqlx::AnyPool,
    dealer_code: &str,
    point_code: &str,
    session: &str,
) -> Result<Option<Detail>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {LISTED_COLUMNS}, p.request_body, p.request_signature, p.response_body \
         FROM {LISTED_FROM} WHERE p.dealer_code = $1 AND p.point_code = $2 AND p.session = $3"
    ))
    .bind(dealer_code)
    .bind(point_code)
    .bind(session)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let decode = |column: &str| -> Result<Vec<u8>, sqlx::Error> {
        let text: String = row.try_get(column)?;
        STANDARD
            .decode(text)
            .map_err(|e| sqlx::Error::Decode(format!("{column} is not base64: {e}").into()))
    };
    Ok(Some(Detail {
        payment: listed_from_row(&row)?,
        request_body: decode("request_body")?,
        request_signature: row.try_get("request_signature")?,
        response_body: decode("response_body")?,
    }))
}
