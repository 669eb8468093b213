//! Guards the dealer console's layout on a desktop: at 1280 × 900 and at 1024 × 768 no console
//! page is wider than the window (a wide table scrolls inside its own box, never the page),
//! and on the keys page a pending key's *Certify* button — with its one-time code field — is
//! on screen at 1280 px, and at 1024 px on screen or reachable by scrolling its table's box.

use serde_json::{Value, json};
use tolem_e2e::{
    Authenticator, Browser, Gateway, POINT, console_log_in, free_port, new_point_password,
    path_from_env, register_pending_key,
};

/// The demo point's password, as the `--demo` banner prints it.
const POINT_PASSWORD: &str = "tolem-demo-1001";

/// Every page of the dealer console a dealer's user opens.
const PAGES: [&str; 10] = [
    "console/keys",
    "console/points",
    "console/points/P1001",
    "console/money",
    "console/operations",
    "console/payments",
    "console/messages",
    "console/audit",
    "console/totp",
    "console/password",
];

/// Makes the page's viewport `width` × `height` CSS pixels, as a desktop window of that size.
async fn window(browser: &Browser, width: u32, height: u32) {
    browser
        .devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
}

/// How far the page reaches to the right of the window, in CSS pixels (0 = it fits).
async fn overflow(browser: &Browser) -> i64 {
    browser
        .eval("return document.documentElement.scrollWidth - window.innerWidth")
        .await
        .as_i64()
        .expect("a number")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_console_page_fits_1280_and_1024_pixels() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let app = gateway.url();

    let browser = Browser::start().await;
    let mut authenticator = Authenticator::demo_admin();
    let code = authenticator.next_code().await;
    console_log_in(
        &browser,
        &app,
        "admin@tolem.demo",
        "tolem-admin-demo",
        Some(&code),
    )
    .await;
    // Two phones of the demo point registered their keys: two pending rows with their forms,
    // the warning about them and the "Activate point" button, the widest the keys page gets.
    // A password enrols one key: the second phone gets a new one from the dealer.
    register_pending_key(&browser, &app, POINT, POINT_PASSWORD, 1).await;
    let password = new_point_password(&browser, &app, POINT).await;
    register_pending_key(&browser, &app, POINT, &password, 2).await;

    for (width, height) in [(1280, 900), (1024, 768)] {
        window(&browser, width, height).await;
        for page in PAGES {
            browser.client.goto(&format!("{app}{page}")).await.unwrap();
            browser.wait_for_element("main h1").await;
            assert_eq!(
                browser
                    .eval("return document.querySelector('#error') === null")
                    .await,
                Value::Bool(true),
                "{page} shows an error: {}",
                browser.text().await
            );
            assert_eq!(
                browser.eval("return window.innerWidth").await,
                json!(width),
                "the window is {width} px wide"
            );
            let over = overflow(&browser).await;
            assert!(
                over <= 0,
                "{page} at {width} × {height} is {over} px wider than the window"
            );
        }

        // The keys page: each pending key's certify form is there, and its button reachable.
        browser
            .client
            .goto(&format!("{app}console/keys"))
            .await
            .unwrap();
        browser
            .wait_for_element("tr.key[data-state=pending] form.certify button")
            .await;
        let reach = browser
            .eval(
                "return [...document.querySelectorAll('tr.key[data-state=pending] form.certify')]
                   .map(form => {
                     const button = form.querySelector('button').getBoundingClientRect();
                     const otp = form.querySelector('input[name=otp]').getBoundingClientRect();
                     const box = form.closest('div.table-scroll');
                     const scrolls = box !== null && getComputedStyle(box).overflowX === 'auto'
                       && box.getBoundingClientRect().right <= window.innerWidth;
                     return {
                       on_screen: button.left >= 0 && button.right <= window.innerWidth
                         && otp.left >= 0 && otp.right <= window.innerWidth,
                       scrolls,
                     };
                   })",
            )
            .await;
        let forms = reach.as_array().expect("a list");
        assert_eq!(forms.len(), 2, "two pending keys: {reach}");
        for form in forms {
            if width >= 1280 {
                assert_eq!(
                    form["on_screen"],
                    Value::Bool(true),
                    "at {width} px the certify button and its code field are on screen: {reach}"
                );
            } else {
                assert!(
                    form["on_screen"] == Value::Bool(true) || form["scrolls"] == Value::Bool(true),
                    "at {width} px the certify button is on screen or in a box that scrolls: \
                     {reach}"
                );
            }
        }
    }
    browser.close().await;
}
