//! Guards "did my payment go through?": the gateway commits a payment but the connection is cut
//! before its answer reaches the phone. The phone must not guess and must not pay again under a
//! new session: the payment shows as *unknown*, and once the network is back it is settled by its
//! pre-signed status query — accepted, paid exactly once.
//!
//! Real parts only: the release build in Chromium, the gateway binary, and a proxy that lets
//! requests reach the gateway but resets the connection before the answer gets back.

use std::time::{Duration, Instant};

use tolem_e2e::deferred::ProxiedPoint;
use tolem_e2e::{Action, Fault, kcell_number};

#[tokio::test(flavor = "multi_thread")]
async fn a_payment_whose_answer_was_cut_is_settled_by_status_and_paid_once() {
    let started = Instant::now();
    let point = ProxiedPoint::start().await;
    let (proxy, console, phone) = (&point.proxy, &point.console, &point.phone);

    // The pay reaches the gateway, which commits it; the answer never comes back, nor do the
    // answers to the status queries the phone makes at once.
    proxy.set_fault(Fault::CutAnswers);
    let payment = phone.pay(Action::Execute, &kcell_number(1), "2500").await;
    assert_eq!(payment.state, "unknown", "{payment:?}");
    assert_eq!(proxy.delivered("/api/v1/pay"), 1);
    let held = console.payments().await;
    assert_eq!(held.len(), 1, "the gateway committed it: {held:?}");
    assert_eq!(held[0].status, "accepted");

    // The network is healthy again: the app settles it by status, without paying again.
    proxy.set_fault(Fault::None);
    let states = phone.wait_until_all_final(Duration::from_secs(30)).await;
    assert_eq!(
        states,
        vec![(payment.session.clone(), "accepted".to_owned())]
    );
    assert_eq!(proxy.delivered("/api/v1/pay"), 1, "never paid again");
    assert!(proxy.delivered("/api/v1/status") >= 1, "settled by status");

    let held = console.payments().await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].session, payment.session);
    assert_eq!(
        console.balance_tiyn().await,
        point.balance_before - payment.amount_tiyn
    );

    // The history page says so too.
    phone
        .browser
        .client
        .goto(&format!("{}history/{}", phone.app, payment.session))
        .await
        .unwrap();
    phone
        .browser
        .wait_for_element("#payment[data-state=accepted]")
        .await;

    point.close().await;
    eprintln!("took {:?}", started.elapsed());
}
