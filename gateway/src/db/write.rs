//! Write transactions ([`begin_write`]), and on SQLite the order in which they take the
//! database's one write lock.

use std::{
    collections::HashMap,
    ops::{Deref, DerefMut},
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use sqlx::{AnyConnection, AnyPool, Connection, Transaction, any::Any};
use tokio::sync::{Mutex as TurnLock, OwnedMutexGuard};

/// How long a writer waits for its turn on SQLite: as long as SQLite's own busy timeout (5 s),
/// so a writer that waited too long fails the same way whichever queue held it.
const TURN_TIMEOUT: Duration = Duration::from_secs(5);

/// How a write transaction begins on SQLite ([`begin_write`] says why).
const BEGIN_IMMEDIATE: &str = "BEGIN IMMEDIATE";

/// A transaction that is going to write ([`begin_write`]), on a connection of the pool
/// (`'static`) or one the caller keeps (`'c`, [`Turn::begin_on`]). Use it as the connection
/// (`&mut *tx`); [`Self::commit`] or [`Self::rollback`] ends it, and dropping it rolls back.
pub struct WriteTx<'c> {
    tx: Transaction<'c, Any>,
    /// On SQLite, this process's turn at the write lock, held until the transaction ends.
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx<'_> {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for WriteTx<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// Starts a transaction that is going to write.
///
/// On SQLite it starts with `BEGIN IMMEDIATE`, which takes the database's write lock at once.
/// A plain `BEGIN` would take it only at the first write, after the transaction has read: if
/// another writer committed in between, SQLite cannot wait its way out and fails at once with
/// "database is locked" (`SQLITE_BUSY`, which the busy timeout does not cover) — exactly what
/// concurrent payments would hit. With the lock taken first, concurrent writers queue instead
/// of failing.
///
/// And the writers of this process queue for that lock here, first come first served, before
/// they ask SQLite: SQLite lets one writer in and puts every other to sleep in its busy
/// handler, which polls with growing naps (1, 2, 5, 10 … 100 ms). Under load — the payment
/// writer, delivery claims and delivery outcomes all writing at once — those naps, not the
/// work, were most of a payment's time (issue 14). Here a writer is woken the moment the one
/// before it ends. (Writes of another process, or autocommit writes, still meet SQLite's
/// busy timeout as before.)
///
/// PostgreSQL needs nothing of this: its transactions lock rows as they write them.
pub async fn begin_write(pool: &AnyPool) -> Result<WriteTx<'static>, sqlx::Error> {
    take_turn(pool).await?.begin().await
}

/// A writer's turn at the write lock, before its transaction begins ([`take_turn`]).
pub struct Turn {
    pool: AnyPool,
    /// On SQLite, this process's turn; `None` on PostgreSQL.
    turn: Option<OwnedMutexGuard<()>>,
}

impl Turn {
    /// Begins the write transaction in this turn (see [`begin_write`]), on a connection of the
    /// pool.
    pub async fn begin(self) -> Result<WriteTx<'static>, sqlx::Error> {
        let tx = match self.turn {
            Some(_) => self.pool.begin_with(BEGIN_IMMEDIATE).await?,
            None => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            _turn: self.turn,
        })
    }

    /// Begins the write transaction in this turn on `conn`, a connection of this turn's
    /// database that the caller keeps: the payment writer's ([`crate::payments::group`]).
    pub async fn begin_on(self, conn: &mut AnyConnection) -> Result<WriteTx<'_>, sqlx::Error> {
        let tx = match self.turn {
            Some(_) => conn.begin_with(BEGIN_IMMEDIATE).await?,
            None => conn.begin().await?,
        };
        Ok(WriteTx {
            tx,
            _turn: self.turn,
        })
    }
}

/// Waits for this process's turn at the write lock of `pool`'s database (at once on
/// PostgreSQL), without beginning a transaction yet: a writer that may find it has nothing left
/// to write by then gives its turn back for free, where an empty transaction would have cost
/// two statements in the lock's time. Dropping the turn gives it back.
pub async fn take_turn(pool: &AnyPool) -> Result<Turn, sqlx::Error> {
    let url = &pool.connect_options().database_url;
    let turn = if has_one_writer(pool) {
        let turn = tokio::time::timeout(TURN_TIMEOUT, turns_of(url.as_str()).lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?;
        Some(turn)
    } else {
        None
    };
    Ok(Turn {
        pool: pool.clone(),
        turn,
    })
}

/// Whether the database of `pool` lets one writer at a time in (SQLite), so that writers which
/// could share a transaction gain by doing so; PostgreSQL's writers lock only their rows.
pub fn has_one_writer(pool: &AnyPool) -> bool {
    pool.connect_options().database_url.scheme() == "sqlite"
}

/// The queue of the SQLite database at `url`: one per database file this process writes,
/// shared by every pool on it.
fn turns_of(url: &str) -> Arc<TurnLock<()>> {
    static TURNS: OnceLock<Mutex<HashMap<String, Arc<TurnLock<()>>>>> = OnceLock::new();
    let mut turns = TURNS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    turns.entry(url.to_owned()).or_default().clone()
}
