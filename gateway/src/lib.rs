//! Tolem gateway: the processing server the cashier app talks to, the dealer console, and the
//! web server of the app itself.
//!
//! `main.rs` only boots; everything it calls lives here so the tests drive the same code:
//! [`config`] (flags and environment), [`startup`] (logging, binding, serving, shutdown and
//! their errors), [`db`] (pool, migrations, demo data, queries), [`http`] (the router and the
//! signed protocol), [`payments`] (the rules and the transaction of a payment),
//! [`console`] (the dealer console), [`totp`] (its one-time codes), [`audit`] (the
//! hash-chained audit trail), [`commission`] (the dealer's commission, accrued and credited),
//! [`delivery`] (carrying accepted payments to their providers, and reversing refusals),
//! [`jobs`] (what runs in the background), [`mail`] (signed messages by e-mail: queue,
//! countersignature, delivery, the armored format), [`gateway_key`] (the key that signs answers),
//! [`throttle`] (slowing down password guessing), [`tls`] (HTTPS served by the gateway
//! itself), [`lan`] (trying it on a phone: a local certificate authority, a QR code) and [`error`] (what a plain JSON handler can
//! fail with).

// Above the faces: the state they share and the router that mounts them.
pub mod app;
pub mod state;

// The faces: JSON API, console pages, public pages (the CLI is `main.rs` + `cli`), and what
// they share at the HTTP level.
pub mod cli;
pub mod console;
pub mod http;
pub mod public;
pub mod web;

// The domain, below every face.
pub mod audit;
pub mod card;
pub mod commission;
pub mod db;
pub mod dealer;
pub mod delivery;
pub mod display;
pub mod gateway_key;
pub mod jobs;
pub mod lan;
pub mod mail;
pub mod metrics;
pub mod operator;
pub mod password;
pub mod payments;
pub mod secrets;
pub mod sender;
pub mod shift;
pub mod throttle;
pub mod totp;
pub mod users;

// Booting.
pub mod config;
pub mod error;
pub mod startup;
pub mod tls;

// The dealer console's translations (`locales/*.yml`), compiled in; Russian when a text is
// missing in the chosen language.
rust_i18n::i18n!("locales", fallback = "ru");

pub use app::app;
pub use config::Config;
pub use error::Error;
pub use startup::StartupError;
pub use state::AppState;
