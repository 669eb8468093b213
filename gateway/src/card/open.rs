//! The customer opens a bill's link. Everything the gateway checks before a `pay` is checked
//! here too, so a customer is never sent to pay a bill that could not become a payment: the
//! signature and the point's standing (the signed-request pipeline, [`crate::sender`]), the
//! creation time, the bill's expiry, the payment's rules (provider, account, amounts, the
//! duplicate rule, the limits — not the dealer's balance: the card pays) and that its session
//! was not used for anything else. The bill is stored the first time; opening it again finds
//! the same row.

use axum::body::Bytes;
use sqlx::AnyPool;
use tolem_protocol::{
    bill,
    codes::ResultCode,
    messages::{Payment, Step},
};

use crate::{
    db::{
        bills::{self, Bill, BillState, Content, NewBill},
        payments as stored,
    },
    payments::{self, is_clock_ahead, pay::Candidate},
    sender::{self, Refused, Sender},
};

/// A bill that may be paid now.
#[derive(Debug)]
pub struct Opened {
    pub bill: Bill,
    pub sender: Sender,
}

impl Opened {
    /// The payment the bill is for.
    pub fn payment(&self) -> &Payment {
        match &self.sender.request.step {
            Step::Bill(bill) => &bill.payment,
            _ => unreachable!("opened only from a bill step"),
        }
    }
}

/// Why a bill cannot be paid (each shown to the customer in their language).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the link is damaged")]
    Damaged,
    #[error("the bill is refused with code {}", .0.number())]
    Refused(ResultCode),
    #[error("the bill has expired")]
    Expired,
    #[error("the cashier cancelled the bill")]
    Cancelled,
    #[error("the bill is paid already ({0})")]
    Paid(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("inconsistent data: {0}")]
    Inconsistent(String),
}

impl From<Refused> for OpenError {
    fn from(refused: Refused) -> OpenError {
        match refused {
            Refused::Code { code, .. } => OpenError::Refused(code),
            Refused::Database(error) => OpenError::Database(error),
            Refused::Inconsistent(what) => OpenError::Inconsistent(what),
        }
    }
}

/// The signed bill in a link's `token`, checked like a signed request (signature first).
pub async fn authorize(
    pool: &AnyPool,
    body: Vec<u8>,
    signature: &str,
) -> Result<Sender, OpenError> {
    // The signer's serial is inside the signed body (the link has no headers): read just that
    // field to find the key, verify the signature over the whole body, only then parse it.
    #[derive(serde::Deserialize)]
    struct Signer {
        key_serial: String,
    }
    let signer: Signer = serde_json::from_slice(&body).map_err(|_| OpenError::Damaged)?;
    let signature = signature.parse().map_err(|_| OpenError::Damaged)?;
    let holder = sender::key_holder(
        pool,
        None,
        Bytes::from(body),
        &signer.key_serial,
        signature,
        "bill",
    )
    .await?;
    Ok(sender::authorize(pool, holder).await?)
}

/// The moment a bill signed at `created_at_ms` asking for `expires_at_ms` stops being payable:
/// what it asks, cut to the gateway's `lifetime_ms`.
pub fn expiry(created_at_ms: i64, expires_at_ms: i64, lifetime_ms: i64) -> i64 {
    expires_at_ms.min(created_at_ms.saturating_add(lifetime_ms))
}

/// Opens the bill of the link `token` at `now_ms` (see the module docs).
pub async fn open(
    pool: &AnyPool,
    token: &str,
    lifetime_ms: i64,
    now_ms: i64,
) -> Result<Opened, OpenError> {
    let (body, signature) = bill::parse(token).map_err(|_| OpenError::Damaged)?;
    let sender = authorize(pool, body, &signature.to_string()).await?;
    let request = &sender.request;
    let Step::Bill(signed_bill) = &request.step else {
        return Err(OpenError::Damaged);
    };
    let payment = &signed_bill.payment;
    if is_clock_ahead(request.created_at_ms, now_ms) {
        return Err(OpenError::Refused(ResultCode::ClockAhead));
    }
    let point = sender.point.code.clone();
    let session = request.session.as_str().to_owned();
    let mut conn = pool.acquire().await?;
    if let Some(found) = bills::find(&mut conn, &point, &session).await? {
        return judge_stored(found, &payments::content_hash(payment), now_ms)
            .map(|bill| Opened { bill, sender });
    }
    if let Some(paid) = stored::find(&mut conn, &point, &session).await? {
        // The session was used by a cash payment: a bill cannot reuse it.
        tracing::warn!(%point, %session, transaction_id = %paid.transaction_id,
            "bill refused: its session is a payment already");
        return Err(OpenError::Refused(ResultCode::SessionExists));
    }
    let expires_at_ms = expiry(
        request.created_at_ms,
        signed_bill.expires_at_ms,
        lifetime_ms,
    );
    if now_ms >= expires_at_ms {
        return Err(OpenError::Expired);
    }
    drop(conn);
    let candidate = Candidate::new(&sender, payment);
    let account = candidate
        .screen_now(pool, now_ms)
        .await?
        .map_err(OpenError::Refused)?;
    let mut conn = pool.acquire().await?;
    let standing = payments::read_standing(
        &mut conn,
        &point,
        payment,
        &account,
        request.created_at_ms,
        now_ms,
    )
    .await?;
    match payments::judge(payment.amount_tiyn, &standing) {
        Ok(()) | Err(ResultCode::InsufficientFunds) => {}
        Err(code) => return Err(OpenError::Refused(code)),
    }
    let content = Content {
        provider: payment.provider.clone(),
        account,
        amount_tiyn: payment.amount_tiyn,
        customer_amount_tiyn: payment.customer_amount_tiyn,
        content_hash: candidate.hash.clone(),
        request_body: sender.body.to_vec(),
        request_signature: sender.signature.to_string(),
    };
    let bill = bills::insert_or_get(
        &mut conn,
        &NewBill {
            point_code: &point,
            session: &session,
            dealer_code: &sender.point.dealer_code,
            state: BillState::Awaiting,
            content: Some(&content),
            created_at_ms: request.created_at_ms,
            expires_at_ms,
            now_ms,
        },
    )
    .await?;
    tracing::info!(%point, %session, invoice = bill.invoice,
        customer_amount_tiyn = payment.customer_amount_tiyn, "bill opened by the customer");
    let bill = judge_stored(bill, &content.content_hash, now_ms)?;
    Ok(Opened { bill, sender })
}

/// A stored bill opened again: payable only if awaiting, unexpired and the same content.
fn judge_stored(bill: Bill, hash: &str, now_ms: i64) -> Result<Bill, OpenError> {
    match bill.state {
        BillState::Paid => Err(OpenError::Paid(bill.transaction_id.unwrap_or_default())),
        BillState::Cancelled => Err(OpenError::Cancelled),
        BillState::Expired => Err(OpenError::Expired),
        BillState::Awaiting if now_ms >= bill.expires_at_ms => Err(OpenError::Expired),
        BillState::Awaiting => match &bill.content {
            Some(content) if content.content_hash == hash => Ok(bill),
            // Cancelled before it was opened keeps no content; other content is another bill.
            _ => Err(OpenError::Refused(ResultCode::SessionExists)),
        },
    }
}
