//! Issue 14 item 3, the batch step (`POST /api/v1/batch`) over real HTTP against a real
//! database: each item is answered as the single `pay` answers the same bytes (the same status
//! and decision, signed and bound to the item's own request); items are decided in the
//! batch's order, so when the balance runs out mid-batch the later ones get 21; a bad item
//! (bad signature, unknown key, garbled signature, another step, the phone's clock ahead, a NUL
//! character) gets its own refusal and the others pass; the same session twice in one batch is
//! stored and debited once; a batch over its limits (51 items, over 64 KiB) or unreadable is refused as a
//! whole, clearly, before any item is decided. The payable items of a batch are decided in ONE
//! group of the payment writer (one transaction, one commit), in the batch's order.

mod support;

use reqwest::StatusCode;
use support::{
    Gateway, Reply, now_ms,
    payments::{DEALER, kcell},
    phone::Phone,
};
use tolem_protocol::{
    PROTOCOL_VERSION,
    batch::{BatchAnswer, BatchItem, BatchRequest, ItemAnswer, MAX_BATCH_BYTES, MAX_BATCH_ITEMS},
    codes::ResultCode,
    keys::PublicKey,
    messages::{Message, Outcome, PaymentState, Request, Response, Step},
    signing::{KEY_HEADER, SIGNATURE_HEADER, bound_answer, exchange_digest},
};

/// 100 tenge, Kcell's smallest payment.
const HUNDRED: i64 = 10_000;

/// A pay of 100 tenge to a Kcell number of its own (`n`), created now.
fn pay(phone: &Phone, n: usize) -> Request {
    phone.request(Step::Pay(kcell(&format!("70112{n:05}"), HUNDRED)))
}

/// The request as a batch carries it: its bytes, the phone's key serial and its signature.
fn item(phone: &Phone, request: &Request) -> BatchItem {
    let body = request.encode();
    BatchItem {
        key: phone.card.key_serial.clone(),
        signature: phone.key.sign(&body).to_string(),
        body: String::from_utf8(body).unwrap(),
    }
}

/// The batch envelope's bytes, as a phone sends them.
fn envelope(items: &[BatchItem]) -> Vec<u8> {
    serde_json::to_vec(&BatchRequest {
        v: PROTOCOL_VERSION,
        items: items.to_vec(),
    })
    .unwrap()
}

/// Sends the batch; returns the reply and, when it is a batch answer, its items.
async fn send_batch(gateway: &Gateway, items: &[BatchItem]) -> (Reply, Option<Vec<ItemAnswer>>) {
    let reply = gateway.post("batch", envelope(items), &[]).await;
    let answers = serde_json::from_slice::<BatchAnswer>(&reply.body)
        .ok()
        .map(|answer| answer.items);
    (reply, answers)
}

/// The item's answer, once its signature verifies bound to the item's own bytes — exactly the
/// check a phone makes of a single answer.
fn verified(key: &PublicKey, item: &BatchItem, answer: &ItemAnswer) -> Response {
    let digest = exchange_digest("pay", &item.key, &item.signature, item.body.as_bytes());
    key.verify(
        &bound_answer(&digest, answer.body.as_bytes()),
        &answer.signature.parse().unwrap(),
    )
    .expect("each item's answer is signed by the gateway, bound to the item's request");
    Response::decode(answer.body.as_bytes()).unwrap()
}

/// Each item's result code, in order, from its verified answer.
fn codes(key: &PublicKey, items: &[BatchItem], answers: &[ItemAnswer]) -> Vec<ResultCode> {
    items
        .iter()
        .zip(answers)
        .map(|(item, answer)| verified(key, item, answer).code)
        .collect()
}

/// Sends the item's very bytes to the single `pay`, as a phone without batches would.
async fn send_single(gateway: &Gateway, item: &BatchItem) -> Reply {
    let headers = [
        (KEY_HEADER, item.key.clone()),
        (SIGNATURE_HEADER, item.signature.clone()),
    ];
    gateway
        .post("pay", item.body.clone().into_bytes(), &headers)
        .await
}

fn state_of(response: &Response) -> Option<PaymentState> {
    match &response.outcome {
        Some(Outcome::Payment(receipt)) => Some(receipt.state),
        _ => None,
    }
}

/// A client that accepts brotli (the service worker's fetch does) gets a batch's answers
/// compressed, several times smaller on its slow link, and once its HTTP stack has decoded them
/// each item's answer verifies, bound to the item, exactly as without compression. A single
/// payment's answer, under the threshold, comes as it is.
#[tokio::test]
async fn a_batchs_answers_come_compressed_and_verify_once_decoded() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let items: Vec<BatchItem> = (0..20).map(|n| item(&phone, &pay(&phone, n))).collect();
    let accepts = [("accept-encoding", "br, gzip".to_owned())];
    let reply = gateway.post("batch", envelope(&items), &accepts).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-encoding"], "br");
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut brotli::Decompressor::new(reply.body.as_slice(), 4096),
        &mut decoded,
    )
    .expect("a brotli stream");
    assert!(
        reply.body.len() * 3 < decoded.len(),
        "{} bytes on the wire for {} decoded",
        reply.body.len(),
        decoded.len()
    );
    let answers = serde_json::from_slice::<BatchAnswer>(&decoded)
        .unwrap()
        .items;
    assert_eq!(
        codes(&gateway.gateway_key, &items, &answers),
        vec![ResultCode::Ok; 20]
    );

    let another = item(&phone, &pay(&phone, 20));
    let headers = [
        (KEY_HEADER, another.key.clone()),
        (SIGNATURE_HEADER, another.signature.clone()),
        accepts[0].clone(),
    ];
    let single = gateway
        .post("pay", another.body.into_bytes(), &headers)
        .await;
    assert!(!single.headers.contains_key("content-encoding"));
    assert_eq!(single.code(), ResultCode::Ok);
}

/// `bytes` gzipped.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, bytes).unwrap();
    encoder.finish().unwrap()
}

/// A phone on a slow link may send its batch gzipped: it is decided exactly as the plain one
/// (each item verifies bound to its own bytes), and the size limit counts what it inflates to,
/// so a small body that inflates past 64 KiB is refused before any item is looked at. A coding
/// the gateway does not read is refused with a signed 415, nothing paid.
#[tokio::test]
async fn a_gzipped_batch_is_decided_and_its_limit_counts_the_inflated_bytes() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let balance = gateway.balance_of(DEALER).await;
    let items: Vec<BatchItem> = (0..20).map(|n| item(&phone, &pay(&phone, n))).collect();
    let plain = envelope(&items);
    let gzipped = gzip(&plain);
    assert!(gzipped.len() * 2 < plain.len());
    let encoded = |coding: &str| [("content-encoding", coding.to_owned())];
    let reply = gateway.post("batch", gzipped, &encoded("gzip")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let answers = serde_json::from_slice::<BatchAnswer>(&reply.body)
        .unwrap()
        .items;
    assert_eq!(
        codes(&gateway.gateway_key, &items, &answers),
        vec![ResultCode::Ok; 20]
    );
    assert_eq!(gateway.balance_of(DEALER).await, balance - 20 * HUNDRED);

    // 70 KiB of spaces around one item: a few hundred bytes gzipped.
    let mut inflating = envelope(&[item(&phone, &pay(&phone, 20))]);
    inflating.splice(1..1, vec![b' '; 70 * 1024]);
    let bomb = gzip(&inflating);
    assert!(bomb.len() < 1024);
    let reply = gateway.post("batch", bomb, &encoded("gzip")).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Refused like every other answer, signed: a phone must be able to tell the gateway's
    // refusal from a proxy's page. `br` is a coding the gateway itself answers in.
    for coding in ["compress", "br", "deflate"] {
        let reply = gateway.post("batch", plain.clone(), &encoded(coding)).await;
        assert_eq!(
            (reply.status, reply.unbound_code()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, ResultCode::Malformed),
            "{coding}"
        );
        assert_eq!(reply.headers["accept-encoding"], "gzip");
    }
    assert_eq!(gateway.balance_of(DEALER).await, balance - 20 * HUNDRED);
    assert_eq!(gateway.payments_in("accepted").await, 20);
}

#[tokio::test]
async fn each_item_is_answered_exactly_as_the_single_pay() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let balance = gateway.balance_of(DEALER).await;
    let items: Vec<BatchItem> = (0..3).map(|n| item(&phone, &pay(&phone, n))).collect();
    // The third was paid alone first (the phone's single pay got through, its answer was lost).
    let single_first = send_single(&gateway, &items[2]).await;
    assert_eq!(single_first.code(), ResultCode::Ok);

    let (reply, answers) = send_batch(&gateway, &items).await;
    assert_eq!(reply.status, StatusCode::OK);
    let answers = answers.expect("a batch answer");
    assert_eq!(answers.len(), 3, "one answer per item, in order");
    for (item, answer) in items.iter().zip(&answers) {
        let response = verified(&gateway.gateway_key, item, answer);
        assert_eq!(response.code, ResultCode::Ok, "{}", answer.body);
        assert_eq!(
            response.session.as_ref().unwrap().as_str(),
            Request::decode(item.body.as_bytes())
                .unwrap()
                .session
                .as_str()
        );
        assert_eq!(state_of(&response), Some(PaymentState::Accepted));
        // The single step, sent the same bytes now, answers the same decision (signed, bound
        // to the item's bytes), with the gateway's time of now.
        let single = send_single(&gateway, item).await;
        assert_eq!(single.status.as_u16(), answer.status);
        assert_eq!(single.decision(), response.decision(), "the same decision");
    }
    assert_eq!(
        verified(&gateway.gateway_key, &items[2], &answers[2]).decision(),
        single_first.decision()
    );
    assert_eq!(gateway.balance_of(DEALER).await, balance - 3 * HUNDRED);
    assert_eq!(gateway.payments_in("accepted").await, 3);
}

#[tokio::test]
async fn later_items_see_the_earlier_ones_debits() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    // Enough for two and a half payments.
    gateway.set_balance(DEALER, 2 * HUNDRED + HUNDRED / 2).await;
    let items: Vec<BatchItem> = (0..4).map(|n| item(&phone, &pay(&phone, n))).collect();
    let (_, answers) = send_batch(&gateway, &items).await;
    let answers = answers.expect("a batch answer");
    assert_eq!(
        codes(&gateway.gateway_key, &items, &answers),
        [
            ResultCode::Ok,
            ResultCode::Ok,
            ResultCode::InsufficientFunds,
            ResultCode::InsufficientFunds
        ],
        "oldest first: the balance ran out at the third"
    );
    assert_eq!(gateway.balance_of(DEALER).await, HUNDRED / 2);
    assert_eq!(gateway.payments_in("accepted").await, 2);
    assert_eq!(gateway.payments_in("rejected").await, 2);
}

#[tokio::test]
async fn a_batch_is_decided_in_one_group_and_in_its_order() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    // Enough for two and a half payments.
    gateway.set_balance(DEALER, 2 * HUNDRED + HUNDRED / 2).await;
    let items: Vec<BatchItem> = (0..3).map(|n| item(&phone, &pay(&phone, n))).collect();
    let groups = gateway.payments.groups();
    let (_, answers) = send_batch(&gateway, &items).await;
    let answers = answers.expect("a batch answer");
    assert_eq!(
        codes(&gateway.gateway_key, &items, &answers),
        [
            ResultCode::Ok,
            ResultCode::Ok,
            ResultCode::InsufficientFunds
        ],
        "oldest first: the balance ran out at the third"
    );
    assert_eq!(
        gateway.payments.groups(),
        groups + 1,
        "the batch's three payments were decided together: one group, one commit"
    );
    // Numbered in the batch's order too: the dealer's transactions follow the items.
    let numbers: Vec<i64> = answers
        .iter()
        .map(
            |answer| match Response::decode(answer.body.as_bytes()).unwrap().outcome {
                Some(Outcome::Payment(receipt)) => receipt
                    .transaction_id
                    .rsplit('-')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap(),
                other => panic!("a receipt, not {other:?}"),
            },
        )
        .collect();
    assert!(
        numbers.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "consecutive transaction numbers in the batch's order: {numbers:?}"
    );
    assert_eq!(gateway.balance_of(DEALER).await, HUNDRED / 2);
}

#[tokio::test]
async fn a_bad_item_is_refused_alone() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let stranger = gateway.registered_phone(2).await; // registered, never certified
    let balance = gateway.balance_of(DEALER).await;

    let good = |n| item(&phone, &pay(&phone, n));
    let mut bad_signature = good(1);
    bad_signature.signature = phone.key.sign(b"other bytes").to_string();
    let mut unknown_key = good(2);
    unknown_key.key = "P9999-1".into();
    let mut garbled = good(3);
    garbled.signature = "not a signature".into();
    let status_step = item(&phone, &phone.request(Step::Status));
    let ahead = item(
        &phone,
        &phone.request_at(
            Step::Pay(kcell("7011299999", HUNDRED)),
            now_ms() + 10 * 60_000,
        ),
    );
    let not_certified = item(&stranger, &pay(&stranger, 4));
    // NUL, which PostgreSQL's text refuses: stored, it failed the whole group's one write.
    let mut with_nul = kcell("7011200006", HUNDRED);
    with_nul.comment = Some("за\0март".into());
    let nul_comment = item(&phone, &phone.request(Step::Pay(with_nul)));
    let nul_account = item(
        &phone,
        &phone.request(Step::Pay(kcell("70112\u{0}0007", HUNDRED))),
    );
    let items = vec![
        good(0),
        bad_signature,
        unknown_key,
        garbled,
        status_step,
        ahead,
        not_certified,
        nul_comment,
        nul_account,
        good(5),
    ];
    let (reply, answers) = send_batch(&gateway, &items).await;
    assert_eq!(reply.status, StatusCode::OK);
    let seen: Vec<(u16, ResultCode)> = items
        .iter()
        .zip(&answers.expect("a batch answer"))
        .map(|(item, answer)| {
            (
                answer.status,
                verified(&gateway.gateway_key, item, answer).code,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (200, ResultCode::Ok),
            (401, ResultCode::BadSignature),
            (401, ResultCode::KeyNotRegistered),
            (400, ResultCode::Malformed),
            (400, ResultCode::WrongStep),
            (200, ResultCode::ClockAhead),
            (200, ResultCode::KeyNotCertified),
            (400, ResultCode::Malformed),
            (400, ResultCode::Malformed),
            (200, ResultCode::Ok),
        ]
    );
    assert_eq!(gateway.balance_of(DEALER).await, balance - 2 * HUNDRED);
    assert_eq!(gateway.payments_in("accepted").await, 2);
    assert_eq!(gateway.payments_in("rejected").await, 0);
}

#[tokio::test]
async fn the_same_session_twice_in_one_batch_is_paid_once() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let balance = gateway.balance_of(DEALER).await;
    let once = item(&phone, &pay(&phone, 0));
    // The same session with other content: refused with 1, as the single step refuses it.
    let mut other = pay(&phone, 1);
    other.session = Request::decode(once.body.as_bytes()).unwrap().session;
    let other = item(&phone, &other);
    let items = vec![once.clone(), once.clone(), other.clone()];
    let (_, answers) = send_batch(&gateway, &items).await;
    let answers = answers.expect("a batch answer");
    assert_eq!(
        verified(&gateway.gateway_key, &once, &answers[0]).code,
        ResultCode::Ok
    );
    assert_eq!(
        verified(&gateway.gateway_key, &once, &answers[1]).decision(),
        verified(&gateway.gateway_key, &once, &answers[0]).decision(),
        "the stored decision again"
    );
    assert_eq!(
        verified(&gateway.gateway_key, &other, &answers[2]).code,
        ResultCode::SessionExists
    );
    assert_eq!(gateway.balance_of(DEALER).await, balance - HUNDRED);
    assert_eq!(gateway.payments_in("accepted").await, 1);
}

#[tokio::test]
async fn a_batch_over_its_limits_is_refused_whole_and_nothing_is_paid() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let balance = gateway.balance_of(DEALER).await;

    // One item too many.
    let items: Vec<BatchItem> = (0..=MAX_BATCH_ITEMS)
        .map(|n| item(&phone, &pay(&phone, n)))
        .collect();
    let (reply, answers) = send_batch(&gateway, &items).await;
    assert!(answers.is_none());
    assert_eq!(
        reply.status_and_code(),
        (StatusCode::PAYLOAD_TOO_LARGE, ResultCode::BatchTooLarge)
    );

    // Too many bytes: a few items padded out with a long signature text.
    let mut fat: Vec<BatchItem> = (0..3).map(|n| item(&phone, &pay(&phone, n))).collect();
    fat[1].signature = "A".repeat(MAX_BATCH_BYTES);
    let (reply, answers) = send_batch(&gateway, &fat).await;
    assert!(answers.is_none());
    // Refused before it is read, so signed over the answer alone (like any oversized body).
    assert_eq!(
        (reply.status, reply.unbound_code()),
        (StatusCode::PAYLOAD_TOO_LARGE, ResultCode::BatchTooLarge)
    );

    // Not a batch, another version, no items.
    for (body, expected) in [
        (b"{\"items\":".to_vec(), ResultCode::Malformed),
        (
            br#"{"v":2,"items":[]}"#.to_vec(),
            ResultCode::UnsupportedVersion,
        ),
        (br#"{"v":1,"items":[]}"#.to_vec(), ResultCode::Malformed),
    ] {
        let reply = gateway.post("batch", body, &[]).await;
        assert_eq!(reply.status_and_code(), (StatusCode::BAD_REQUEST, expected));
    }
    assert_eq!(
        gateway.balance_of(DEALER).await,
        balance,
        "nothing was paid"
    );
    assert_eq!(gateway.payments_in("accepted").await, 0);

    // Exactly the limit passes, every item decided.
    let items: Vec<BatchItem> = (0..MAX_BATCH_ITEMS)
        .map(|n| item(&phone, &pay(&phone, 100 + n)))
        .collect();
    let (reply, answers) = send_batch(&gateway, &items).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(answers.unwrap().len(), MAX_BATCH_ITEMS);
    assert_eq!(
        gateway.payments_in("accepted").await,
        MAX_BATCH_ITEMS as i64
    );
}
