//! Tolem cashier app: an offline-first payment point that runs in a phone's browser.
//!
//! Layout: `app` wires the page frame and the screen for each address; `pages/` holds one module
//! per screen of the main menu (`pages/keys/` the point-key screens); `components/` the pieces
//! every page shares (header, connection indicator, key lock, update prompt, unlock form, QR
//! code); `language`, `routing` (the address bar), `connection` and `service_worker` are the
//! app's links to the browser.
//!
//! The point key: `storage/` keeps it in IndexedDB (`db` the layout, `keystore` the key record),
//! `crypto/` seals its seed under the passphrase with WebCrypto, `session` holds it unlocked in
//! memory for a shift, `api/` signs requests with it and checks the gateway's answers, and
//! `messages` says what went wrong in the cashier's language.
//!
//! Payments: `catalogue` keeps the provider list (offline too), `money` and `format` read and
//! write amounts, numbers and times, `payments` signs, stores and sends payments through the
//! shared `tolem_outbox` crate (which the service worker uses too), `outbox` shows what waits and
//! replays it while the app is open, `deliveries` follows accepted payments to their provider, and
//! `balance` keeps the dealer's balance.

pub mod i18n;

// Defined before the modules so they all see it by name.
/// `tr!(key)`: the catalogue text `key` in the current language; see [`language::text`].
#[macro_export]
macro_rules! tr {
    ($key:ident) => {
        $crate::language::text(|locale| $crate::i18n::td_string!(locale, $key))
    };
}

pub mod api;
pub mod app;
pub mod balance;
pub mod canary;
pub mod components;
pub mod connection;
pub mod crypto;
pub mod deliveries;
pub mod download;
pub mod format;
pub mod language;
pub mod messages;
pub mod money;
pub mod outbox;
pub mod pages;
pub mod payments;
pub mod providers;
pub mod routing;
pub mod service_worker;
pub mod session;
pub mod storage;
pub mod task;

pub use app::App;
