//! The provider catalogue as last received from the gateway, kept so the cashier can pay with
//! no network; its `ETag` lets the next refresh cost an empty 304 when nothing changed.

use serde::{Deserialize, Serialize};
use tolem_protocol::messages::Message;
use tolem_protocol::providers::Catalogue;

use crate::storage::db::{self, StorageError};

const CATALOGUE: &str = "catalogue";

/// The catalogue's bytes as the gateway sent them (its signature was checked on arrival).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCatalogue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    pub body: String,
    /// When the phone last heard from the gateway that this is the current catalogue (UTC ms).
    pub checked_at_ms: i64,
}

impl StoredCatalogue {
    /// The catalogue itself; `None` if the stored bytes are not one (then it is fetched anew).
    pub fn catalogue(&self) -> Option<Catalogue> {
        Catalogue::decode(self.body.as_bytes()).ok()
    }
}

/// The stored catalogue, if the phone has one.
pub async fn load() -> Result<Option<StoredCatalogue>, StorageError> {
    db::read_value(CATALOGUE).await
}

/// Keeps a catalogue (replacing the one before).
pub async fn save(stored: &StoredCatalogue) -> Result<(), StorageError> {
    db::write_value(CATALOGUE, stored).await
}
