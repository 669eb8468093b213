//! Chrome DevTools Protocol commands through chromedriver's `goog/cdp/execute` endpoint, for what
//! WebDriver cannot ask (such as whether Chromium considers the page an installable app).

use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{Value, json};

/// One DevTools command, e.g. `Page.getInstallabilityErrors`.
#[derive(Debug)]
pub struct DevTools {
    pub command: &'static str,
    pub params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "cmd": self.command, "params": self.params }).to_string()),
        )
    }
}
