//! The address in the address bar, followed inside the page: links to the app's own screens
//! change the screen without loading the page again, and *back* and *forward* work as on any
//! site.
//!
//! The app's own few functions rather than leptos_router (issue 14): the app has one level of
//! screens, named by fixed paths with at most one parameter, and every link is an ordinary
//! `<a href>`. The router's nested matching, its `<A>` component and its generic views were
//! 14–26 KiB of the first visit, brotli-compressed.
//!
//! Each address is a fresh screen: [`crate::app`] builds the screen again whenever the path or
//! the query changes, so a screen reads its parameters once, when it is built
//! ([`Address::query`], and the path's parameter as a property).

use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlAnchorElement, MouseEvent};

/// The address of the open screen: the path and the query, as in the address bar
/// (`/pay/kcell?account=…`), without the fragment.
#[derive(Clone, Copy)]
pub struct Address(RwSignal<String>);

impl Address {
    /// The address; a reactive read, so the screen follows it.
    pub fn get(self) -> String {
        self.0.get()
    }

    /// The address, read without following it.
    pub fn get_untracked(self) -> String {
        self.0.get_untracked()
    }

    /// Opens `to`, one of the app's addresses (`/pay/kcell`), as a link to it would.
    pub fn open(self, to: &str) {
        go(to, self);
    }

    /// Takes the address bar's address; the screen is built again only when it differs.
    fn follow_bar(self) {
        let now = current();
        if self.0.with_untracked(|address| *address != now) {
            self.0.set(now);
        }
    }

    /// The value of `name` in the query (`?payment=…`), decoded; read once, when the screen is
    /// built (a new query builds a new screen).
    pub fn query(self, name: &str) -> Option<String> {
        let address = self.0.get_untracked();
        let (_, query) = address.split_once('?')?;
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key) == name).then(|| decode(value))
        })
    }
}

/// The address, from the context [`provide_address`] gives every screen.
pub fn use_address() -> Address {
    expect_context()
}

/// Follows the address bar from here down: links to the app's own addresses, and the browser's
/// *back* and *forward*. The listeners leave with the app when it is unmounted.
pub fn provide_address() -> Address {
    let address = Address(RwSignal::new(current()));
    provide_context(address);
    let back_or_forward = window_event_listener(ev::popstate, move |_| address.follow_bar());
    let link = window_event_listener(ev::click, move |event| follow_link(&event, address));
    on_cleanup(move || {
        back_or_forward.remove();
        link.remove();
    });
    address
}

/// A path's segments, decoded: `/history/abc/receipt` is `["history", "abc", "receipt"]`; a
/// trailing slash makes no segment of its own.
pub fn segments(address: &str) -> Vec<String> {
    let path = address.split_once('?').map_or(address, |(path, _)| path);
    path.split('/')
        .filter(|segment| !segment.is_empty())
        .map(decode)
        .collect()
}

/// A query's `+` is a space, and `%xx` an escaped byte; text that does not decode is kept as it
/// came.
fn decode(text: &str) -> String {
    let text = text.replace('+', " ");
    js_sys::decode_uri_component(&text)
        .ok()
        .and_then(|decoded| decoded.as_string())
        .unwrap_or(text)
}

/// The address bar's path and query.
fn current() -> String {
    let location = window().location();
    location.pathname().unwrap_or_default() + &location.search().unwrap_or_default()
}

/// A click on a link to one of the app's addresses opens it in the page. Everything else is left
/// to the browser: another site, a new tab or window (a modifier key, another button, a
/// `target`), a download, and a jump within the open screen (`#main`).
fn follow_link(event: &MouseEvent, address: Address) {
    if event.default_prevented()
        || event.button() != 0
        || event.meta_key()
        || event.alt_key()
        || event.ctrl_key()
        || event.shift_key()
    {
        return;
    }
    let Some(link) = event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        .and_then(|element| element.closest("a[href]").ok().flatten())
        .and_then(|element| element.dyn_into::<HtmlAnchorElement>().ok())
    else {
        return;
    };
    if !link.target().is_empty() || link.has_attribute("download") {
        return;
    }
    let location = window().location();
    if link.origin() != location.origin().unwrap_or_default() {
        return;
    }
    let to = link.pathname() + &link.search();
    if !link.hash().is_empty() && to == current() {
        return;
    }
    event.prevent_default();
    go(&to, address);
}

/// Opens `to`: a new entry in the browser's history (none when it is the open address), the
/// screen for it, and the top of the page.
fn go(to: &str, address: Address) {
    if to != current() {
        let history = window().history().ok();
        if history
            .and_then(|history| {
                history
                    .push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(to))
                    .ok()
            })
            .is_none()
        {
            // A browser that refuses (a page that is not the app's): load the address instead.
            let _ = window().location().set_href(to);
            return;
        }
    }
    address.follow_bar();
    window().scroll_to_with_x_and_y(0.0, 0.0);
}
