//! The layout of Tolem's IndexedDB database: its name, version and object stores — the one
//! schema the cashier app and the service worker both open.
//!
//! Versions: 1 — keys, outbox, history, settings; 2 — letters (signed messages that wait in the
//! outbox like payments); 3 — shifts (the cashier's shift reports, [`crate::shift`], which wait
//! in the outbox until the gateway has them). A build older than a version cannot open the
//! database at all, so [`crate::compat`] already keeps its worker from taking over while
//! anything waits: a shift report's outbox entry needed no new format.
//!
//! Everything the phone must not lose lives here, not in `localStorage` (which browsers may drop,
//! which a service worker cannot read, and which Odoo's point of sale lost orders from).
//!
//! Works in a page and in a service worker alike: IndexedDB is reached through the global scope,
//! never through `window`.

use idb::{
    Database, DatabaseEvent, Factory, KeyPath, ObjectStoreParams, Transaction, TransactionMode,
};
use wasm_bindgen::{JsCast, JsValue};

use crate::boxed::Boxed;

/// The database's name.
pub const DB_NAME: &str = "tolem";
/// Its schema version; bumped only together with a new branch in [`upgrade`].
pub const DB_VERSION: u32 = 3;

/// The point's key records (encrypted), keyed by key serial.
pub const KEYS: &str = "keys";
/// Payments waiting to be sent or settled ([`crate::store::OutboxEntry`]), keyed by session id.
pub const OUTBOX: &str = "outbox";
/// Every payment made on this phone ([`crate::record::PaymentRecord`]), keyed by session id.
pub const HISTORY: &str = "history";
/// Small settings and counters, keyed by name (out-of-line keys).
pub const SETTINGS: &str = "settings";
/// Signed letters ([`crate::letters::LetterRecord`]), keyed by session id.
pub const LETTERS: &str = "letters";
/// The cashier's shift reports ([`crate::shift::ShiftRecord`]), keyed by session id.
pub const SHIFTS: &str = "shifts";

/// Why the phone's storage could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The browser offers no IndexedDB (private mode in some browsers, or blocked by policy).
    #[error("the browser's storage is not available: {0}")]
    Unavailable(String),
    /// The phone's storage quota is used up: nothing was written.
    #[error("the phone's storage is full: {0}")]
    Full(String),
    /// A read or write failed (the record damaged, a newer app version's database).
    #[error("the browser's storage failed: {0}")]
    Failed(String),
}

impl From<idb::Error> for StorageError {
    fn from(error: idb::Error) -> Self {
        let text = browser_text(&error);
        // A DOMException shows its name in its text ("QuotaExceededError: ..."); the error types
        // of idb wrap it in a dozen variants, so the text is the one place to look.
        if text.contains("QuotaExceededError") {
            StorageError::Full(text)
        } else {
            StorageError::Failed(text)
        }
    }
}

/// What the browser said of a failed IndexedDB request: its own error's text, such as
/// "QuotaExceededError: …". Not idb's `Display`, which words each of its forty variants and
/// cost the app's first download about 1 KiB (issue 14): no cashier reads this text — the
/// screens explain a [`StorageError`] in their own words — it goes to the console and the logs.
#[inline(never)]
pub(crate) fn browser_text(error: &idb::Error) -> String {
    use idb::Error::*;
    let value = match error {
        DomException(exception) => exception.as_ref(),
        AddFailed(v)
        | ClearFailed(v)
        | CountFailed(v)
        | CursorAdvanceFailed(v)
        | CursorContinueFailed(v)
        | CursorKeyNotFound(v)
        | CursorPrimaryKeyNotFound(v)
        | CursorValueNotFound(v)
        | DeleteFailed(v)
        | GetAllFailed(v)
        | GetAllKeysFailed(v)
        | GetFailed(v)
        | GetKeyFailed(v)
        | IndexCreateFailed(v)
        | IndexDeleteFailed(v)
        | IndexedDbDeleteFailed(v)
        | IndexedDbNotFound(v)
        | IndexedDbOpenFailed(v)
        | IndexNotFound(v)
        | KeyPathNotFound(v)
        | KeyRangeBoundNotFound(v)
        | KeyRangeCreateFailed(v)
        | KeyRangeIncludesFailed(v)
        | ObjectStoreCreateFailed(v)
        | ObjectStoreDeleteFailed(v)
        | ObjectStoreNotFound(v)
        | OpenCursorFailed(v)
        | OpenKeyCursorFailed(v)
        | RequestErrorNotFound(v)
        | RequestResultNotFound(v)
        | TransactionAbortError(v)
        | TransactionCommitError(v)
        | TransactionModeNotFound(v)
        | TransactionOpenFailed(v)
        | UnexpectedJsType(_, v)
        | UpdateFailed(v) => v,
        // idb's own checks, with no error of the browser's inside (a cursor past its end).
        _ => return "IndexedDB refused the request".into(),
    };
    if value.is_undefined() || value.is_null() {
        return "IndexedDB failed without saying why".into();
    }
    value.unchecked_ref::<js_sys::Object>().to_string().into()
}

/// An open connection, closed when dropped so a newer app version's upgrade is never blocked
/// by a connection this version forgot.
pub struct Connection {
    database: Database,
    /// The same database as the browser's object: idb offers no transaction options
    /// ([`Self::durable_transaction`]).
    raw: web_sys::IdbDatabase,
}

impl std::ops::Deref for Connection {
    type Target = Database;
    fn deref(&self) -> &Database {
        &self.database
    }
}

impl From<Database> for Connection {
    fn from(database: Database) -> Self {
        let raw = web_sys::IdbDatabase::from(database);
        Connection {
            database: Database::from(raw.clone()),
            raw,
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Closes once running transactions finish; nothing is cut short.
        self.database.close();
    }
}

impl Connection {
    /// A read-write transaction over `stores` whose commit waits until its writes are on the
    /// disk (`durability: "strict"`, W3C Indexed Database API 3.0, `IDBTransactionOptions`).
    /// Browsers default to "relaxed" (Chrome since 121, Firefox, Safari): `complete` then fires
    /// once the data reached the operating system, before it is flushed, and a phone whose
    /// battery dies in that moment comes back without the payment it had just shown as
    /// deferred — the cash in the drawer and no record, not even a gap in the numbering (the
    /// counter went with it). For what must not be lost: a new payment, letter or shift report.
    /// Replay's state changes stay relaxed: one lost is settled again by status, and a flush
    /// each would slow the replay. A browser without the option ignores it.
    pub fn durable_transaction(&self, stores: &[&str]) -> Result<Transaction, StorageError> {
        let failed = |error: JsValue| StorageError::from(idb::Error::TransactionOpenFailed(error));
        let names = stores
            .iter()
            .map(|name| JsValue::from_str(name))
            .collect::<js_sys::Array>();
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"durability".into(), &"strict".into()).map_err(failed)?;
        // `IDBDatabase.transaction(stores, mode, options)`: web-sys binds it only behind
        // `--cfg=web_sys_unstable_apis`, a flag for the whole build.
        let open: js_sys::Function = js_sys::Reflect::get(&self.raw, &"transaction".into())
            .map_err(failed)?
            .dyn_into()
            .map_err(failed)?;
        let transaction = open
            .call3(&self.raw, &names, &"readwrite".into(), &options)
            .map_err(failed)?;
        let transaction: web_sys::IdbTransaction = transaction.dyn_into().map_err(failed)?;
        Ok(Transaction::from(transaction))
    }
}

/// Opens the database, creating or upgrading its stores first when needed.
///
/// Boxed here ([`crate::boxed`]): the app awaits it, and so does the replay.
#[inline(never)]
pub fn open() -> Boxed<'static, Result<Connection, StorageError>> {
    Box::pin(open_once())
}

async fn open_once() -> Result<Connection, StorageError> {
    let factory = Factory::new().map_err(|e| StorageError::Unavailable(browser_text(&e)))?;
    let mut request = factory
        .open(DB_NAME, Some(DB_VERSION))
        .map_err(|e| StorageError::Unavailable(browser_text(&e)))?;
    request.on_upgrade_needed(|event| {
        if let Ok(database) = event.database() {
            let old_version = event.old_version().unwrap_or(0);
            upgrade(&database, old_version);
        }
    });
    Ok(Connection::from(request.await?))
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
    if old_version < 2 {
        let mut params = ObjectStoreParams::new();
        params.key_path(Some(KeyPath::new_single("session")));
        let _ = database.create_object_store(LETTERS, params);
    }
    if old_version < 3 {
        let mut params = ObjectStoreParams::new();
        params.key_path(Some(KeyPath::new_single("session")));
        let _ = database.create_object_store(SHIFTS, params);
    }
}

/// Reads one setting (`None` when it was never written).
pub async fn read_setting(name: &str) -> Result<Option<JsValue>, StorageError> {
    read_one(SETTINGS, JsValue::from_str(name)).await
}

/// The value stored under `key` in `store`, if any, read in a transaction of its own.
///
/// Boxed here ([`crate::boxed`]) and untyped, so every typed read (a payment, a letter, a
/// shift's report, a setting) awaits this one copy instead of carrying its own.
#[inline(never)]
pub fn read_one(
    store: &'static str,
    key: JsValue,
) -> Boxed<'static, Result<Option<JsValue>, StorageError>> {
    Box::pin(async move {
        let db = open().await?;
        let transaction = db.transaction(&[store], TransactionMode::ReadOnly)?;
        let value = transaction.object_store(store)?.get(key)?.await?;
        finish(transaction).await?;
        Ok(value)
    })
}

/// Every value stored in `store`, read in a transaction of its own; boxed and untyped like
/// [`read_one`].
#[inline(never)]
pub fn read_all(store: &'static str) -> Boxed<'static, Result<Vec<JsValue>, StorageError>> {
    Box::pin(async move {
        let db = open().await?;
        let transaction = db.transaction(&[store], TransactionMode::ReadOnly)?;
        let values = transaction
            .object_store(store)?
            .get_all(None, None)?
            .await?;
        finish(transaction).await?;
        Ok(values)
    })
}

/// Writes one setting.
pub async fn write_setting(name: &str, value: &JsValue) -> Result<(), StorageError> {
    write_one(SETTINGS, value.clone(), Some(JsValue::from_str(name))).await
}

/// Puts `value` into `store` under `key` (or the store's own key, when it has one), in a
/// transaction of its own; boxed and untyped like [`read_one`].
#[inline(never)]
pub fn write_one(
    store: &'static str,
    value: JsValue,
    key: Option<JsValue>,
) -> Boxed<'static, Result<(), StorageError>> {
    Box::pin(async move {
        let db = open().await?;
        let transaction = db.transaction(&[store], TransactionMode::ReadWrite)?;
        transaction
            .object_store(store)?
            .put(&value, key.as_ref())?
            .await?;
        finish(transaction).await
    })
}

/// Reads a setting written with [`write_value`]; `None` when absent or unreadable (a setting
/// written by an older version in another shape is as good as none).
pub async fn read_value<T: serde::de::DeserializeOwned>(
    name: &str,
) -> Result<Option<T>, StorageError> {
    Ok(read_setting(name)
        .await?
        .and_then(|value| from_js(&value).ok()))
}

/// Writes a serialisable setting as a plain object.
pub async fn write_value<T: serde::Serialize>(name: &str, value: &T) -> Result<(), StorageError> {
    write_setting(name, &to_js(value)?).await
}

/// Commits a transaction and waits until it is durable; an aborted one is an error (idb reports
/// an abort as a normal outcome, which would let a lost write pass for a saved one).
///
/// Boxed here ([`crate::boxed`]): the app awaits it, and so does the replay.
#[inline(never)]
pub fn finish(transaction: Transaction) -> Boxed<'static, Result<(), StorageError>> {
    Box::pin(finish_once(transaction))
}

async fn finish_once(transaction: Transaction) -> Result<(), StorageError> {
    // Kept to ask why it aborted: a write that fails at commit — a phone without room — aborts
    // the transaction with the error (a QuotaExceededError) and fires no `error` event (W3C
    // Indexed Database API 3.0, "commit a transaction"), so idb says only "aborted", and a full
    // phone would be told its storage failed rather than that it is full.
    let raw = web_sys::IdbTransaction::from(transaction);
    let outcome = Transaction::from(raw.clone()).commit()?.await?;
    if outcome.is_committed() {
        return Ok(());
    }
    Err(match raw.error() {
        Some(error) => idb::Error::DomException(error).into(),
        None => StorageError::Failed("the transaction was aborted".into()),
    })
}

/// A value as a plain object for IndexedDB, through JSON (which app and worker already carry
/// for the protocol): records stay readable in the browser's developer tools.
pub fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, StorageError> {
    let text = serde_json::to_string(value).map_err(failed)?;
    parse(&text)
}

/// A stored plain object back as a value.
pub fn from_js<T: serde::de::DeserializeOwned>(value: &JsValue) -> Result<T, StorageError> {
    serde_json::from_str(&stringify(value)).map_err(damaged)
}

// The parts of `to_js` and `from_js` that do not depend on the type, kept out of the generic
// functions: one copy in the wasm instead of one per stored type.

#[inline(never)]
fn parse(text: &str) -> Result<JsValue, StorageError> {
    js_sys::JSON::parse(text).map_err(|_| StorageError::Failed("not JSON".into()))
}

#[inline(never)]
fn stringify(value: &JsValue) -> String {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

#[inline(never)]
fn failed(error: serde_json::Error) -> StorageError {
    StorageError::Failed(error.to_string())
}

#[inline(never)]
fn damaged(error: serde_json::Error) -> StorageError {
    StorageError::Failed(format!("damaged record: {error}"))
}

/// Asks the browser to keep this site's storage even when the phone runs short of space. Browsers
/// may say no (Chromium decides by engagement, an installed app usually gets it); the answer
/// changes nothing in how the app works, so it is not waited for. Only pages can ask: in a
/// service worker `persist` does not exist, and this does nothing.
pub fn ask_for_persistent_storage() {
    let storage = js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|navigator| js_sys::Reflect::get(&navigator, &"storage".into()));
    let Ok(storage) = storage else { return };
    let has_persist = js_sys::Reflect::get(&storage, &"persist".into())
        .is_ok_and(|persist| persist.is_function());
    if has_persist {
        let manager: web_sys::StorageManager = storage.unchecked_into();
        let _ = manager.persist();
    }
}
