//! Tolem gateway: the processing server the cashier app talks to, the dealer console, and the
//! web server of the app itself.
//!
//! `main.rs` only boots; everything it calls lives here so the tests drive the same code:
//! [`config`] (flags and environment), [`startup`] (logging, binding, serving, shutdown and
//! their errors), [`db`] (pool, migrations, demo data), [`http`] (the router) and [`error`]
//! (what an API handler can fail with).

pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod password;
pub mod startup;

pub use config::Config;
pub use error::Error;
pub use http::{AppState, app};
pub use startup::StartupError;
