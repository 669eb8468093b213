//! What the cashier's phone learns about a bill, and how it cancels one: the `status` answer
//! for a bill's session before it is paid, and the `cancel` step. Once paid, both answer with
//! the payment, like any payment's status.
//!
//! A cancel races the customer's payment: each only moves the bill's row from `awaiting`, so
//! whichever comes first wins and the other sees it — a cancelled bill's late charge is
//! refunded ([`super::settle`]), a paid bill cannot be cancelled (the answer is the payment).
//! A bill cancelled before the customer ever opened it is remembered by its session alone, so
//! the link can no longer be opened.

use sqlx::{AnyConnection, AnyPool};
use tolem_protocol::{
    PROTOCOL_VERSION,
    codes::ResultCode,
    messages::{BillState as WireState, BillStatus, Outcome, Response},
};

use super::notify::refusal_from_word;
use crate::{
    db::{
        begin_write,
        bills::{self, Bill, BillState, NewBill},
    },
    sender::Sender,
};

/// The answer about an unpaid bill (915 awaiting, 916 expired, 917 cancelled); `None` for a
/// paid one (the payment answers).
pub fn unpaid_answer(bill: &Bill, now_ms: i64) -> Option<Response> {
    let (code, state) = match bill.state {
        BillState::Paid => return None,
        BillState::Awaiting if now_ms < bill.expires_at_ms => {
            (ResultCode::BillNotPaid, WireState::Awaiting)
        }
        BillState::Awaiting | BillState::Expired => (ResultCode::BillExpired, WireState::Expired),
        BillState::Cancelled => (ResultCode::BillCancelled, WireState::Cancelled),
    };
    Some(Response {
        v: PROTOCOL_VERSION,
        session: tolem_protocol::ids::SessionId::try_from(bill.session.clone()).ok(),
        code,
        outcome: Some(Outcome::Bill(BillStatus {
            state,
            expires_at_ms: bill.expires_at_ms,
            refusal: bill.decline.as_deref().map(refusal_from_word),
        })),
        gateway_time_ms: now_ms,
        retry_after_s: None,
    })
}

/// The bill of the session, if the gateway has one, for the `status` step.
pub async fn find(
    conn: &mut AnyConnection,
    point_code: &str,
    session: &str,
) -> Result<Option<Bill>, sqlx::Error> {
    bills::find(conn, point_code, session).await
}

/// What a `cancel` did.
#[derive(Debug)]
pub enum Cancelled {
    /// The answer about the unpaid bill (917, or 916 if it had expired first).
    Unpaid(Box<Response>),
    /// The customer paid first: answer with the payment.
    Paid,
}

/// Cancels the bill of `sender`'s session at `now_ms`.
pub async fn cancel(
    pool: &AnyPool,
    sender: &Sender,
    now_ms: i64,
) -> Result<Cancelled, sqlx::Error> {
    let point = &sender.point.code;
    let session = sender.request.session.as_str();
    let mut tx = begin_write(pool).await?;
    if crate::db::payments::find(&mut tx, point, session)
        .await?
        .is_some()
    {
        tx.rollback().await?;
        return Ok(Cancelled::Paid);
    }
    let bill = bills::insert_or_get(
        &mut tx,
        &NewBill {
            point_code: point,
            session,
            dealer_code: &sender.point.dealer_code,
            state: BillState::Cancelled,
            content: None,
            created_at_ms: sender.request.created_at_ms,
            expires_at_ms: now_ms,
            now_ms,
        },
    )
    .await?;
    if bill.state == BillState::Awaiting {
        let state = if now_ms < bill.expires_at_ms {
            BillState::Cancelled
        } else {
            BillState::Expired
        };
        bills::finish_unpaid(&mut tx, bill.invoice, state, now_ms).await?;
    }
    let bill = bills::by_invoice(&mut tx, bill.invoice)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    tx.commit().await?;
    tracing::info!(%point, %session, invoice = bill.invoice, state = bill.state.as_str(),
        "bill cancel asked by the cashier");
    Ok(match unpaid_answer(&bill, now_ms) {
        Some(answer) => Cancelled::Unpaid(Box::new(answer)),
        None => Cancelled::Paid,
    })
}
