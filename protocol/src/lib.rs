//! What travels between the Tolem cashier app, its service worker and the gateway, and how it
//! is signed.
//!
//! Plain data and rules, no I/O: this crate builds for wasm32 (app, worker) and natively (gateway,
//! build tools) alike.
//!
//! - [`codes`]: the result codes (Cyberplat's numbers where one exists) with their messages in
//!   Russian, Kazakh and English.
//! - [`keys`]: Ed25519 point and gateway keys, their text form and fingerprints.
//! - [`signing`]: signatures over the exact bytes that are sent, and the HTTP headers that carry them.
//! - [`messages`]: every request and response, from the key card to a signed message.
//! - [`batch`]: many stored signed payments in one request, each answered on its own.
//! - [`bill`]: the link (QR code) that carries a signed bill to the gateway on the customer's phone.
//! - [`ids`]: session ids and the codes of dealers, points and cashiers.
//! - [`json`]: JSON bytes read as text, so the app's module holds one reader per type.
//! - [`names`]: enums of unit variants read by name, through one reader for them all.

pub mod account;
pub mod assets;
pub mod batch;
pub mod bill;
pub mod codes;
pub mod commission;
pub mod health;
pub mod ids;
pub mod json;
pub mod keys;
pub mod messages;
pub mod names;
#[cfg(feature = "openapi")]
pub mod openapi;
mod outcome_wire;
pub mod providers;
pub mod receipt;
pub mod shift;
pub mod signing;

/// Version of the app ↔ gateway protocol; bumped on any incompatible change of what is sent.
pub const PROTOCOL_VERSION: u16 = 1;
