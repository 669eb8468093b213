//! Whether the gateway can be reached right now.
//!
//! `navigator.onLine` alone lies on phones: it says "online" behind a captive portal, on a dead
//! cell or when the gateway is down. So the app trusts it only for "offline", and otherwise asks
//! the gateway's health endpoint — on start, when the browser says the network is back, when the
//! cashier returns to the tab, and every half minute while the page is visible (a few hundred
//! bytes, affordable on a 128 kbit/s plan) — and at once when a payment sent got no answer
//! ([`ConnectionState::doubt`], [`ConnectionState::recheck`]): a dead cell fires no `offline`
//! event, and the cashier's next payment must not wait half a minute to be held to the offline
//! limits. A payment the gateway answered says it can be reached ([`ConnectionState::answered`]).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use leptos::ev;
use leptos::prelude::*;

use crate::task::spawn_in_own_task;

/// How often a visible page re-checks the gateway.
const CHECK_EVERY: Duration = Duration::from_secs(30);

/// What the connection indicator shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// The gateway answered its last health check.
    Online,
    /// The browser has no network, or the gateway did not answer.
    Offline,
}

/// The connection state, shared through context: read by whatever shows or depends on it, and
/// doubted by a send that got no answer.
#[derive(Clone, Copy)]
pub struct ConnectionState(pub ReadSignal<Connection>, WriteSignal<Connection>);

/// How many times the app learned of the connection besides a health check (a payment's answer
/// or its lack, the browser going offline): a check asked before the latest of those answers
/// with older news, and is not shown. One count for the page, as there is one connection state.
static NEWS: AtomicU32 = AtomicU32::new(0);

impl ConnectionState {
    /// The cashier's payment just got no answer from the gateway: the app says "no connection"
    /// at once — so the result and the top bar agree, and the next payment is held to the
    /// offline limits — and asks the gateway's health again, which says "online" if it was only
    /// that one request.
    pub fn doubt(self) {
        self.learned(Connection::Offline);
        self.recheck();
    }

    /// The gateway just answered a payment: it can be reached, whatever the last health check
    /// said — the top bar says so now, not at the next half minute.
    pub fn answered(self) {
        self.learned(Connection::Online);
    }

    /// Shows what the app learned outside a health check; a check already on its way, asked
    /// before this, is not shown when it answers (a gateway that answered its health before a
    /// payment found the link dead would turn the top bar back to "online").
    fn learned(self, connection: Connection) {
        NEWS.fetch_add(1, Ordering::Relaxed);
        self.1.set(connection);
    }

    /// Asks the gateway's health now and shows the answer: the watch's own checks, and a page
    /// replay that got no decision. (That replay does not [`Self::doubt`]: a health answer back
    /// to "online" starts a replay, and a gateway that answers its health but not payments
    /// would start one after another.)
    pub fn recheck(self) {
        let asked_after = NEWS.load(Ordering::Relaxed);
        spawn_in_own_task(async move {
            let answer = check_gateway().await;
            if NEWS.load(Ordering::Relaxed) == asked_after {
                self.1.set(answer);
            }
        });
    }
}

/// Starts watching the connection and provides [`ConnectionState`] to the app.
pub fn provide_connection() {
    let (connection, set_connection) = signal(browser_connection());
    let state = ConnectionState(connection, set_connection);
    provide_context(state);

    let check = move || state.recheck();
    check();

    let online = window_event_listener(ev::online, move |_| check());
    let offline = window_event_listener(ev::offline, move |_| state.learned(Connection::Offline));
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
    use_connection_state().0
}

/// The connection state from context, for what sends to the gateway and may doubt it.
pub fn use_connection_state() -> ConnectionState {
    expect_context::<ConnectionState>()
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

/// Asks the gateway whether it is up, as the replayer does before it sends (the same request:
/// only the gateway's own health answer counts, not a captive portal's 200).
async fn check_gateway() -> Connection {
    if tolem_outbox::transport::gateway_reachable().await {
        Connection::Online
    } else {
        Connection::Offline
    }
}
