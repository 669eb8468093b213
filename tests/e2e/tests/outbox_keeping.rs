//! Guards issue 13 items 4–6 with every real part (the release build in Chromium, its service
//! worker, the gateway binary, the dealer console):
//!
//! - deleting the key while a deferred payment waits is refused; saving the waiting payments
//!   to a file hands over the exact signed requests — replayed later, the gateway accepts the
//!   payment — and then the key may go; confirming the loss twice deletes it too;
//! - when the browser clears the phone's storage, the app says so loudly, and the next signed
//!   request (the new key's registration) tells the gateway: the console flags the point;
//! - a new app version whose worker cannot read what waits in the outbox is not installed; once
//!   nothing unreadable waits, it is offered as usual.

use serde_json::{Value, json};
use tolem_e2e::{
    Action, Browser, Console, Fault, Gateway, PASSPHRASE, POINT, Phone, Proxy, free_port,
    kcell_number, new_point_password, newer_build, path_from_env,
};

/// Keeps the file the page hands the browser (its Blob) while letting the download go on.
const CATCH_EXPORT: &str = r#"
    const original = URL.createObjectURL.bind(URL);
    URL.createObjectURL = (blob) => { window.__exported = blob; return original(blob); };
    return true;
"#;

/// A phone with a certified key and one deferred payment waiting behind a cut network.
struct Setup {
    _data: tempfile::TempDir,
    _gateway: Gateway,
    proxy: Proxy,
    phone: Phone,
    console: Console,
    account: String,
}

async fn phone_with_a_waiting_payment() -> Setup {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&proxy.url(), &mut console).await;
    proxy.set_fault(Fault::Down);
    let account = kcell_number(41);
    let taken = phone.pay(Action::Defer, &account, "1500").await;
    assert_eq!(taken.state, "deferred");
    phone
        .browser
        .client
        .goto(&format!("{}settings/keys/delete", proxy.url()))
        .await
        .unwrap();
    phone.browser.wait_for_element("#delete-waiting").await;
    Setup {
        _data: data,
        _gateway: gateway,
        proxy,
        phone,
        console,
        account,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_is_kept_until_the_waiting_payment_is_saved_and_the_file_replays() {
    // Every part bound by name: one left to `..` would be dropped (the gateway killed) at once.
    let Setup {
        _data,
        _gateway,
        proxy,
        phone,
        console,
        account,
    } = phone_with_a_waiting_payment().await;
    let b = &phone.browser;
    assert_eq!(
        b.attribute("#delete-waiting", "data-payments")
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        b.attribute("#delete-waiting", "data-total-tiyn")
            .await
            .as_deref(),
        Some("150000")
    );
    let deletable = b
        .eval("return document.querySelector('#delete-confirm') !== null")
        .await;
    assert_eq!(
        deletable,
        Value::Bool(false),
        "Delete offered with a payment waiting"
    );

    b.eval(CATCH_EXPORT).await;
    b.click("#delete-export").await;
    b.wait_for_element("#delete-waiting-settled").await;
    let file = b
        .eval_async(
            "const done = arguments[arguments.length - 1];
             window.__exported.text().then(done, e => done('error: ' + e));",
        )
        .await;
    let file: Value = serde_json::from_str(file.as_str().unwrap()).unwrap();
    let payment = &file["payments"][0];
    assert_eq!(payment["account"], account.as_str());
    assert_eq!(file["payments"].as_array().map(Vec::len), Some(1));

    b.click("#delete-confirm").await;
    b.wait_for_element("#delete-result").await;

    // Support replays the file's request exactly as signed: the gateway takes the payment.
    proxy.set_fault(Fault::None);
    let pay = &payment["pay"];
    let script = format!(
        "const done = arguments[arguments.length - 1];
         fetch('/api/v1/pay', {{ method: 'POST', body: {body},
             headers: {{ 'x-tolem-key': {signer}, 'x-tolem-signature': {signature} }} }})
           .then(r => r.json()).then(a => done(a.code), e => done('error: ' + e));",
        body = json!(pay["body"].as_str().unwrap()),
        signer = json!(pay["signer"].as_str().unwrap()),
        signature = json!(pay["signature"].as_str().unwrap()),
    );
    // The network is back, as far as the proxy goes; the browser may still hold the broken
    // connection for a moment, so the replay is tried until something answers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let answer = loop {
        let answer = b.eval_async(&script).await;
        if !answer.as_str().is_some_and(|a| a.starts_with("error")) {
            break answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no answer to the replay: {answer}; pays seen {}, delivered {}",
            proxy.seen("/api/v1/pay"),
            proxy.delivered("/api/v1/pay")
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert_eq!(answer, json!(0), "the replay was refused");
    let held = console.payments_matching(&account).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        (held[0].status.as_str(), held[0].amount_tiyn),
        ("accepted", 1_500_00)
    );
    phone.close().await;
    console.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn confirming_the_loss_twice_deletes_the_key() {
    let Setup {
        _data,
        _gateway,
        proxy: _proxy,
        phone,
        console,
        account: _,
    } = phone_with_a_waiting_payment().await;
    let b = &phone.browser;
    b.click("#delete-lose").await;
    let question = b
        .text_of("#delete-lose-question")
        .await
        .replace('\u{a0}', " ");
    assert!(question.contains("1 500,00"), "names the sum: {question}");
    b.click("#delete-lose-confirm").await;
    b.click("#delete-confirm").await;
    b.wait_for_element("#delete-result").await;
    let keys = b
        .eval_async(
            "const done = arguments[arguments.length - 1];
             const open = indexedDB.open('tolem');
             open.onsuccess = () => {
               const all = open.result.transaction('keys').objectStore('keys').count();
               all.onsuccess = () => { open.result.close(); done(all.result); };
             };",
        )
        .await;
    assert_eq!(keys, json!(0), "the key is still on the phone");
    phone.close().await;
    console.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cleared_storage_is_shown_and_reported_to_the_dealer() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let app = gateway.url();
    let mut console = Console::log_in(&app, false).await;
    let phone = Phone::certified(&app, &mut console).await;
    let b = &phone.browser;
    let old_serial = b
        .eval_async(
            "const done = arguments[arguments.length - 1];
             const open = indexedDB.open('tolem');
             open.onsuccess = () => {
               const all = open.result.transaction('keys').objectStore('keys').getAll();
               all.onsuccess = () => { open.result.close(); done(all.result[0].key_serial); };
             };",
        )
        .await;
    let old_serial = old_serial.as_str().unwrap().to_owned();
    assert_eq!(
        b.eval("return document.querySelector('#outbox-lost') === null")
            .await,
        Value::Bool(true)
    );

    // The browser evicts the site's database (as under storage pressure); the app reopens.
    let deleted = b
        .eval_async(
            "const done = arguments[arguments.length - 1];
             const r = indexedDB.deleteDatabase('tolem');
             r.onsuccess = () => done('deleted'); r.onerror = () => done('error: ' + r.error);",
        )
        .await;
    assert_eq!(deleted, json!("deleted"));
    b.client.goto(&app).await.unwrap();
    b.wait_for_element("#outbox-lost").await;
    assert_eq!(
        b.attribute("#outbox-lost", "data-key").await.as_deref(),
        Some(old_serial.as_str())
    );

    // The key went with it: the dealer gives the point a new password (one enrols one key),
    // the cashier enrols again, and the registration tells the gateway.
    let password = new_point_password(&console.browser, &app, POINT).await;
    b.client
        .goto(&format!("{app}settings/keys/card"))
        .await
        .unwrap();
    b.fill("#point-code", POINT).await;
    b.fill("#point-password", &password).await;
    b.click("#card-submit").await;
    b.click("#card-next").await;
    b.fill("#passphrase", PASSPHRASE).await;
    b.fill("#passphrase-repeat", PASSPHRASE).await;
    b.click("#generate-submit").await;
    b.wait_for_element("#register-result[data-outcome=registered]")
        .await;

    let c = &console.browser;
    c.client
        .goto(&format!("{app}console/points/{POINT}"))
        .await
        .unwrap();
    c.wait_for_element(&format!(".outbox-lost[data-serial='{old_serial}']"))
        .await;
    phone.close().await;
    console.close().await;
}

/// Asks the browser to look for a new worker now and waits for how its install ends:
/// `installed`, `redundant` (the install failed) or `none` (no new version).
const UPDATE_AND_WAIT: &str = r#"
    const done = arguments[arguments.length - 1];
    navigator.serviceWorker.getRegistration().then(async (reg) => {
      await reg.update().catch(() => {});
      const worker = reg.installing || reg.waiting;
      if (!worker) return done('none');
      const settled = () => worker.state === 'installed' || worker.state === 'redundant';
      if (settled()) return done(worker.state);
      worker.addEventListener('statechange', () => { if (settled()) done(worker.state); });
    });
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_new_version_that_cannot_read_what_waits_is_not_installed() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let gateway = Gateway::start(port, &dist, data.path());
    let browser = Browser::start().await;
    browser.client.goto(&gateway.url()).await.unwrap();
    browser.wait_for_worker().await;
    // A payment waits in a format no build of today reads (as a future build would write it).
    let stored = browser
        .eval_async(
            "const done = arguments[arguments.length - 1];
             const open = indexedDB.open('tolem');
             open.onsuccess = () => {
               const tx = open.result.transaction('outbox', 'readwrite');
               tx.objectStore('outbox').put({ session: '1795000000000zzzzzzz',
                 created_at_ms: 1795000000000, amount_tiyn: 100000, kind: 'payment',
                 format: 999 });
               tx.oncomplete = () => { open.result.close(); done('stored'); };
               tx.onerror = () => done('error: ' + tx.error);
             };",
        )
        .await;
    assert_eq!(stored, json!("stored"));

    // The next version is deployed under the page.
    gateway.kill();
    let next = tempfile::tempdir().unwrap();
    newer_build(&dist, next.path());
    let _gateway = Gateway::start(port, next.path(), data.path());
    assert_eq!(
        browser.eval_async(UPDATE_AND_WAIT).await,
        json!("redundant")
    );
    assert!(!browser.text().await.contains("Доступна новая версия"));

    // Once nothing unreadable waits, the same version installs and is offered.
    let cleared = browser
        .eval_async(
            "const done = arguments[arguments.length - 1];
             const open = indexedDB.open('tolem');
             open.onsuccess = () => {
               const tx = open.result.transaction('outbox', 'readwrite');
               tx.objectStore('outbox').clear();
               tx.oncomplete = () => { open.result.close(); done('cleared'); };
             };",
        )
        .await;
    assert_eq!(cleared, json!("cleared"));
    assert_eq!(
        browser.eval_async(UPDATE_AND_WAIT).await,
        json!("installed")
    );
    browser.wait_for_text("Доступна новая версия").await;
    browser.close().await;
}
