//! Guards "a payment the cashier took cash for is never dropped by the phone" (issue 13 items
//! 1–3) with faults a point meets in real life, each ending with every payment accepted exactly
//! once and the dealer's balance moved by exactly their sum:
//!
//! - the dealer blocks the point while payments wait on the phone, then unblocks it: the
//!   gateway's 53 holds them (with the reason and what to do), and they go by themselves;
//! - payments deferred before the dealer certified the key: 902 holds them, the pay form warns
//!   before another is deferred, and once the key is certified they go (one by *Send now*);
//! - the phone's clock runs 7 minutes ahead (the gateway allows 5) while it is offline: the
//!   payment signed then is held by 910 until the gateway's clock lets it pass, and goes by
//!   itself; the phone learns the gateway's time, warns about its clock, and signs the next
//!   payment with the gateway's time, so it passes at once;
//! - a payment refused for want of funds (21) after the cash was taken offers *Pay again*: the
//!   form filled in, a new payment only once the cashier confirms, the original as it was.
//!
//! Real parts only: the release build and its worker in Chromium, the gateway binary, the dealer
//! in the console, an outage made by a proxy, and a clock moved in the page before the app loads.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tolem_e2e::deferred::{ProxiedPoint, accepted_once, defer_offline, gateway_holds, sum_tiyn};
use tolem_e2e::{
    Action, Console, Fault, Gateway, Phone, Proxy, Taken, free_port, kcell_number, path_from_env,
};

/// A held payment goes again a minute after the refusal (the page retries no later).
const HELD_PATIENCE: Duration = Duration::from_secs(150);
/// Once the phone shows them accepted, the console lists them at once; this is its slack.
const LISTED: Duration = Duration::from_secs(30);

fn sessions(taken: &[Taken]) -> Vec<&str> {
    taken.iter().map(|t| t.session.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn payments_held_by_a_blocked_point_go_once_it_is_unblocked() {
    let mut point = ProxiedPoint::start().await;
    let (proxy, console, phone) = (&point.proxy, &mut point.console, &point.phone);

    // Offline, the cashier takes three payments; meanwhile the dealer blocks the point.
    let taken = defer_offline(phone, proxy, 0..3).await;
    console.block_point().await;

    // The network returns: the gateway says 53 to each. Nothing is dropped: they are held.
    proxy.set_fault(Fault::None);
    phone.browser.network_returns().await;
    phone
        .wait_for_states(&sessions(&taken), "held", Duration::from_secs(30))
        .await;
    assert_eq!(
        console.payments().await,
        vec![],
        "the gateway stored nothing"
    );
    // Still counted as cash waiting on the phone; the history says why and what to do.
    let (count, total, _) = phone.outbox_summary().await;
    assert_eq!((count, total), (3, sum_tiyn(&taken)));
    phone
        .browser
        .client
        .goto(&format!("{}history", phone.app))
        .await
        .unwrap();
    phone
        .browser
        .wait_for_element("#history-list [data-state=held]")
        .await;
    phone
        .browser
        .wait_for_text("Попросите дилера разблокировать точку")
        .await;

    // The dealer unblocks the point: the payments go by themselves, once each.
    console.unblock_point().await;
    phone
        .wait_for_states(&sessions(&taken), "accepted", HELD_PATIENCE)
        .await;
    let held = gateway_holds(console, taken.len(), LISTED).await;
    accepted_once(&held, &taken);
    assert_eq!(
        console.balance_tiyn().await,
        point.balance_before - sum_tiyn(&taken)
    );

    point.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn payments_deferred_before_the_key_was_certified_go_once_it_is() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    let mut console = Console::log_in(&gateway.url(), false).await;
    let balance_before = console.balance_tiyn().await;
    // The cashier made and registered the key; the dealer has not certified it yet.
    let (phone, serial) = Phone::registered(&proxy.url()).await;
    phone.open_payment_form().await;

    let mut taken = Vec::new();
    for n in 0..3 {
        let payment = phone
            .pay(Action::Defer, &kcell_number(n), &format!("{}", 800 + n))
            .await;
        taken.push(payment);
    }
    // The gateway says 902 to each: held, not rejected.
    phone
        .wait_for_states(&sessions(&taken), "held", Duration::from_secs(30))
        .await;
    // Before another is deferred, the pay form says this key cannot pay yet, and what to do.
    let warning = phone.browser.text_of("#pay-held-warning").await;
    assert!(
        warning.contains("Попросите дилера заверить ключ"),
        "{warning}"
    );
    assert_eq!(
        console.payments().await,
        vec![],
        "the gateway stored nothing"
    );

    // The dealer certifies the key (and activates the point). The cashier sends the first by
    // hand from the history; the others go by themselves.
    console.certify_and_activate(&serial).await;
    let first = &taken[0].session;
    phone
        .browser
        .client
        .goto(&format!("{}history/{first}", phone.app))
        .await
        .unwrap();
    phone
        .browser
        .wait_for_element("#payment[data-state=held]")
        .await;
    phone.browser.click("#payment-send-now").await;
    phone
        .browser
        .wait_for_element("#payment[data-state=accepted]")
        .await;
    phone
        .wait_for_states(&sessions(&taken), "accepted", HELD_PATIENCE)
        .await;
    let held = gateway_holds(&console, taken.len(), LISTED).await;
    accepted_once(&held, &taken);
    assert_eq!(
        console.balance_tiyn().await,
        balance_before - sum_tiyn(&taken)
    );

    phone.close().await;
    console.close().await;
    gateway.kill();
}

/// Makes the page's clock run `ahead_ms` ahead from its next load on (`Date.now`, which the app
/// reads for every time it signs), as a phone whose clock was set wrong.
async fn clock_ahead(phone: &Phone, ahead_ms: i64) -> Value {
    phone
        .browser
        .devtools(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({
                "source": format!(
                    "(() => {{ const real = Date.now.bind(Date); Date.now = () => real() + {ahead_ms}; }})()"
                ),
            }),
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payment_signed_by_a_clock_seven_minutes_ahead_waits_and_goes() {
    const AHEAD_MS: i64 = 7 * 60_000;
    let started = Instant::now();
    let point = ProxiedPoint::start().await;
    let (proxy, console, phone) = (&point.proxy, &point.console, &point.phone);

    // Offline, the phone's clock jumps 7 minutes ahead; the app opens from the phone.
    proxy.set_fault(Fault::Down);
    clock_ahead(phone, AHEAD_MS).await;
    phone.open_payment_form().await;
    let early = phone.pay(Action::Defer, &kcell_number(1), "900").await;
    assert_eq!(early.state, "deferred");

    // The network returns: the gateway refuses a payment from its future (910). Held, not lost.
    proxy.set_fault(Fault::None);
    phone.browser.network_returns().await;
    phone
        .wait_for_states(&[&early.session], "held", Duration::from_secs(30))
        .await;
    let held_at = Instant::now();
    // The phone learnt the gateway's time: it warns about its clock…
    let offset: i64 = phone
        .browser
        .attribute("#clock-warning", "data-offset-ms")
        .await
        .and_then(|o| o.parse().ok())
        .expect("a clock warning with its offset");
    assert!(
        (offset + AHEAD_MS).abs() < 5_000,
        "offset {offset} ms, not about -{AHEAD_MS}"
    );
    // …and signs the next payment with the gateway's time, so it passes at once.
    let next = phone.pay(Action::Execute, &kcell_number(2), "901").await;
    assert_eq!(next.state, "accepted");

    // The held one goes by itself once the gateway's clock lets it: about 2 minutes after
    // it was signed (7 ahead, 5 allowed), not a backoff later.
    phone
        .wait_for_states(
            &[&early.session],
            "accepted",
            Duration::from_secs(2 * 60) + HELD_PATIENCE,
        )
        .await;
    let waited = held_at.elapsed();
    assert!(
        waited >= Duration::from_secs(60),
        "it went before the gateway's clock could accept it ({waited:?})"
    );
    let taken = [early, next];
    let held = gateway_holds(console, taken.len(), LISTED).await;
    accepted_once(&held, &taken);
    assert_eq!(
        console.balance_tiyn().await,
        point.balance_before - sum_tiyn(&taken)
    );
    println!("clock ahead: done in {:?}", started.elapsed());

    point.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payment_refused_for_funds_can_be_paid_again_as_a_new_payment() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&gateway.url(), &mut console).await;

    // The largest payments the provider takes until the dealer's balance runs out: 21.
    let mut refused = None;
    for n in 0..10 {
        let payment = phone.pay(Action::Execute, &kcell_number(n), "100000").await;
        if payment.state == "rejected" {
            refused = Some((payment, kcell_number(n)));
            break;
        }
        assert_eq!(payment.state, "accepted", "{payment:?}");
    }
    let (refused, number) = refused.expect("the balance ran out");
    let row = console
        .payments()
        .await
        .into_iter()
        .find(|p| p.session == refused.session)
        .expect("the refusal is stored");
    assert_eq!(row.code, "21", "{row:?}");
    let before = phone.states().await;

    // Its history entry offers Pay again: the form, filled in with the same payment.
    let b = &phone.browser;
    b.client
        .goto(&format!("{}history/{}", phone.app, refused.session))
        .await
        .unwrap();
    b.wait_for_element("#payment[data-state=rejected]").await;
    b.click("#payment-pay-again").await;
    b.wait_for_element("#pay-form").await;
    let fields = b
        .eval(
            "return [document.querySelector('#pay-account').value, \
                     document.querySelector('#pay-amount').value]",
        )
        .await;
    let account = fields[0].as_str().unwrap_or_default();
    let digits: String = account.chars().filter(char::is_ascii_digit).collect();
    assert!(digits.ends_with(&number), "{fields}");
    assert_eq!(fields[1], "100000", "{fields}");
    assert_eq!(
        phone.states().await,
        before,
        "nothing is signed before the cashier confirms"
    );

    // Confirmed: a new payment, newly signed; the original stays as it was.
    if b.eval("return document.querySelector('#unlock-form') !== null")
        .await
        == Value::Bool(true)
    {
        phone.unlock().await;
    }
    b.click("#pay-execute").await;
    b.click("#confirm-submit").await;
    b.wait_for_element("#pay-result[data-session]").await;
    let again = b
        .attribute("#pay-result", "data-session")
        .await
        .unwrap_or_default();
    assert_ne!(again, refused.session, "a new session");
    let after = phone.states().await;
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    assert!(
        after
            .iter()
            .any(|(s, state)| *s == refused.session && state == "rejected"),
        "{after:?}"
    );

    phone.close().await;
    console.close().await;
    gateway.kill();
}
