//! What the phone keeps: IndexedDB's layout (`db`), and the point key on top of it (`keystore`).

pub mod db;
pub mod keystore;
pub mod settings;

pub use db::StorageError;
