//! What travels between the Tolem cashier app, its service worker and the gateway.
//!
//! Plain data and rules, no I/O: this crate builds for wasm32 (app, worker) and natively (gateway,
//! build tools) alike.

pub mod assets;
pub mod health;

/// Version of the app ↔ gateway protocol; bumped on any incompatible change of what is sent.
pub const PROTOCOL_VERSION: u16 = 1;
