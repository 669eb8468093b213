//! The README's pictures: what a cashier and a dealer see on a 320 × 640 phone, taken from the
//! real release app, its worker and a real gateway in headless Chromium. Not a test: it writes
//! PNG files into the directory given as its argument (`scripts/screenshots.sh` runs it and
//! commits nothing by itself).
//!
//! Each picture waits for the state a person would wait for before it is taken, so a busy
//! machine gives the same pictures, only later.

use std::path::{Path, PathBuf};

use serde_json::json;
use tolem_e2e::{
    Action, Browser, Console, Fault, Gateway, Phone, Proxy, free_port, kcell_number, path_from_env,
};

#[tokio::main]
async fn main() {
    let out: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .expect("usage: screenshots <directory>");
    std::fs::create_dir_all(&out).expect("the output directory");
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&proxy.url(), &mut console).await;
    let b = &phone.browser;
    as_phone(b).await;

    // The main menu, online.
    open(b, &phone.app, "").await;
    b.wait_for_element(".connection.online").await;
    shot(b, &out, "01-menu").await;

    // The payment form, filled in as the cashier types.
    phone.open_payment_form().await;
    b.fill("#pay-account", "7011234567").await;
    b.fill("#pay-amount", "2000").await;
    shot(b, &out, "02-payment-form").await;

    // The result: accepted, with the gateway's transaction number.
    b.click("#pay-execute").await;
    b.click("#confirm-submit").await;
    b.wait_for_element("#pay-result[data-state=accepted]").await;
    shot(b, &out, "03-payment-accepted").await;
    let paid = b
        .attribute("#pay-result", "data-session")
        .await
        .unwrap_or_default();
    b.click("#pay-new").await;

    // No network: two payments wait on the phone, counted in the top bar.
    proxy.set_fault(Fault::Down);
    for n in 1..=2 {
        phone
            .pay(Action::Defer, &kcell_number(n), &format!("{}", 1_500 * n))
            .await;
    }
    open(b, &phone.app, "").await;
    b.wait_for_element("#outbox-summary[data-count='2']").await;
    b.wait_for_element(".connection.offline").await;
    shot(b, &out, "04-payments-waiting").await;

    // The history, with the waiting ones and the accepted one.
    open(b, &phone.app, "history").await;
    b.wait_for_element("#history-list li.payment[data-state=accepted]")
        .await;
    shot(b, &out, "05-history").await;

    // The receipt of the accepted payment.
    proxy.set_fault(Fault::None);
    open(b, &phone.app, &format!("history/{paid}/receipt")).await;
    b.wait_for_element("#receipt[data-transaction^='D']").await;
    shot(b, &out, "06-receipt").await;

    // The dealer's keys page in the console, on the same narrow screen.
    let c = &console.browser;
    as_phone(c).await;
    c.client
        .goto(&format!("{}console/keys", gateway.url()))
        .await
        .unwrap();
    c.wait_for_element("tr.key[data-state=certified]").await;
    // Past the console's menu, to the keys themselves.
    c.eval("document.querySelector('tr.key[data-state=certified]').scrollIntoView({block: 'center'}); return true")
        .await;
    shot(c, &out, "07-console-keys").await;

    phone.close().await;
    console.close().await;
    println!("screenshots written to {}", out.display());
}

/// A 320 × 640 phone screen at twice the pixel density (what cheap phones have).
async fn as_phone(b: &Browser) {
    b.devtools(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 320, "height": 640, "deviceScaleFactor": 2, "mobile": true }),
    )
    .await;
}

/// Opens `path` of the app and waits for its heading.
async fn open(b: &Browser, app: &str, path: &str) {
    b.client.goto(&format!("{app}{path}")).await.unwrap();
    b.wait_for_element("main h1").await;
}

/// Writes what the screen shows now as `<name>.png`.
async fn shot(b: &Browser, out: &Path, name: &str) {
    // Fonts and images loaded, and no focus ring blinking in the picture.
    b.eval_async(
        "const done = arguments[arguments.length - 1]; \
         document.activeElement?.blur(); document.fonts.ready.then(() => done(true));",
    )
    .await;
    let png = b.client.screenshot().await.expect("a screenshot");
    let path = out.join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
