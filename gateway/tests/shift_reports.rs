//! Issue 16, the cashier's shift: the phone's signed shift report (`POST /api/v1/shift`) is
//! stored once however often it is sent, answered signed by the gateway, refused when the
//! signature is wrong; and the point's console page shows each report beside the gateway's own
//! figures for the same key and time span, marking the lines that disagree with a class and a
//! word. Runs on SQLite, and on PostgreSQL with `TOLEM_TEST_POSTGRES_URL`.

mod support;

use reqwest::StatusCode;
use support::{
    POINT,
    browser::{ADMIN, text_of},
    now_ms,
    payments::kcell,
};
use tolem_protocol::{
    codes::ResultCode,
    messages::{Message, Outcome, Step},
    shift::{Figures, ProviderLine, ShiftReport, ShiftState, StateLine},
};

fn figures(count: i64, sum_tiyn: i64) -> Figures {
    Figures { count, sum_tiyn }
}

/// A report of a shift from `opened` to `closed` with these state lines.
fn report(opened: i64, closed: i64, states: &[(ShiftState, i64, i64)]) -> ShiftReport {
    ShiftReport {
        opened_at_ms: opened,
        closed_at_ms: closed,
        states: states
            .iter()
            .map(|&(state, count, sum)| StateLine {
                state,
                figures: figures(count, sum),
            })
            .collect(),
        providers: vec![ProviderLine {
            provider: "kcell".into(),
            figures: figures(1, 10_000),
        }],
        cash_tiyn: 20_000,
        waiting: figures(1, 10_000),
    }
}

async fn stored(gateway: &support::Gateway, session: &str) -> i64 {
    tolem_gateway::shift::store::count(&gateway.pool, POINT, session)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_shift_report_is_stored_once_and_answered_signed() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let now = now_ms();
    let shift = report(now - 3_600_000, now, &[(ShiftState::Accepted, 1, 10_000)]);
    let request = phone.request(Step::Shift(shift.clone()));

    let first = gateway.send(&phone, &request).await;
    assert_eq!(first.status, StatusCode::OK);
    // `response()` checks the gateway's signature over the answer's bytes.
    let answer = first.response();
    assert_eq!(answer.code, ResultCode::Ok);
    assert_eq!(answer.session.as_ref(), Some(&request.session));
    let Some(Outcome::ShiftRecorded { recorded_at_ms }) = answer.outcome else {
        panic!("not recorded: {}", first.text());
    };
    assert_eq!(stored(&gateway, request.session.as_str()).await, 1);

    // A phone that got no answer sends the same signed bytes again: stored once, same answer.
    let again = gateway.send(&phone, &request).await;
    assert_eq!(
        again.response().outcome,
        Some(Outcome::ShiftRecorded { recorded_at_ms })
    );
    assert_eq!(stored(&gateway, request.session.as_str()).await, 1);

    // Other figures under the same session are refused, and the first report stays.
    let mut other = phone.request(Step::Shift(report(
        now - 3_600_000,
        now,
        &[(ShiftState::Accepted, 5, 50_000)],
    )));
    other.session = request.session.clone();
    let refused = gateway.send(&phone, &other).await;
    assert_eq!(refused.response().code, ResultCode::SessionExists);
    let shifts = tolem_gateway::shift::store::of_point(&gateway.pool, POINT, 10)
        .await
        .unwrap();
    assert_eq!(shifts.len(), 1);
    assert_eq!(shifts[0].report, shift);
}

#[tokio::test]
async fn a_shift_report_with_a_wrong_signature_is_refused() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let intruder = gateway.new_phone(2).await;
    let now = now_ms();
    let request = phone.request(Step::Shift(report(
        now - 60_000,
        now,
        &[(ShiftState::Accepted, 1, 10_000)],
    )));
    let body = request.encode();
    // Signed by another key, under the phone's serial.
    let headers = intruder.signature_headers(&phone.card.key_serial, &body);
    let reply = gateway.post("shift", body, &headers).await;
    assert_eq!(
        reply.status_and_code(),
        (StatusCode::UNAUTHORIZED, ResultCode::BadSignature)
    );
    assert_eq!(stored(&gateway, request.session.as_str()).await, 0);

    // A report that cannot be true (closed before it opened) is not stored either.
    let backwards = phone.request(Step::Shift(report(now, now - 60_000, &[])));
    let reply = gateway.send(&phone, &backwards).await;
    assert_eq!(reply.status_and_code().1, ResultCode::Malformed);
    assert_eq!(stored(&gateway, backwards.session.as_str()).await, 0);
}

#[tokio::test]
async fn the_console_shows_a_report_beside_the_gateways_figures_and_marks_differences() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let opened = now_ms() - 1_000;
    // Two payments reach the gateway; the phone closed its shift before it heard of the second
    // (it counts it as deferred), and one duplicate was refused.
    let (_, reply) = gateway.pay(&phone, kcell("7011234567", 10_000)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let (_, reply) = gateway.pay(&phone, kcell("7017654321", 25_000)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let (_, reply) = gateway.pay(&phone, kcell("7011234567", 10_000)).await;
    assert_eq!(reply.code(), ResultCode::Duplicate);
    let closed = now_ms() + 1;
    let mut shift = report(
        opened,
        closed,
        &[
            (ShiftState::Accepted, 1, 10_000),
            (ShiftState::Rejected, 1, 10_000),
            (ShiftState::Deferred, 1, 25_000),
        ],
    );
    shift.cash_tiyn = 35_000;
    shift.waiting = figures(1, 25_000);
    let request = phone.request(Step::Shift(shift));
    assert_eq!(
        gateway.send(&phone, &request).await.response().code,
        ResultCode::Ok
    );

    let cookie = gateway.console_session(ADMIN).await;
    let (html, _) = gateway
        .console_page(&format!("/console/points/{POINT}"), &cookie)
        .await;
    let section = &html[html
        .find("class=\"shift-report\"")
        .expect("the report is shown")..];
    assert!(section.contains(request.session.as_str()));
    assert!(html.contains("data-differs=\"true\""));
    let text = text_of(section);
    // The phone's cash to hand over, and the gateway's own figures beside the phone's.
    assert!(text.contains("350.00"), "{text}");
    let row = |line: &str| {
        let at = section
            .find(&format!("data-line=\"{line}\""))
            .unwrap_or_else(|| panic!("no line {line}"));
        let start = section[..at].rfind("<tr").unwrap();
        let end = at + section[at..].find("</tr>").unwrap();
        section[start..end].to_owned()
    };
    let accepted = row("accepted");
    assert!(accepted.contains("differs"), "{accepted}");
    assert!(text_of(&accepted).contains("Расхождение"), "{accepted}");
    assert!(
        text_of(&accepted).contains("1 / 100.00"),
        "the phone's figures"
    );
    assert!(
        text_of(&accepted).contains("2 / 350.00"),
        "the gateway's figures"
    );
    let rejected = row("rejected");
    assert!(!rejected.contains("differs"), "{rejected}");
    assert!(text_of(&rejected).contains("Совпадает"), "{rejected}");
    let kcell_line = row("kcell");
    assert!(kcell_line.contains("differs"), "{kcell_line}");
    // The deferred payment only the phone knows is shown, never compared.
    let deferred = row("deferred");
    assert!(!deferred.contains("differs"), "{deferred}");
}
