//! What the phone keeps. The IndexedDB layout is [`tolem_outbox::db`] — one schema for the app
//! and its service worker — re-exported here as `db`; on top of it: the point key
//! (`keystore`), the cashier's settings, the provider catalogue, the extra commission per
//! provider and the last balance. Payments themselves are [`tolem_outbox::store`]'s.

pub use tolem_outbox::db;

pub mod balance;
pub mod catalogue;
pub mod commission;
pub mod keystore;
pub mod settings;

pub use db::StorageError;
