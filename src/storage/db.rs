//! The layout of the app's IndexedDB database: its name, version and object stores.
//!
//! Everything the phone must not lose lives here, not in `localStorage` (which browsers may drop,
//! and which Odoo's point of sale lost orders from). All stores exist from version 1 so later
//! features (the outbox of deferred payments, the history) need no version bump.

use idb::{
    Database, DatabaseEvent, Factory, KeyPath, ObjectStoreParams, Transaction, TransactionMode,
};
use wasm_bindgen::JsValue;

/// The database's name.
pub const DB_NAME: &str = "tolem";
/// Its schema version; bumped only together with a new branch in [`upgrade`].
pub const DB_VERSION: u32 = 1;

/// The point's key records (encrypted), keyed by key serial.
pub const KEYS: &str = "keys";
/// Payments waiting to be sent, keyed by session id.
pub const OUTBOX: &str = "outbox";
/// Payments made, keyed by session id.
pub const HISTORY: &str = "history";
/// Small settings and counters, keyed by name (out-of-line keys).
pub const SETTINGS: &str = "settings";

/// Why the phone's storage could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The browser offers no IndexedDB (private mode in some browsers, or blocked by policy).
    #[error("the browser's storage is not available: {0}")]
    Unavailable(String),
    /// A read or write failed (disk full, the record damaged, a newer app version's database).
    #[error("the browser's storage failed: {0}")]
    Failed(String),
}

impl From<idb::Error> for StorageError {
    fn from(error: idb::Error) -> Self {
        StorageError::Failed(error.to_string())
    }
}

/// An open connection, closed when dropped so a newer app version's upgrade is never blocked
/// by a connection this version forgot.
pub struct Connection(Database);

impl std::ops::Deref for Connection {
    type Target = Database;
    fn deref(&self) -> &Database {
        &self.0
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Closes once running transactions finish; nothing is cut short.
        self.0.close();
    }
}

/// Opens the database, creating or upgrading its stores first when needed.
pub async fn open() -> Result<Connection, StorageError> {
    let factory = Factory::new().map_err(|e| StorageError::Unavailable(e.to_string()))?;
    let mut request = factory
        .open(DB_NAME, Some(DB_VERSION))
        .map_err(|e| StorageError::Unavailable(e.to_string()))?;
    request.on_upgrade_needed(|event| {
        if let Ok(database) = event.database() {
            let old_version = event.old_version().unwrap_or(0);
            upgrade(&database, old_version);
        }
    });
    Ok(Connection(request.await?))
}

/// Creates what each version added, from the version the phone has up to [`DB_VERSION`].
fn upgrade(database: &Database, old_version: u32) {
    if old_version < 1 {
        let keyed_by = |path: &str| {
            let mut params = ObjectStoreParams::new();
            params.key_path(Some(KeyPath::new_single(path)));
            params
        };
        // A failure here aborts the upgrade transaction, and `open` reports it.
        let _ = database.create_object_store(KEYS, keyed_by("key_serial"));
        let _ = database.create_object_store(OUTBOX, keyed_by("session"));
        let _ = database.create_object_store(HISTORY, keyed_by("session"));
        let _ = database.create_object_store(SETTINGS, ObjectStoreParams::new());
    }
}

/// Reads one setting (`None` when it was never written).
pub async fn read_setting(name: &str) -> Result<Option<JsValue>, StorageError> {
    let db = open().await?;
    let transaction = db.transaction(&[SETTINGS], TransactionMode::ReadOnly)?;
    let value = transaction
        .object_store(SETTINGS)?
        .get(JsValue::from_str(name))?
        .await?;
    finish(transaction).await?;
    Ok(value)
}

/// Writes one setting.
pub async fn write_setting(name: &str, value: &JsValue) -> Result<(), StorageError> {
    let db = open().await?;
    let transaction = db.transaction(&[SETTINGS], TransactionMode::ReadWrite)?;
    transaction
        .object_store(SETTINGS)?
        .put(value, Some(&JsValue::from_str(name)))?
        .await?;
    finish(transaction).await
}

/// Commits a transaction and waits until it is durable; an aborted one is an error (idb reports
/// an abort as a normal outcome, which would let a lost write pass for a saved one).
pub async fn finish(transaction: Transaction) -> Result<(), StorageError> {
    if transaction.commit()?.await?.is_committed() {
        Ok(())
    } else {
        Err(StorageError::Failed("the transaction was aborted".into()))
    }
}

/// Asks the browser to keep this site's storage even when the phone runs short of space. Browsers
/// may say no (Chromium decides by engagement, an installed app usually gets it); the answer
/// changes nothing in how the app works, so it is not waited for.
pub fn ask_for_persistent_storage() {
    if let Ok(storage) =
        js_sys::Reflect::get(&leptos::prelude::window().navigator(), &"storage".into())
        && !storage.is_undefined()
    {
        let manager: web_sys::StorageManager = wasm_bindgen::JsCast::unchecked_into(storage);
        let _ = manager.persist();
    }
}
