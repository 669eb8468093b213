//! Tolem gateway: the processing server the cashier app talks to, the dealer console, and the
//! web server of the app itself.
//!
//! `main.rs` only boots; everything it calls lives here so the tests drive the same code:
//! [`config`] (flags and environment), [`startup`] (logging, binding, serving, shutdown and
//! their errors), [`db`] (pool, migrations, demo data, queries), [`http`] (the router and the
//! signed protocol), [`payments`] (the rules and the transaction of a payment),
//! [`console`] (the dealer console), [`totp`] (its one-time codes), [`audit`] (the
//! hash-chained audit trail), [`commission`] (the dealer's commission, accrued and credited),
//! [`jobs`] (what runs in the background), [`mail`] (signed messages by e-mail: queue,
//! countersignature, delivery, the armored format), [`gateway_key`] (the key that signs answers),
//! [`throttle`] (slowing down password guessing) and [`error`] (what a plain JSON handler can
//! fail with).

pub mod audit;
pub mod commission;
pub mod config;
pub mod console;
pub mod db;
pub mod error;
pub mod gateway_key;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod password;
pub mod payments;
pub mod secrets;
pub mod startup;
pub mod throttle;
pub mod totp;

// The dealer console's translations (`locales/*.yml`), compiled in; Russian when a text is
// missing in the chosen language.
rust_i18n::i18n!("locales", fallback = "ru");

pub use config::Config;
pub use error::Error;
pub use http::{AppState, app};
pub use startup::StartupError;
