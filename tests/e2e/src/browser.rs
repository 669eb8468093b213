//! A headless browser through its WebDriver — Chromium (chromedriver) by default, or Firefox
//! ESR (geckodriver) —, with the waiting helpers the tests need.
//!
//! Firefox matters because it, like Safari, has no Background Sync: the outbox is replayed by
//! the page and the worker's own start, a path Chromium never takes on its own. The DevTools
//! helpers below are Chromium's alone.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::{free_port, path_from_env};

/// How long a test waits for something a person would see before it fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// A browser session; chromedriver (and with it Chromium) stops when this is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

/// Which browser a test drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Debian's Chromium through `CHROMEDRIVER` (binary: `TOLEM_CHROMIUM`).
    Chromium,
    /// Debian's Firefox ESR through `GECKODRIVER` (binary: `TOLEM_FIREFOX`).
    Firefox,
}

impl Browser {
    /// Headless Chromium, the engine most phones run.
    pub async fn start() -> Browser {
        Browser::start_in(Engine::Chromium).await
    }

    /// Headless `engine`, in a phone-sized window (360 × 780).
    pub async fn start_in(engine: Engine) -> Browser {
        let (driver_env, capabilities) = match engine {
            Engine::Chromium => ("CHROMEDRIVER", chromium_capabilities()),
            Engine::Firefox => ("GECKODRIVER", firefox_capabilities()),
        };
        let driver_path = path_from_env(driver_env);
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_path.display()));
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let deadline = Instant::now() + PATIENCE;
        let client = loop {
            let attempt = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await;
            match attempt {
                Ok(client) => break client,
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => panic!("chromedriver did not start a session: {error}"),
            }
        };
        Browser { client, driver }
    }

    /// Runs `script` (a function body; `return` gives the result) in the page.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns `true`, failing with `what` after [`PATIENCE`].
    pub async fn wait_for(&self, what: &str, script: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Value::Bool(true)) = self.client.execute(script, vec![]).await {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What the top bar's connection indicator says now ("online" or "offline"), without
    /// waiting for it to change.
    pub async fn connection(&self) -> Option<String> {
        self.attribute(".connection", "data-connection").await
    }

    /// Waits until the top bar's connection indicator says `state` ("online" or "offline").
    pub async fn wait_for_connection(&self, state: &str) {
        let script = format!(
            "return document.querySelector('.connection')?.dataset.connection === {}",
            json!(state)
        );
        self.wait_for(&format!("the indicator to say {state}"), &script)
            .await;
    }

    /// Waits until the service worker controls the page: it has precached the whole build,
    /// the chunks included, before it takes control.
    pub async fn wait_for_worker(&self) {
        self.wait_for(
            "the service worker to control the page",
            "return !!navigator.serviceWorker.controller",
        )
        .await;
    }

    /// The text a person reads on the page.
    pub async fn text(&self) -> String {
        self.eval("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the page shows `text`.
    pub async fn wait_for_text(&self, text: &str) {
        let script = format!("return document.body.innerText.includes({})", json!(text));
        self.wait_for(&format!("the page to show {text:?}"), &script)
            .await;
    }

    /// Runs a DevTools command in the current page and returns its result.
    pub async fn devtools(&self, command: &'static str, params: Value) -> Value {
        self.client
            .issue_cmd(crate::DevTools { command, params })
            .await
            .unwrap_or_else(|e| panic!("DevTools {command} failed: {e}"))
    }

    /// Makes the current tab see the network go (DevTools network emulation): the browser fires
    /// its own `offline` event, as a phone does when it loses its signal. The outage itself is
    /// the proxy's; [`Browser::network_returns`] ends it.
    pub async fn network_lost(&self) {
        self.emulate_network(true).await;
    }

    /// Makes the current tab see the network go and come back (DevTools network emulation): the
    /// browser fires its own `offline` and `online` events, as a phone does when its signal
    /// returns. Headless Chromium never sees a real change; the outage itself is the proxy's.
    pub async fn network_returns(&self) {
        for offline in [true, false] {
            self.emulate_network(offline).await;
        }
    }

    async fn emulate_network(&self, offline: bool) {
        self.devtools(
            "Network.emulateNetworkConditions",
            json!({
                "offline": offline,
                "latency": 0,
                "downloadThroughput": -1,
                "uploadThroughput": -1,
            }),
        )
        .await;
    }

    /// Runs a DevTools command in the current page; its error as text when it fails.
    pub async fn try_devtools(
        &self,
        command: &'static str,
        params: Value,
    ) -> Result<Value, String> {
        self.client
            .issue_cmd(crate::DevTools { command, params })
            .await
            .map_err(|e| e.to_string())
    }

    /// Runs `script` asynchronously: it finishes by calling `arguments[arguments.length - 1]`.
    pub async fn eval_async(&self, script: &str) -> Value {
        self.client
            .execute_async(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until an element matching `css` is on the page.
    pub async fn wait_for_element(&self, css: &str) {
        let script = format!("return document.querySelector({}) !== null", json!(css));
        self.wait_for(&format!("an element {css}"), &script).await;
    }

    /// The text of the first element matching `css`, once there is one.
    pub async fn text_of(&self, css: &str) -> String {
        self.wait_for_element(css).await;
        let script = format!("return document.querySelector({}).textContent", json!(css));
        self.eval(&script)
            .await
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// An attribute of the first element matching `css`, once there is one.
    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        self.wait_for_element(css).await;
        let script = format!(
            "return document.querySelector({}).getAttribute({})",
            json!(css),
            json!(name)
        );
        self.eval(&script).await.as_str().map(str::to_owned)
    }

    /// Types `text` into the field matching `css` (replacing what is there), as a person would.
    pub async fn fill(&self, css: &str, text: &str) {
        self.wait_for_element(css).await;
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks the element matching `css`. A reactive page may replace the element between finding
    /// and clicking it, so a vanished element is looked up again.
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let attempt = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.click().await.map_err(|e| e.to_string()),
                Err(error) => Err(error.to_string()),
            };
            match attempt {
                Ok(()) => return,
                Err(error) if Instant::now() >= deadline => panic!("cannot click {css}: {error}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Chooses the option `value` of the list matching `css`, as a person taps it; a list
    /// replaced between finding and choosing (a reactive page) is looked up again, like [`click`].
    ///
    /// [`click`]: Browser::click
    pub async fn choose(&self, css: &str, value: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let attempt = match self.client.find(Locator::Css(css)).await {
                Ok(list) => list.select_by_value(value).await.map_err(|e| e.to_string()),
                Err(error) => Err(error.to_string()),
            };
            match attempt {
                Ok(()) => return,
                Err(error) if Instant::now() >= deadline => {
                    panic!("cannot choose {value} in {css}: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    pub async fn close(self) {
        let Browser { client, mut driver } = self;
        let _ = client.close().await;
        let _ = driver.kill();
        let _ = driver.wait();
    }
}

fn chromium_capabilities() -> Value {
    let chromium =
        std::env::var("TOLEM_CHROMIUM").unwrap_or_else(|_| "/usr/lib/chromium/chromium".into());
    json!({
        "goog:chromeOptions": {
            "binary": chromium,
            // Without the background-networking flags Chromium keeps dialling Google on this
            // closed network; --no-sandbox because CI runs as root.
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=360,780"
            ]
        }
    })
}

fn firefox_capabilities() -> Value {
    let firefox = std::env::var("TOLEM_FIREFOX").unwrap_or_else(|_| "/usr/bin/firefox-esr".into());
    json!({
        "browserName": "firefox",
        "moz:firefoxOptions": {
            "binary": firefox,
            "args": ["-headless", "--width=360", "--height=780"],
            // Firefox's own traffic (updates, telemetry, captive-portal and connectivity probes)
            // only waits for timeouts on this closed network. Nothing here changes how the app,
            // its worker or its storage behave.
            "prefs": {
                "app.update.enabled": false,
                "toolkit.telemetry.reportingpolicy.firstRun": false,
                "datareporting.policy.dataSubmissionEnabled": false,
                "network.captive-portal-service.enabled": false,
                "network.connectivity-service.enabled": false,
                "browser.safebrowsing.malware.enabled": false,
                "browser.safebrowsing.phishing.enabled": false,
                "extensions.update.enabled": false
            }
        }
    })
}
