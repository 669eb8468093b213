//! `POST /api/v1/batch`: many stored signed payments in one request, for phones on slow links
//! (the envelope and its rules: [`tolem_protocol::batch`]).
//!
//! Each item goes through exactly what a single `pay` goes through — [`signed::authorized`]
//! (the checks of the signed-step pipeline), then [`payments::ready_to_pay`] (the clock check),
//! in the batch's order; then all the payable items go to the group writer together
//! ([`crate::payments::group::GroupWriter::pay_all`]): decided in one group, in the batch's
//! order, so a later item sees the earlier ones' debits, with one commit for the whole batch. Each answer is encoded as the single step would have encoded it and signed by
//! the gateway key bound to that item's own request bytes: the phone verifies it exactly as a
//! single answer. The envelope of the answer is signed as a whole too (the protocol layer signs
//! every answer), but a phone only trusts the items' own signatures.

use axum::{
    Router,
    body::Bytes,
    extract::{Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response as HttpResponse},
    routing::post,
};
use tolem_protocol::{
    PROTOCOL_VERSION,
    batch::{BATCH_STEP, BatchAnswer, BatchItem, BatchRequest, ItemAnswer},
    codes::ResultCode,
    messages::DecodeError,
};

use super::{
    answer::{Answer, Binding, count, read_step_body, sign_bytes},
    payments, signed,
};
use crate::{payments::pay::PayError, state::AppState};

/// The route, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/batch", post(batch))
}

/// `batch`: each stored signed `pay` decided in order and answered on its own.
#[utoipa::path(
    post,
    path = "/api/v1/batch",
    tag = "payments",
    summary = "Several stored signed payments in one request (slow links): each decided in \
               order exactly as a single pay, and answered on its own.",
    params(super::openapi::BindHeader),
    request_body(content = BatchRequest, content_type = "application/json",
        description = "At most 50 stored signed `pay` requests and 64 KiB, oldest first; each \
                       item carries the body, key serial and signature the single step carries \
                       in its body and headers. The envelope itself is not signed. It may be \
                       sent gzipped (`Content-Encoding: gzip`); the limits count the inflated \
                       bytes."),
    responses(
        (status = 200, content_type = "application/json", body = BatchAnswer,
         description = "One answer per item, in order: the HTTP status, body and signature the \
                        single `pay` would have given, the signature bound to the item's own \
                        request bytes."),
        (status = 400, content_type = "application/json", body = tolem_protocol::messages::Response,
         description = "The envelope could not be read (900), or another protocol version \
                        (901): no item was looked at."),
        (status = 413, content_type = "application/json", body = tolem_protocol::messages::Response,
         description = "920: more than 50 items or 64 KiB; no item was looked at, send them \
                        one by one."),
        (status = 500, content_type = "application/json", body = tolem_protocol::messages::Response,
         description = "999: the gateway failed; items may have been decided (ask each \
                        payment's status)."),
    ),
)]
pub(crate) async fn batch(
    State(state): State<AppState>,
    request: Request,
) -> Result<HttpResponse, Answer> {
    let (parts, body) = request.into_parts();
    // Each item's answer is bound to the item as the phone asked for its answers (a phone that
    // asks for none gets them bound to the item's bytes, as the first batches were).
    let binding = Binding::asked(&parts.headers).unwrap_or(Binding::Body);
    let bytes = read_step_body(BATCH_STEP, &parts.headers, body).await?;
    let batch = BatchRequest::decode(&bytes).map_err(|error| {
        tracing::info!(%error, "batch refused: not a batch");
        Answer::refusal(
            None,
            match error {
                DecodeError::UnsupportedVersion(_) => ResultCode::UnsupportedVersion,
                _ => ResultCode::Malformed,
            },
        )
    })?;
    if batch.too_many() {
        tracing::info!(
            items = batch.items.len(),
            "batch refused: too many payments"
        );
        return Err(Answer::refusal(None, ResultCode::BatchTooLarge));
    }
    let items = batch.items.len();
    // In its own task: a phone that hangs up must not cut the batch short (each item's decision
    // is the single step's, which a hang-up does not cut either).
    let running = state.clone();
    let answers = tokio::spawn(async move { run(&running, binding, batch.items).await })
        .await
        .map_err(|error| Answer::internal(&error))?;
    tracing::info!(items, "batch answered");
    let body = serde_json::to_vec(&BatchAnswer {
        v: PROTOCOL_VERSION,
        items: answers,
    })
    .map_err(|error| Answer::internal(&error))?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

/// Decides the items in order and answers each: every item passes the single `pay`'s checks
/// in turn, then the payable ones are submitted to the group writer together, so they are
/// decided in one group, in the batch's order, and share one commit.
async fn run(state: &AppState, binding: Binding, items: Vec<BatchItem>) -> Vec<ItemAnswer> {
    let mut checked = Vec::with_capacity(items.len());
    for item in items {
        // An item is a `pay`, as if sent there with its key and signature in the headers.
        let digest = binding.digest_of(
            payments::PAY,
            &item.key,
            &item.signature,
            item.body.as_bytes(),
        );
        checked.push((digest, check_item(state, item).await));
    }
    let ready: Vec<_> = checked
        .iter()
        .filter_map(|(_, checked)| checked.as_ref().ok())
        .map(|ready| (ready.sender.clone(), ready.now))
        .collect();
    let mut decided = state.payments.pay_all(ready).await.into_iter();
    let mut answers = Vec::with_capacity(checked.len());
    for (digest, checked) in checked {
        let answer = match checked {
            Ok(ready) => {
                let paid = decided.next().unwrap_or(Err(PayError::NoOutcome));
                payments::answer_paid(state, &ready, paid)
            }
            Err(refusal) => refusal,
        };
        answers.push(item_answer(state, &digest, answer));
    }
    answers
}

/// One item through the single `pay`'s pipeline up to its decision: ready to be decided, or
/// the answer that refuses it.
async fn check_item(state: &AppState, item: BatchItem) -> Result<payments::ReadyToPay, Answer> {
    let body = Bytes::from(item.body.into_bytes());
    if body.len() > tolem_protocol::signing::MAX_BODY_BYTES {
        // What the single step answers a body over the limit.
        return Err(Answer::too_large());
    }
    let sender = signed::authorized(
        state,
        body,
        Some(&item.key),
        Some(&item.signature),
        payments::PAY,
    )
    .await?;
    payments::ready_to_pay(state, sender).await
}

/// The item's answer as the single step would have encoded it, signed bound to the item.
fn item_answer(state: &AppState, digest: &[u8; 32], answer: Answer) -> ItemAnswer {
    let (status, bytes, _) = answer.encoded();
    // Answers are UTF-8 JSON (fresh or stored); anything else is the gateway's own failure.
    let (status, body) = match String::from_utf8(bytes) {
        Ok(body) => (status, body),
        Err(error) => {
            let (status, bytes, _) = Answer::internal(&error).encoded();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    count(state, payments::PAY, body.as_bytes());
    let signature = sign_bytes(state, Some(digest), body.as_bytes()).to_string();
    ItemAnswer {
        status: status.as_u16(),
        body,
        signature,
    }
}
