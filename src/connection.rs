//! Whether the gateway can be reached right now.
//!
//! `navigator.onLine` alone lies on phones: it says "online" behind a captive portal, on a dead
//! cell or when the gateway is down. So the app trusts it only for "offline", and otherwise asks
//! the gateway's health endpoint — on start, when the browser says the network is back, when the
//! cashier returns to the tab, and every half minute while the page is visible (a few hundred
//! bytes, affordable on a 128 kbit/s plan).

use std::time::Duration;

use leptos::ev;
use leptos::prelude::*;
use tolem_protocol::health::Health;

use crate::task::spawn_in_own_task;

/// How often a visible page re-checks the gateway.
const CHECK_EVERY: Duration = Duration::from_secs(30);
/// A health answer slower than this counts as no connection: the cashier should not wait for it.
const CHECK_TIMEOUT_MS: u32 = 8_000;

/// What the connection indicator shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// The gateway answered its last health check.
    Online,
    /// The browser has no network, or the gateway did not answer.
    Offline,
}

/// Read access to the connection state, shared through context.
#[derive(Clone, Copy)]
pub struct ConnectionState(pub ReadSignal<Connection>);

/// Starts watching the connection and provides [`ConnectionState`] to the app.
pub fn provide_connection() {
    let (connection, set_connection) = signal(browser_connection());
    provide_context(ConnectionState(connection));

    let check = move || spawn_in_own_task(async move { set_connection.set(check_gateway().await) });
    check();

    let online = window_event_listener(ev::online, move |_| check());
    let offline = window_event_listener(ev::offline, move |_| {
        set_connection.set(Connection::Offline)
    });
    let visible = window_event_listener(ev::visibilitychange, move |_| {
        if page_visible() {
            check();
        }
    });
    let periodic = set_interval_with_handle(
        move || {
            if page_visible() {
                check();
            }
        },
        CHECK_EVERY,
    )
    .ok();
    on_cleanup(move || {
        online.remove();
        offline.remove();
        visible.remove();
        if let Some(handle) = periodic {
            handle.clear();
        }
    });
}

/// The connection state from context, for components that show or depend on it.
pub fn use_connection() -> ReadSignal<Connection> {
    expect_context::<ConnectionState>().0
}

/// What the browser alone can tell: only its "offline" is trustworthy.
fn browser_connection() -> Connection {
    if window().navigator().on_line() {
        Connection::Online
    } else {
        Connection::Offline
    }
}

fn page_visible() -> bool {
    document().visibility_state() == web_sys::VisibilityState::Visible
}

/// Asks the gateway whether it is up: only its own health answer counts. A captive portal
/// answers 200 with a login page, so a 2xx alone proves nothing.
async fn check_gateway() -> Connection {
    if browser_connection() == Connection::Offline {
        return Connection::Offline;
    }
    let timeout = web_sys::AbortSignal::timeout_with_u32(CHECK_TIMEOUT_MS);
    let request = gloo_net::http::Request::get("/api/health")
        .cache(web_sys::RequestCache::NoStore)
        .abort_signal(Some(&timeout));
    let Ok(response) = request.send().await else {
        return Connection::Offline;
    };
    let Ok(body) = response.binary().await else {
        return Connection::Offline;
    };
    // Its time is not believed (see `tolem_outbox::clock`): the health answer is unsigned.
    match tolem_protocol::json::from_bytes::<Health>(&body) {
        Ok(health) if response.ok() && health.status == "ok" => Connection::Online,
        _ => Connection::Offline,
    }
}
