//! Whether this build can read what waits in the outbox — asked by a new service worker before
//! it may take over (issue 13 item 6).
//!
//! # The guarantee
//!
//! *A worker version never becomes active while requests wait in the outbox that it cannot
//! read.* Two numbers make "can read" exact:
//!
//! - the IndexedDB schema version ([`crate::db::DB_VERSION`]): a build opens a database at most
//!   its own version (a newer one it cannot open at all: a rollback);
//! - the outbox *format* ([`OUTBOX_FORMAT`]), written into every outbox entry when it is stored
//!   (entries from before the field existed are format 1). A build reads the formats
//!   [`OLDEST_READABLE_FORMAT`]`..=`[`OUTBOX_FORMAT`]; whoever changes how a waiting record is
//!   stored so that older code cannot read it bumps [`OUTBOX_FORMAT`], and whoever drops
//!   support for an old one raises [`OLDEST_READABLE_FORMAT`].
//!
//! The new worker checks ([`may_take_over`]) at the two moments it could go further:
//!
//! 1. in `install`, after precaching: an install that fails makes the browser throw the new
//!    worker away and keep the old one (which wrote, so reads, what waits); the browser tries
//!    the update again on a later navigation or update check — by then the outbox has usually
//!    drained. A worker that was never installed can never be activated, by a button or by
//!    the last tab closing.
//! 2. when the cashier presses *Update* (`SKIP_WAITING`): what waits may have changed since
//!    install, so it is checked again and `skipWaiting` is called only if it passes.
//!
//! What remains: a worker installed while nothing waited, then activated by the browser when
//! every tab closed, after the *old* page stored an entry in a format the new one cannot read.
//! Between two builds whose formats overlap (the normal case: [`OLDEST_READABLE_FORMAT`] is
//! raised only long after a bump) this cannot happen; where they do not, check 1 holds the
//! update back whenever anything waits.
//!
//! The check never creates or upgrades the database: it opens whatever version is there and
//! aborts if the database would have to be created.

use idb::{Factory, TransactionMode};
use wasm_bindgen::{JsCast, JsValue};

use crate::db::{self, DB_NAME, DB_VERSION, OUTBOX, StorageError, browser_text};

/// The format this build writes into every outbox entry.
pub const OUTBOX_FORMAT: u32 = 1;
/// The oldest format this build still reads.
pub const OLDEST_READABLE_FORMAT: u32 = 1;

/// What the check found on the phone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The database's schema version.
    pub db_version: u32,
    /// The format of each waiting entry.
    pub formats: Vec<u32>,
}

/// Why this build must not take over.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error(
        "{waiting} requests wait in a database of version {found}, newer than this version \
         reads ({DB_VERSION})"
    )]
    NewerDatabase { found: u32, waiting: usize },
    #[error(
        "{count} waiting requests are stored in format {format}; this version reads formats \
         {OLDEST_READABLE_FORMAT} to {OUTBOX_FORMAT}"
    )]
    Format { format: u32, count: usize },
    #[error("the outbox could not be read: {0}")]
    Storage(#[from] StorageError),
}

/// Judges what is stored: fine when nothing waits, or everything waiting is readable.
pub fn judge(stored: &Stored) -> Result<(), Unreadable> {
    if stored.formats.is_empty() {
        return Ok(());
    }
    if stored.db_version > DB_VERSION {
        return Err(Unreadable::NewerDatabase {
            found: stored.db_version,
            waiting: stored.formats.len(),
        });
    }
    let readable = OLDEST_READABLE_FORMAT..=OUTBOX_FORMAT;
    match stored.formats.iter().find(|f| !readable.contains(f)) {
        Some(&format) => Err(Unreadable::Format {
            format,
            count: stored
                .formats
                .iter()
                .filter(|f| !readable.contains(f))
                .count(),
        }),
        None => Ok(()),
    }
}

/// Whether this build may take over from the one running: see the module docs.
pub async fn may_take_over() -> Result<(), Unreadable> {
    match inspect().await? {
        None => Ok(()),
        Some(stored) => judge(&stored),
    }
}

/// The database's version and the format of each waiting entry; `None` when there is no
/// database (nothing waits). Opens the version that is there, never upgrading it.
pub async fn inspect() -> Result<Option<Stored>, StorageError> {
    let factory = Factory::new().map_err(|e| StorageError::Unavailable(browser_text(&e)))?;
    let mut request = factory
        .open(DB_NAME, None)
        .map_err(|e| StorageError::Unavailable(browser_text(&e)))?;
    // Only a database that does not exist needs an upgrade to open without a version: abort
    // it, so this check never leaves an empty database behind for the app to trip over.
    request.on_upgrade_needed(|event| {
        let event: web_sys::IdbVersionChangeEvent = event.into();
        if let Some(transaction) = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::IdbOpenDbRequest>().ok())
            .and_then(|r| r.transaction())
        {
            let _ = transaction.abort();
        }
    });
    let database = match request.await {
        Ok(database) => db::Connection::from(database),
        // Aborted above: there is no database, so nothing waits.
        Err(_) => return Ok(None),
    };
    let db_version = database.version().map_err(StorageError::from)?;
    if !database.store_names().iter().any(|name| name == OUTBOX) {
        return Ok(None);
    }
    let transaction = database.transaction(&[OUTBOX], TransactionMode::ReadOnly)?;
    let entries = transaction
        .object_store(OUTBOX)?
        .get_all(None, None)?
        .await?;
    db::finish(transaction).await?;
    let formats = entries.iter().map(format_of).collect();
    Ok(Some(Stored {
        db_version,
        formats,
    }))
}

/// An entry's format, read without decoding it (this build may not know its shape).
fn format_of(entry: &JsValue) -> u32 {
    js_sys::Reflect::get(entry, &JsValue::from_str("format"))
        .ok()
        .and_then(|f| f.as_f64())
        .map_or(1, |f| f as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_waits_in_a_readable_format_lets_a_new_version_take_over() {
        let stored = |db_version, formats: &[u32]| Stored {
            db_version,
            formats: formats.to_vec(),
        };
        assert_eq!(judge(&stored(DB_VERSION, &[])), Ok(()));
        assert_eq!(judge(&stored(DB_VERSION + 5, &[])), Ok(()), "nothing waits");
        assert_eq!(judge(&stored(DB_VERSION, &[1, OUTBOX_FORMAT])), Ok(()));
        assert_eq!(
            judge(&stored(
                DB_VERSION,
                &[1, OUTBOX_FORMAT + 1, OUTBOX_FORMAT + 1]
            )),
            Err(Unreadable::Format {
                format: OUTBOX_FORMAT + 1,
                count: 2
            })
        );
        assert_eq!(
            judge(&stored(DB_VERSION + 1, &[1])),
            Err(Unreadable::NewerDatabase {
                found: DB_VERSION + 1,
                waiting: 1
            })
        );
    }
}
