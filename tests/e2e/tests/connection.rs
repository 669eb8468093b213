//! Guards the connection indicator against the lies of mobile networks: a captive portal answers
//! every request with a 200 login page, and the app must still say "no connection" — only the
//! gateway's own health answer means online.

use tolem_e2e::{Browser, Fault, Gateway, Proxy, free_port, path_from_env};

#[tokio::test(flavor = "multi_thread")]
async fn a_captive_portal_is_not_mistaken_for_the_gateway() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    let phone = Browser::start().await;

    phone.client.goto(&proxy.url()).await.unwrap();
    phone.wait_for_worker().await;
    phone.wait_for_connection("online").await;

    proxy.set_fault(Fault::CaptivePortal);
    phone.client.refresh().await.unwrap();
    phone.wait_for_text("Провайдеры и платежи").await; // the shell comes from the worker's cache
    phone.wait_for_connection("offline").await;
    phone.wait_for_text("Нет связи").await;

    proxy.set_fault(Fault::None);
    phone.client.refresh().await.unwrap();
    phone.wait_for_connection("online").await;
    phone.close().await;
}
