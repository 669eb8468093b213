//! Guards the point's offline limits: past them the app refuses to defer and says why (one
//! payment too large, too much waiting in all), and the header counts what waits; a payment that
//! got no answer holds the next one to those limits at once; a payment that waited longer than
//! the point's maximum age is refused by the gateway with its own code (909), and the phone
//! records that refusal.
//!
//! Real parts only: the release build in Chromium, the gateway binary, the dealer console. The
//! "old" payment is made honestly: after the phone got its card (72 hours), the dealer lowers the
//! point's maximum age to 0 hours in the console, so the payment deferred a moment later is older
//! than the gateway allows by the time it arrives.

use std::time::{Duration, Instant};

use tolem_e2e::deferred::ProxiedPoint;
use tolem_e2e::{
    Action, Console, Fault, Gateway, Phone, Proxy, free_port, kcell_number, path_from_env,
};

#[tokio::test(flavor = "multi_thread")]
async fn past_the_offline_limits_the_app_refuses_to_defer_and_says_why() {
    let started = Instant::now();
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    let mut console = Console::log_in(&gateway.url(), false).await;
    // The demo point's card: one offline payment up to 50 000 ₸, 200 000 ₸ waiting in all.
    let phone = Phone::certified(&proxy.url(), &mut console).await;
    console.close().await;
    proxy.set_fault(Fault::Down);

    let reason = plain(&phone.refused_deferral(&kcell_number(1), "50000.01").await);
    assert!(reason.contains("50 000"), "names the limit: {reason}");

    for n in 0..4 {
        let payment = phone
            .pay(Action::Defer, &kcell_number(10 + n), "50000")
            .await;
        assert_eq!(payment.state, "deferred");
    }
    let (count, total, deadline) = phone.outbox_summary().await;
    assert_eq!((count, total), (4, 200_000_00));
    let deadline: i64 = deadline.parse().expect("a deadline in ms");
    let now = phone
        .browser
        .eval("return Date.now()")
        .await
        .as_i64()
        .unwrap();
    let hours_left = (deadline - now) as f64 / 3_600_000.0;
    assert!((71.9..=72.0).contains(&hours_left), "{hours_left} h left");
    // The text, its deadline and the clock in one look: the summary was drawn no later than
    // `drawn_by`, so it shows at least the minutes left then (rounded up). The payments above
    // took WebDriver time, so "72 ч 0 мин" is not a given: anything within the same
    // 71.9..=72.0 h as the deadline is right.
    let seen = phone
        .browser
        .eval(
            "const s = document.querySelector('#outbox-summary');
             return [s.textContent.trim(), Number(s.getAttribute('data-deadline-ms')), Date.now()];",
        )
        .await;
    let shown = plain(seen[0].as_str().unwrap_or_default());
    let (deadline, drawn_by) = (seen[1].as_i64().unwrap(), seen[2].as_i64().unwrap());
    assert!(shown.contains("4 · 200 000,00 ₸"), "{shown}");
    let minutes_shown = shown
        .split("осталось ")
        .nth(1)
        .and_then(|rest| {
            let (hours, rest) = rest.split_once(" ч ")?;
            let (minutes, _) = rest.split_once(" мин")?;
            Some(hours.trim().parse::<i64>().ok()? * 60 + minutes.trim().parse::<i64>().ok()?)
        })
        .unwrap_or_else(|| panic!("no \"осталось H ч M мин\" in {shown}"));
    let minutes_left_then = (deadline - drawn_by + 59_999) / 60_000;
    assert!(
        (71 * 60 + 54..=72 * 60).contains(&minutes_shown) && minutes_shown >= minutes_left_then,
        "{shown}: {minutes_shown} min shown, {minutes_left_then} min left"
    );

    let reason = plain(&phone.refused_deferral(&kcell_number(20), "100").await);
    assert!(
        reason.contains("200 000"),
        "names the total limit: {reason}"
    );
    let (count, _, _) = phone.outbox_summary().await;
    assert_eq!(count, 4, "nothing more was deferred");

    phone.close().await;
    eprintln!("took {:?}", started.elapsed());
}

/// A dead cell fires no `offline` event, and the gateway's health is asked every half minute:
/// a payment that got no answer turns the top bar to "no connection" at once, and the next
/// payment is held to the offline limits — not sent into the dead link to end deferred past
/// them. A payment the gateway answers turns it back.
#[tokio::test(flavor = "multi_thread")]
async fn a_payment_that_got_no_answer_holds_the_next_to_the_offline_limits() {
    // The demo point's card: one offline payment up to 50 000 ₸.
    let point = ProxiedPoint::start().await;
    let phone = &point.phone;
    phone.browser.wait_for_connection("online").await;

    // The link dies; the browser still believes it is online.
    point.proxy.set_fault(Fault::Down);
    let first = phone.pay(Action::Execute, &kcell_number(1), "1000").await;
    assert!(
        ["deferred", "unknown"].contains(&first.state.as_str()),
        "{first:?}"
    );
    assert_eq!(
        phone.browser.connection().await.as_deref(),
        Some("offline"),
        "the top bar agrees with the result it just showed"
    );

    let reason = plain(
        &phone
            .refused(Action::Execute, &kcell_number(2), "50000.01")
            .await,
    );
    assert!(reason.contains("50 000"), "names the limit: {reason}");
    let (count, _, _) = phone.outbox_summary().await;
    assert_eq!(count, 1, "only the first payment waits");

    // The link returns: the next payment the gateway answers turns the bar back at once, and
    // the one that waited is sent.
    point.proxy.set_fault(Fault::None);
    let second = phone.pay(Action::Execute, &kcell_number(3), "1000").await;
    assert_eq!(second.state, "accepted");
    assert_eq!(
        phone.browser.connection().await.as_deref(),
        Some("online"),
        "the top bar agrees with the answer it just showed"
    );
    let mut states = phone.wait_until_all_final(Duration::from_secs(60)).await;
    states.sort();
    let mut expected = vec![
        (first.session, "accepted".to_owned()),
        (second.session, "accepted".to_owned()),
    ];
    expected.sort();
    assert_eq!(states, expected);
    point.close().await;
}

/// A health check asked while the gateway could still be reached may answer after a payment
/// found the link dead: its "the gateway is up" is older news than the payment's, and changes
/// nothing — the top bar stays "no connection" and the next payment is held to the offline
/// limits.
#[tokio::test(flavor = "multi_thread")]
async fn a_health_answer_older_than_a_payment_without_answer_changes_nothing() {
    let point = ProxiedPoint::start().await;
    let phone = &point.phone;
    phone.browser.wait_for_connection("online").await;

    // A check goes out (the browser says the network is back); its answer is slow on its way.
    point.proxy.hold_answers(HEALTH);
    phone
        .browser
        .eval(
            "performance.setResourceTimingBufferSize(10000); \
             window.dispatchEvent(new Event('online')); return true",
        )
        .await;
    let patience = Instant::now() + Duration::from_secs(30);
    while point.proxy.held_answers() == 0 {
        assert!(Instant::now() < patience, "the health check never went out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The link dies; a payment finds it so.
    point.proxy.set_fault(Fault::Down);
    let first = phone.pay(Action::Execute, &kcell_number(1), "1000").await;
    assert!(
        ["deferred", "unknown"].contains(&first.state.as_str()),
        "{first:?}"
    );
    assert_eq!(phone.browser.connection().await.as_deref(), Some("offline"));

    // The old answer arrives, and the browser has read it.
    let answers = |n: u64| {
        format!(
            "return performance.getEntriesByType('resource').filter(e => \
             e.name.endsWith('{HEALTH}') && e.responseStatus === 200).length >= {n}"
        )
    };
    let mut before = 0;
    while phone.browser.eval(&answers(before + 1)).await == serde_json::Value::Bool(true) {
        before += 1;
    }
    point.proxy.release_answers(HEALTH);
    phone
        .browser
        .wait_for("the held health answer to arrive", &answers(before + 1))
        .await;

    let reason = plain(
        &phone
            .refused(Action::Execute, &kcell_number(2), "50000.01")
            .await,
    );
    assert!(reason.contains("50 000"), "names the limit: {reason}");
    assert_eq!(phone.browser.connection().await.as_deref(), Some("offline"));
    let (count, _, _) = phone.outbox_summary().await;
    assert_eq!(count, 1, "only the first payment waits");
    point.close().await;
}

/// The gateway's health endpoint, as the app asks it.
const HEALTH: &str = "/api/health";

#[tokio::test(flavor = "multi_thread")]
async fn a_payment_older_than_the_maximum_age_is_refused_with_909() {
    let started = Instant::now();
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let mut console = Console::log_in(&gateway.url(), true).await;
    let phone = Phone::certified(&gateway.url(), &mut console).await;
    let balance_before = console.balance_tiyn().await;

    // The phone's card still says 72 hours; the gateway now allows no waiting at all.
    console.set_offline_limits("50000", "200000", "0").await;
    let payment = phone.pay(Action::Defer, &kcell_number(1), "3000").await;
    // The gateway is reachable: the deferred payment goes at once, and the result may already
    // show how it ended.
    assert!(
        ["deferred", "rejected"].contains(&payment.state.as_str()),
        "{payment:?}"
    );

    let states = phone.wait_until_all_final(Duration::from_secs(30)).await;
    assert_eq!(
        states,
        vec![(payment.session.clone(), "rejected".to_owned())]
    );
    phone
        .browser
        .client
        .goto(&format!("{}history", phone.app))
        .await
        .unwrap();
    phone
        .browser
        .wait_for_element(&format!(
            "li.payment[data-session='{}'][data-code='909']",
            payment.session
        ))
        .await;

    let held = console.payments().await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        (held[0].status.as_str(), held[0].code.as_str()),
        ("rejected", "909")
    );
    assert_eq!(
        console.balance_tiyn().await,
        balance_before,
        "no money moved"
    );

    phone.close().await;
    console.close().await;
    eprintln!("took {:?}", started.elapsed());
}

/// Text with the typographic spaces of amounts (no-break, narrow no-break) as plain spaces.
fn plain(text: &str) -> String {
    text.replace(['\u{a0}', '\u{202f}'], " ")
}
