//! Guards installability: Chromium itself must find nothing wrong with the manifest, icons and
//! service worker, so a cashier gets "Install app" from the browser of any phone.

use serde_json::json;
use tolem_e2e::{Browser, Gateway, free_port, path_from_env};

#[tokio::test(flavor = "multi_thread")]
async fn chromium_accepts_the_app_as_installable() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let browser = Browser::start().await;
    browser.client.goto(&gateway.url()).await.unwrap();
    browser.wait_for_worker().await;

    let manifest = browser.devtools("Page.getAppManifest", json!({})).await;
    assert_eq!(
        manifest["errors"],
        json!([]),
        "manifest errors: {manifest:#}"
    );
    assert!(
        manifest["url"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/manifest.webmanifest")
    );
    let served: serde_json::Value =
        serde_json::from_str(manifest["data"].as_str().unwrap_or("null")).unwrap();
    assert_eq!(served["name"], "Төлем — платёжная точка");
    assert_eq!(served["display"], "standalone");

    let installability = browser
        .devtools("Page.getInstallabilityErrors", json!({}))
        .await;
    assert_eq!(
        installability["installabilityErrors"],
        json!([]),
        "Chromium says: {installability:#}"
    );

    // The theme colour the phone paints its status bar with comes from the page as well.
    let theme = browser
        .eval("return document.querySelector('meta[name=theme-color]').content")
        .await;
    assert_eq!(theme, "#0b6e4f");
    browser.close().await;
}
