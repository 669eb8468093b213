//! The cashier's settings that live on the phone (the language stays in `localStorage`, read
//! before the first frame; these can wait for IndexedDB).

use std::time::Duration;

use wasm_bindgen::JsValue;

use crate::storage::db::{self, StorageError};

/// How long the app stays unlocked without a touch, unless the cashier chose otherwise.
pub const DEFAULT_AUTO_LOCK: Duration = Duration::from_secs(10 * 60);
/// The idle times the cashier can choose from, in minutes.
pub const AUTO_LOCK_CHOICES_MIN: [u32; 6] = [1, 5, 10, 15, 30, 60];

const AUTO_LOCK_MINUTES: &str = "auto_lock_minutes";

/// The idle time after which the key locks itself.
pub async fn auto_lock() -> Duration {
    db::read_setting(AUTO_LOCK_MINUTES)
        .await
        .ok()
        .flatten()
        .and_then(|value| value.as_f64())
        .filter(|minutes| *minutes >= 1.0)
        .map(|minutes| Duration::from_secs(minutes as u64 * 60))
        .unwrap_or(DEFAULT_AUTO_LOCK)
}

/// Remembers the idle time (whole minutes).
pub async fn set_auto_lock(idle: Duration) -> Result<(), StorageError> {
    let minutes = (idle.as_secs() / 60).max(1);
    db::write_setting(AUTO_LOCK_MINUTES, &JsValue::from(minutes as f64)).await
}
