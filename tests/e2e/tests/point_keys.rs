//! Guards the point-key flow of the manual's sections 2–4 and 9 with every real part: a new phone
//! gets its key card from the gateway, makes its key under a passphrase and registers it; the
//! dealer logs into the console, compares the fingerprint with the phone's and certifies the key,
//! then activates the point; a signed request from the phone now succeeds. After *Delete key* the
//! very same signed request is refused.

use serde_json::Value;
use tolem_e2e::{Authenticator, Browser, Gateway, console_log_in, free_port, path_from_env};

const PASSPHRASE: &str = "касса-смена-1";

/// Records, without changing them, the signed requests the app sends to `/api/v1/balance`, so the
/// test can send the very same bytes again later.
const RECORD_BALANCE_REQUESTS: &str = r#"
    if (!window.__sent) {
        window.__sent = [];
        const send = window.fetch.bind(window);
        window.fetch = async (input, init) => {
            const request = new Request(input, init);
            if (request.url.includes('/api/v1/balance')) {
                const copy = request.clone();
                window.__sent.push({
                    headers: Object.fromEntries(copy.headers.entries()),
                    body: Array.from(new Uint8Array(await copy.arrayBuffer())),
                });
            }
            return send(request);
        };
    }
    return true;
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_new_phone_is_certified_by_the_dealer_and_refused_after_deleting_its_key() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let phone = Browser::start().await;
    let app = gateway.url();

    // The key card: a wrong password is explained, the right one brings the card.
    phone
        .client
        .goto(&format!("{app}settings/keys/card"))
        .await
        .unwrap();
    phone.fill("#point-code", "P1001").await;
    phone.fill("#point-password", "not-the-password").await;
    phone.click("#card-submit").await;
    phone.wait_for_text("Неверный код точки или пароль").await;
    phone.fill("#point-password", "tolem-demo-1001").await;
    phone.click("#card-submit").await;
    let serial = phone.text_of("#card-serial").await;
    assert!(serial.starts_with("P1001-"), "serial {serial:?}");
    phone.click("#card-next").await;

    // Generating: the passphrase rules are explained before any key is made.
    phone.fill("#passphrase", "12345").await;
    phone.fill("#passphrase-repeat", "12345").await;
    phone.click("#generate-submit").await;
    assert_eq!(
        phone.text_of("#passphrase-error").await,
        "Кодовая фраза должна быть не короче 6 символов."
    );
    phone.fill("#passphrase", PASSPHRASE).await;
    phone.fill("#passphrase-repeat", "касса-смена-2").await;
    phone.click("#generate-submit").await;
    assert_eq!(
        phone.text_of("#passphrase-repeat-error").await,
        "Кодовые фразы не совпадают."
    );
    phone.fill("#passphrase-repeat", PASSPHRASE).await;
    phone.click("#generate-submit").await;

    // Registration follows by itself with the card's code and password.
    phone
        .wait_for_element("#register-result[data-outcome=registered]")
        .await;

    // The key as the phone shows it, with its fingerprint after the '='.
    phone
        .client
        .goto(&format!("{app}settings/keys/view"))
        .await
        .unwrap();
    unlock(&phone).await;
    let on_phone = phone
        .attribute("#key-view", "data-with-fingerprint")
        .await
        .unwrap();
    let fingerprint = phone.text_of("#key-fingerprint").await;
    assert!(
        on_phone.ends_with(&format!("={fingerprint}")),
        "{on_phone} / {fingerprint}"
    );
    assert_eq!(fingerprint.split(' ').count(), 6);

    // Until the dealer certifies the key, the gateway refuses it.
    phone.click("#key-check").await;
    phone
        .wait_for_element("#key-check-result[data-key-state=pending]")
        .await;

    // The dealer, at a desktop: the console lists the key; the fingerprints match; certify, activate.
    let dealer = Browser::start().await;
    // Sensitive actions, and the admin's login, are confirmed with a one-time code from the
    // admin's authenticator.
    let mut authenticator = Authenticator::demo_admin();
    authenticator.start_one_step_back();
    let login_code = authenticator.next_code().await;
    console_log_in(
        &dealer,
        &app,
        "admin@tolem.demo",
        "tolem-admin-demo",
        Some(&login_code),
    )
    .await;
    dealer
        .client
        .goto(&format!("{app}console/keys"))
        .await
        .unwrap();
    let row = format!("tr.key[data-serial='{serial}']");
    let in_console = dealer.text_of(&format!("{row} div.key")).await;
    assert_eq!(
        squash(&in_console),
        squash(&on_phone),
        "the console must show the phone's key"
    );
    let certify = format!("{row}[data-state=pending] form.certify");
    dealer
        .fill(
            &format!("{certify} input[name=otp]"),
            &authenticator.next_code().await,
        )
        .await;
    dealer.click(&format!("{certify} button")).await;
    dealer
        .wait_for_element(&format!("{row}[data-state=certified]"))
        .await;
    let activate = "section.point[data-point='P1001'] form.activate";
    dealer
        .fill(
            &format!("{activate} input[name=otp]"),
            &authenticator.next_code().await,
        )
        .await;
    dealer.click(&format!("{activate} button")).await;
    dealer
        .wait_for_element("section.point[data-point='P1001'][data-active=true]")
        .await;
    dealer.close().await;

    // A signed request from the phone now succeeds.
    phone.eval(RECORD_BALANCE_REQUESTS).await;
    phone.click("#key-check").await;
    phone
        .wait_for_element("#key-check-result[data-key-state=certified]")
        .await;
    let sent = phone
        .eval("return window.__sent[window.__sent.length - 1]")
        .await;
    assert_eq!(
        replay(&phone, &sent).await,
        0,
        "the recorded request is valid while the key is"
    );

    // Delete key: revoked at the gateway and wiped from the phone.
    phone
        .client
        .goto(&format!("{app}settings/keys/delete"))
        .await
        .unwrap();
    unlock(&phone).await;
    phone.click("#delete-confirm").await;
    phone.wait_for_element("#delete-result").await;
    let result = phone.text_of("#delete-result").await;
    assert_eq!(
        phone
            .attribute("#delete-result", "data-revoked")
            .await
            .as_deref(),
        Some("yes"),
        "{result}"
    );
    phone
        .client
        .goto(&format!("{app}settings/keys"))
        .await
        .unwrap();
    phone
        .wait_for_element("#keys-status[data-key-state=none]")
        .await;

    // The very same signed request is refused now: the key is revoked (903).
    assert_eq!(replay(&phone, &sent).await, 903);
    phone.close().await;
}

/// After a page load the key is locked (it lives only in memory): the cashier unlocks it.
async fn unlock(phone: &Browser) {
    phone.fill("#unlock-passphrase", PASSPHRASE).await;
    phone.click("#unlock-submit").await;
    phone
        .wait_for(
            "the key to unlock",
            "return document.querySelector('#unlock-form') === null",
        )
        .await;
}

/// Sends a recorded request again, byte for byte, and returns the gateway's result code.
async fn replay(phone: &Browser, sent: &Value) -> i64 {
    let script = format!(
        r#"const sent = {sent};
           const done = arguments[arguments.length - 1];
           fetch('/api/v1/balance', {{ method: 'POST', headers: sent.headers, body: new Uint8Array(sent.body) }})
             .then(r => r.json()).then(answer => done(answer.code), e => done('error: ' + e));"#
    );
    let code = phone.eval_async(&script).await;
    code.as_i64()
        .unwrap_or_else(|| panic!("no code in the answer: {code}"))
}

/// The key text without the spaces and line breaks a page layout may add.
fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}
