//! Noticing that the browser cleared the phone's storage (issue 13 item 5).
//!
//! Browsers may evict a site's IndexedDB (storage pressure, "clear site data", Safari's
//! seven-day rule), and with it every deferred payment — silently: the app simply finds an
//! empty outbox. To tell "never had an outbox" from "lost it", the phone keeps two things:
//!
//! - a *canary* record in IndexedDB ([`CANARY`] in the settings store), planted when the phone
//!   first has a key, naming that key;
//! - a *marker* outside IndexedDB (the app keeps it in `localStorage`) saying an outbox existed,
//!   for which key.
//!
//! Marker present, canary gone: the outbox was there and vanished ([`Verdict::Lost`]). The app
//! then says so loudly and tells the gateway on its next signed request. The marker can be
//! evicted too (the spec evicts a site's storage as a whole); then nothing is noticed here — the
//! gateway still sees the gaps in the key's payment numbers ([`crate::sequence`]).

use serde::{Deserialize, Serialize};

use crate::db::{self, StorageError};

/// The canary's setting.
pub const CANARY: &str = "canary";

/// The canary and the marker both: which key's outbox, since when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planted {
    pub key_serial: String,
    pub since_ms: i64,
}

/// What the phone's storage says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The canary is where it should be.
    Intact,
    /// The marker says an outbox existed and the canary is gone: the outbox was cleared.
    Lost(Planted),
    /// No canary and no marker, and the phone has a key: plant both.
    Plant,
    /// No key, no canary, no marker: nothing to watch yet.
    Nothing,
}

/// Judges the storage from the marker, the canary and whether the phone has a key.
pub fn judge(marker: Option<&Planted>, canary: Option<&Planted>, has_key: bool) -> Verdict {
    match (marker, canary) {
        (_, Some(_)) => Verdict::Intact,
        (Some(marker), None) => Verdict::Lost(marker.clone()),
        (None, None) if has_key => Verdict::Plant,
        (None, None) => Verdict::Nothing,
    }
}

/// The canary, if it is there.
pub async fn read() -> Result<Option<Planted>, StorageError> {
    db::read_value(CANARY).await
}

/// Plants the canary for `key_serial`.
pub async fn plant(planted: &Planted) -> Result<(), StorageError> {
    db::write_value(CANARY, planted).await
}

/// Removes the canary: the key was deleted on purpose, nothing was lost.
pub async fn remove() -> Result<(), StorageError> {
    let database = db::open().await?;
    let transaction = database.transaction(&[db::SETTINGS], idb::TransactionMode::ReadWrite)?;
    transaction
        .object_store(db::SETTINGS)?
        .delete(idb::Query::Key(wasm_bindgen::JsValue::from_str(CANARY)))?
        .await?;
    db::finish(transaction).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_without_its_canary_is_a_lost_outbox() {
        let planted = Planted {
            key_serial: "P1001-1".into(),
            since_ms: 1,
        };
        assert_eq!(judge(Some(&planted), Some(&planted), true), Verdict::Intact);
        assert_eq!(
            judge(Some(&planted), None, false),
            Verdict::Lost(planted.clone())
        );
        assert_eq!(judge(None, None, true), Verdict::Plant);
        assert_eq!(judge(None, None, false), Verdict::Nothing);
        assert_eq!(judge(None, Some(&planted), true), Verdict::Intact);
    }
}
