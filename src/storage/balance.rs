//! The last balance the gateway gave (manual §15), with when it came, so the screen still shows
//! it — and how old it is — with no network.

use serde::{Deserialize, Serialize};
use tolem_protocol::messages::BalanceInfo;

use crate::storage::db::{self, StorageError};

const BALANCE: &str = "balance";

/// A balance answer and the time it was received (UTC milliseconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBalance {
    pub info: BalanceInfo,
    pub fetched_at_ms: i64,
}

/// The last balance, if the phone ever got one.
pub async fn load() -> Result<Option<StoredBalance>, StorageError> {
    db::read_value(BALANCE).await
}

pub async fn save(balance: &StoredBalance) -> Result<(), StorageError> {
    db::write_value(BALANCE, balance).await
}
