//! Each key's payment numbers: the phone numbers the cash payments a key signs 1, 2, 3…, the
//! number signed inside the `pay` (issue 13 item 5). The gateway keeps every number it
//! receives, so a number below the highest it never received is a payment this phone signed
//! and the gateway never saw — a dealer can ask about it.
//!
//! The last number used is a setting next to the key ([`crate::db::SETTINGS`], one per key
//! serial): it lives and dies with the key, in the same database. A number is taken only in
//! the transaction that stores its payment ([`crate::store::save_numbered`]), so a payment that
//! could not be stored (storage full) leaves no false gap, and two tabs never give one number
//! twice: IndexedDB runs read-write transactions on the same store one after the other.

use wasm_bindgen::JsValue;

use crate::db::{self, StorageError};

/// The setting holding the last number `key_serial` used.
pub fn setting(key_serial: &str) -> String {
    format!("seq:{key_serial}")
}

/// The last number used, as stored (0: none yet).
pub fn last_from(value: Option<JsValue>) -> i64 {
    value.and_then(|v| v.as_f64()).map_or(0, |n| n as i64)
}

/// The number the next payment of `key_serial` would get (another tab may take it first; the
/// store then says so and the payment is signed again with the next one).
pub async fn next(key_serial: &str) -> Result<i64, StorageError> {
    Ok(last_from(db::read_setting(&setting(key_serial)).await?) + 1)
}
