//! Guards issue 13 item 15 (and the card bill pages of issue 12): in a browser where the cashier
//! app is installed and its service worker controls the origin, the pages the gateway serves
//! itself — the console, the signature check, a card bill's page — still come from the gateway,
//! with their own security headers, never as the app's cached `index.html`.

use tolem_e2e::{Browser, Gateway, free_port, path_from_env};

#[tokio::test(flavor = "multi_thread")]
async fn the_service_worker_leaves_the_gateways_own_pages_alone() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let browser = Browser::start().await;
    browser.client.goto(&gateway.url()).await.unwrap();
    browser.wait_for_worker().await;

    for (path, marker) in [
        ("console/login", "form#login"),
        ("verify", "form#verify"),
        // A damaged bill link: the gateway's own page says so.
        ("bill/not-a-bill", "#bill[data-state='damaged']"),
    ] {
        browser
            .client
            .goto(&format!("{}{path}", gateway.url()))
            .await
            .unwrap();
        // The app's cached index.html would show the app's own "not found" page instead.
        browser.wait_for_element(marker).await;
    }
    browser.close().await;
}
