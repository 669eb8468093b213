//! Guards signed letters in the outbox (manual §16): a letter written with the network down is
//! signed and kept on the phone; with the app closed and the network back, the service worker
//! sends it on the browser's Background Sync, and the gateway queues it for e-mail exactly once.
//!
//! Real parts only: the release build and its worker in Chromium, the gateway binary and its
//! console, and a proxy that drops every connection for the outage.

use std::time::{Duration, Instant};

use tolem_e2e::{
    Console, Fault, Gateway, Phone, Proxy, dispatch_sync, free_port, path_from_env,
    sync_registration_id,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_letter_written_offline_is_sent_once_by_the_worker() {
    let started = Instant::now();
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&proxy.url(), &mut console).await;
    let b = &phone.browser;

    proxy.set_fault(Fault::Down);
    b.client
        .goto(&format!("{}message", phone.app))
        .await
        .unwrap();
    phone.unlock().await;
    b.fill("#message-to", "dealer@tolem.kz").await;
    b.fill("#message-text", "Касса открыта, смена 2").await;
    b.click("#message-send").await;
    b.wait_for_element("#message-result[data-session]").await;
    let state = b.attribute("#message-result", "data-state").await.unwrap();
    assert!(
        state == "deferred" || state == "unknown",
        "waits in the outbox: {state}"
    );
    b.wait_for_element("#message-list li.letter").await;
    assert_eq!(proxy.delivered("/api/v1/message"), 0);

    // The app is closed; the network returns; the browser fires the sync in the worker.
    let registration = sync_registration_id(b, &phone.app).await;
    proxy.set_fault(Fault::None);
    dispatch_sync(b, phone.app.trim_end_matches('/'), &registration).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let console_browser = &console.browser;
    let rows = loop {
        console_browser
            .client
            .goto(&format!("{}console/messages", gateway.url()))
            .await
            .unwrap();
        let rows = console_browser
            .eval("return document.querySelectorAll('tr.message').length")
            .await
            .as_u64()
            .unwrap_or(0);
        if rows > 0 || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(rows, 1, "the gateway queued the letter once");
    assert_eq!(proxy.delivered("/api/v1/message"), 1, "sent once");

    // Back in the app, the letter is shown as taken by the gateway.
    b.client
        .goto(&format!("{}message", phone.app))
        .await
        .unwrap();
    b.wait_for_element("#message-list li.letter[data-state=accepted]")
        .await;

    phone.close().await;
    console.close().await;
    eprintln!("took {:?}", started.elapsed());
}
