//! A payment point ready to take payments, the way a dealer and a cashier make one: the phone gets
//! the demo point's key card, makes and registers its key, and the dealer admin certifies the key
//! and activates the point in the console with one-time codes (the steps `point_keys.rs` guards
//! one by one). Then the phone pays through its own screens, and the console tells what the
//! gateway holds.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Authenticator, Browser, Engine};

/// The cashier's passphrase for the point key in these tests.
pub const PASSPHRASE: &str = "касса-смена-1";
/// The demo point.
pub const POINT: &str = "P1001";
const POINT_PASSWORD: &str = "tolem-demo-1001";

/// The dealer admin, logged into the console in a browser of their own.
pub struct Console {
    pub browser: Browser,
    app: String,
    authenticator: Authenticator,
}

/// A payment as the gateway holds it (a row of the console's CSV export).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayPayment {
    pub session: String,
    pub account: String,
    /// `accepted` or `rejected`.
    pub status: String,
    pub code: String,
    pub amount_tiyn: i64,
}

/// Logs `email` into the console in `browser`; `code` is the one-time code the login form asks
/// of a user who has set up codes (the demo admin), `None` for one who has not (the clerk).
pub async fn console_log_in(
    browser: &Browser,
    app: &str,
    email: &str,
    password: &str,
    code: Option<&str>,
) {
    browser
        .client
        .goto(&format!("{app}console/login"))
        .await
        .unwrap();
    browser.fill("form#login input[name=email]", email).await;
    browser
        .fill("form#login input[name=password]", password)
        .await;
    if let Some(code) = code {
        browser.fill("form#login #otp", code).await;
    }
    browser.click("form#login button").await;
    browser
        .wait_for(
            "the console after login",
            "return !location.pathname.endsWith('/login')",
        )
        .await;
}

/// Gives `point` a new password from the console (logged in, in `browser`) and returns it, as
/// a dealer does for a second phone: a point password enrols one key.
pub async fn new_point_password(browser: &Browser, app: &str, point: &str) -> String {
    browser
        .client
        .goto(&format!("{app}console/points/{point}"))
        .await
        .unwrap();
    browser.click("form.reset-password button").await;
    browser.text_of("#new-point-password").await
}

impl Console {
    /// Logs the demo admin in with a one-time code. `early_code` lets the login use the
    /// previous step's code, so the next two confirmations need no wait for the clock.
    pub async fn log_in(app: &str, early_code: bool) -> Console {
        let browser = Browser::start().await;
        let mut authenticator = Authenticator::demo_admin();
        if early_code {
            authenticator.start_one_step_back();
        }
        let code = authenticator.next_code().await;
        console_log_in(
            &browser,
            app,
            "admin@tolem.demo",
            "tolem-admin-demo",
            Some(&code),
        )
        .await;
        Console {
            browser,
            app: app.to_owned(),
            authenticator,
        }
    }

    /// Certifies the key `serial` (after the comparison a person would make) and activates the
    /// demo point.
    pub async fn certify_and_activate(&mut self, serial: &str) {
        let b = &self.browser;
        b.client
            .goto(&format!("{}console/keys", self.app))
            .await
            .unwrap();
        let certify = format!("tr.key[data-serial='{serial}'][data-state=pending] form.certify");
        b.fill(
            &format!("{certify} input[name=otp]"),
            &self.authenticator.next_code().await,
        )
        .await;
        b.click(&format!("{certify} button")).await;
        b.wait_for_element(&format!(
            "tr.key[data-serial='{serial}'][data-state=certified]"
        ))
        .await;
        let activate = format!("section.point[data-point='{POINT}'] form.activate");
        b.fill(
            &format!("{activate} input[name=otp]"),
            &self.authenticator.next_code().await,
        )
        .await;
        b.click(&format!("{activate} button")).await;
        b.wait_for_element(&format!(
            "section.point[data-point='{POINT}'][data-active=true]"
        ))
        .await;
    }

    /// Blocks the demo point on its console page, as the dealer would: its phones get 53.
    pub async fn block_point(&mut self) {
        self.switch_point("block", "blocked").await;
    }

    /// Unblocks the demo point.
    pub async fn unblock_point(&mut self) {
        self.switch_point("unblock", "active").await;
    }

    /// Presses the point page's `form` button (with a one-time code) and waits for `state`.
    async fn switch_point(&mut self, form: &str, state: &str) {
        let b = &self.browser;
        b.client
            .goto(&format!("{}console/points/{POINT}", self.app))
            .await
            .unwrap();
        let form = format!("#point form.{form}");
        b.fill(
            &format!("{form} input[name=otp]"),
            &self.authenticator.next_code().await,
        )
        .await;
        b.click(&format!("{form} button")).await;
        b.wait_for_element(&format!("#point[data-state={state}]"))
            .await;
    }

    /// Sets the demo point's offline limits (tenge, tenge, hours).
    pub async fn set_offline_limits(&mut self, max_payment: &str, max_total: &str, hours: &str) {
        let b = &self.browser;
        b.client
            .goto(&format!("{}console/points/{POINT}", self.app))
            .await
            .unwrap();
        b.fill("form#limits #offline_max_payment", max_payment)
            .await;
        b.fill("form#limits #offline_max_total", max_total).await;
        b.fill("form#limits #offline_max_age_hours", hours).await;
        b.fill(
            "form#limits input[name=otp]",
            &self.authenticator.next_code().await,
        )
        .await;
        b.click("form#limits button").await;
        b.wait_for(
            "the saved offline limits",
            &format!(
                "return document.querySelector('#error') === null \
                 && document.querySelector('form#limits #offline_max_age_hours')?.value === {}",
                json!(hours)
            ),
        )
        .await;
    }

    /// The dealer's balance, in tiyn.
    pub async fn balance_tiyn(&self) -> i64 {
        let b = &self.browser;
        b.client
            .goto(&format!("{}console/money", self.app))
            .await
            .unwrap();
        b.attribute("#balance", "data-tiyn")
            .await
            .expect("data-tiyn on #balance")
            .parse()
            .expect("a balance in tiyn")
    }

    /// Every payment the gateway holds for the dealer, as the console's payments page lists them
    /// (its search with no conditions; the page's Content-Security-Policy keeps scripts from
    /// fetching the CSV export, so the table is read as a person reads it).
    pub async fn payments(&self) -> Vec<GatewayPayment> {
        self.payments_matching("").await
    }

    /// The payments whose number contains `account_part` (the page's own search field).
    pub async fn payments_matching(&self, account_part: &str) -> Vec<GatewayPayment> {
        let b = &self.browser;
        b.client
            .goto(&format!(
                "{}console/payments?account={account_part}",
                self.app
            ))
            .await
            .unwrap();
        b.wait_for_element("#found").await;
        let rows = b
            .eval(
                "return [...document.querySelectorAll('tr.payment')].map(tr => {
                   const cells = tr.querySelectorAll('td');
                   return [cells[cells.length - 1].textContent.trim(), cells[4].textContent.trim(),
                           tr.dataset.state, tr.dataset.code, cells[5].textContent];
                 })",
            )
            .await;
        rows.as_array()
            .unwrap_or_else(|| panic!("payments table: {rows}"))
            .iter()
            .map(|row| {
                let cell = |i: usize| row[i].as_str().unwrap_or_default().to_owned();
                GatewayPayment {
                    session: cell(0),
                    account: cell(1),
                    status: cell(2),
                    code: cell(3),
                    // Amounts are printed with two decimals: the digits are the tiyn.
                    amount_tiyn: cell(4)
                        .chars()
                        .filter(char::is_ascii_digit)
                        .collect::<String>()
                        .parse()
                        .unwrap_or(-1),
                }
            })
            .collect()
    }

    pub async fn close(self) {
        self.browser.close().await;
    }
}

/// What the phone showed for a payment it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    pub session: String,
    /// `data-state` of the result: `deferred`, `accepted`, `unknown`, …
    pub state: String,
    /// What the provider is credited (what the dealer's balance moves by).
    pub amount_tiyn: i64,
}

/// The cashier's phone: a browser with the app, a certified key on an active point.
pub struct Phone {
    pub browser: Browser,
    pub app: String,
}

impl Phone {
    /// A phone whose key the dealer has certified, on the activated demo point, with the key
    /// unlocked on the Kcell payment form. `app` is where the phone opens the app (the proxy's
    /// address, for tests that cut the network); the console may talk to the gateway directly.
    pub async fn certified(app: &str, console: &mut Console) -> Phone {
        Phone::certified_in(Engine::Chromium, app, console).await
    }

    /// [`Phone::certified`] in `engine`.
    pub async fn certified_in(engine: Engine, app: &str, console: &mut Console) -> Phone {
        let (phone, serial) = Phone::registered_in(engine, app).await;
        console.certify_and_activate(&serial).await;
        phone.open_payment_form().await;
        phone
    }

    /// A phone that has made and registered its key, which the dealer has not certified yet
    /// (the demo point not activated either), and the key's serial. No page is opened after.
    pub async fn registered(app: &str) -> (Phone, String) {
        Phone::registered_in(Engine::Chromium, app).await
    }

    /// [`Phone::registered`] in `engine`.
    pub async fn registered_in(engine: Engine, app: &str) -> (Phone, String) {
        let browser = Browser::start_in(engine).await;
        browser
            .client
            .goto(&format!("{app}settings/keys/card"))
            .await
            .unwrap();
        browser.fill("#point-code", POINT).await;
        browser.fill("#point-password", POINT_PASSWORD).await;
        browser.click("#card-submit").await;
        let serial = browser.text_of("#card-serial").await;
        browser.click("#card-next").await;
        browser.fill("#passphrase", PASSPHRASE).await;
        browser.fill("#passphrase-repeat", PASSPHRASE).await;
        browser.click("#generate-submit").await;
        browser
            .wait_for_element("#register-result[data-outcome=registered]")
            .await;
        let phone = Phone {
            browser,
            app: app.to_owned(),
        };
        (phone, serial)
    }

    /// Opens the Kcell payment form afresh (a page load: the key locks) and unlocks the key.
    pub async fn open_payment_form(&self) {
        self.browser
            .client
            .goto(&format!("{}pay/kcell", self.app))
            .await
            .unwrap();
        self.browser.wait_for_element("#pay-form").await;
        self.unlock().await;
    }

    /// Unlocks the key with the passphrase where the page offers it.
    pub async fn unlock(&self) {
        self.browser.fill("#unlock-passphrase", PASSPHRASE).await;
        self.browser.click("#unlock-submit").await;
        self.browser
            .wait_for(
                "the key to unlock",
                "return document.querySelector('#unlock-form') === null",
            )
            .await;
    }

    /// Takes a Kcell payment of `amount` tenge (the customer's cash) for `account` from the open
    /// form, with *Defer* or *Execute*, confirms it, waits for the outcome and returns to an
    /// empty form.
    pub async fn pay(&self, action: Action, account: &str, amount: &str) -> Taken {
        let b = &self.browser;
        b.fill("#pay-account", account).await;
        b.fill("#pay-amount", amount).await;
        b.click(action.button()).await;
        b.click("#confirm-submit").await;
        b.wait_for_element("#pay-result[data-session]").await;
        let taken = Taken {
            session: b
                .attribute("#pay-result", "data-session")
                .await
                .unwrap_or_default(),
            state: b
                .attribute("#pay-result", "data-state")
                .await
                .unwrap_or_default(),
            amount_tiyn: b
                .attribute("#pay-result-provider-amount", "data-tiyn")
                .await
                .and_then(|t| t.parse().ok())
                .expect("the provider amount on the result"),
        };
        b.click("#pay-new").await;
        b.wait_for_element("#pay-form").await;
        taken
    }

    /// Tries to defer a payment the offline limits forbid: the form stays, with the reason.
    pub async fn refused_deferral(&self, account: &str, amount: &str) -> String {
        self.refused(Action::Defer, account, amount).await
    }

    /// Tries a payment the offline limits forbid — deferred, or executed while the app knows
    /// the gateway is out of reach: the form stays, with the reason.
    pub async fn refused(&self, action: Action, account: &str, amount: &str) -> String {
        let b = &self.browser;
        b.fill("#pay-account", account).await;
        b.fill("#pay-amount", amount).await;
        b.click(action.button()).await;
        let reason = b.text_of("#pay-limit").await;
        let confirmed = b
            .eval("return document.querySelector('#pay-confirm') !== null")
            .await;
        assert_eq!(
            confirmed,
            Value::Bool(false),
            "no confirmation past a limit"
        );
        reason
    }

    /// `#outbox-summary`'s data: (count, total tiyn, deadline ms or empty).
    pub async fn outbox_summary(&self) -> (usize, i64, String) {
        let b = &self.browser;
        let attr = |name: &'static str| async move {
            b.attribute("#outbox-summary", name)
                .await
                .unwrap_or_default()
        };
        (
            attr("data-count").await.parse().unwrap_or(0),
            attr("data-total-tiyn").await.parse().unwrap_or(0),
            attr("data-deadline-ms").await,
        )
    }

    /// The states of the payments in this phone's IndexedDB history, by session (read the way
    /// the browser's developer tools would; nothing is changed).
    pub async fn states(&self) -> Vec<(String, String)> {
        let script = r#"
            const done = arguments[arguments.length - 1];
            const open = indexedDB.open('tolem');
            open.onerror = () => done('error: ' + open.error);
            open.onsuccess = () => {
              const db = open.result;
              const all = db.transaction('history').objectStore('history').getAll();
              all.onsuccess = () => {
                db.close();
                done(all.result.map(r => [r.session, r.state.kind]));
              };
              all.onerror = () => done('error: ' + all.error);
            };"#;
        let value = self.browser.eval_async(script).await;
        value
            .as_array()
            .unwrap_or_else(|| panic!("history: {value}"))
            .iter()
            .map(|pair| {
                (
                    pair[0].as_str().unwrap_or_default().to_owned(),
                    pair[1].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Waits until the payments of `sessions` are all in `state` (`held`, `accepted`, …) in the
    /// phone's history, and returns every state.
    pub async fn wait_for_states(
        &self,
        sessions: &[&str],
        state: &str,
        patience: Duration,
    ) -> Vec<(String, String)> {
        let deadline = Instant::now() + patience;
        loop {
            let states = self.states().await;
            let all = sessions
                .iter()
                .all(|session| states.iter().any(|(s, st)| s == session && st == state));
            if all {
                return states;
            }
            assert!(
                Instant::now() < deadline,
                "payments not {state} after {patience:?}: {states:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until every payment in the phone's history is in a final state.
    pub async fn wait_until_all_final(&self, patience: Duration) -> Vec<(String, String)> {
        let deadline = Instant::now() + patience;
        loop {
            let states = self.states().await;
            if states
                .iter()
                .all(|(_, state)| state == "accepted" || state == "rejected")
            {
                return states;
            }
            assert!(
                Instant::now() < deadline,
                "payments still not final after {patience:?}: {states:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn close(self) {
        self.browser.close().await;
    }
}

/// The cashier's two ways of taking a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Defer,
    Execute,
}

impl Action {
    /// The pay form's button for it.
    pub fn button(self) -> &'static str {
        match self {
            Action::Defer => "#pay-defer",
            Action::Execute => "#pay-execute",
        }
    }
}

/// A Kcell number for the `n`-th payment of a test: distinct numbers, so no payment is
/// refused as a duplicate of another (code 32).
pub fn kcell_number(n: usize) -> String {
    format!("701{:07}", 1_000_000 + n)
}

/// Fires the browser's own Background Sync event for the outbox in the app's service worker,
/// as Chromium does when it sees the network return (headless Chromium never sees it change).
/// Through DevTools' `ServiceWorker.dispatchSyncEvent`, with the registration id that
/// [`sync_registration_id`] reads.
pub async fn dispatch_sync(browser: &Browser, origin: &str, registration_id: &str) -> Value {
    browser.devtools("ServiceWorker.enable", json!({})).await;
    browser
        .devtools(
            "ServiceWorker.dispatchSyncEvent",
            json!({
                "origin": origin,
                "registrationId": registration_id,
                "tag": "tolem-outbox",
                "lastChance": false,
            }),
        )
        .await
}

/// Closes the app in `browser` (the tab goes to Chromium's service-worker page) and returns the
/// id of the app's worker registration there, which DevTools' sync command needs.
pub async fn sync_registration_id(browser: &Browser, app: &str) -> String {
    browser
        .client
        .goto("chrome://serviceworker-internals/")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = browser.text().await;
        if let Some(id) = registration_in(&text, app) {
            return id;
        }
        assert!(
            Instant::now() < deadline,
            "no registration for {app} on chrome://serviceworker-internals:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The registration id listed after `Scope: <app>` on chrome://serviceworker-internals.
fn registration_in(text: &str, app: &str) -> Option<String> {
    let at = text.find(&format!("Scope: {app}"))?;
    let rest = &text[at..];
    let id_at = rest.find("Registration ID: ")? + "Registration ID: ".len();
    let id: String = rest[id_at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    (!id.is_empty()).then_some(id)
}
