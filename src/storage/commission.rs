//! The point's extra commission per provider (manual §13), set in Settings → Commission: one
//! setting per provider, `commission:<code>`. A provider never set has no extra commission.

use tolem_protocol::commission::CommissionSettings;

use crate::storage::db::{self, StorageError};

fn setting_name(provider: &str) -> String {
    format!("commission:{provider}")
}

/// The settings of `provider`; none (zero commission) when never set or unreadable.
pub async fn load(provider: &str) -> CommissionSettings {
    db::read_value(&setting_name(provider))
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Keeps the settings of `provider`. The caller has validated them.
pub async fn save(provider: &str, settings: &CommissionSettings) -> Result<(), StorageError> {
    db::write_value(&setting_name(provider), settings).await
}
