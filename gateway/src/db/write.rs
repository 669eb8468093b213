//! Write transactions ([`begin_write`]), and on SQLite the order in which they take the
//! database's one write lock.

use std::{
    collections::HashMap,
    ops::{Deref, DerefMut},
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use sqlx::{AnyConnection, AnyPool, Transaction, any::Any, pool::PoolConnection};
use tokio::sync::{Mutex as TurnLock, OwnedMutexGuard};

/// How long a writer waits for its turn on SQLite: as long as SQLite's own busy timeout (5 s),
/// so a writer that waited too long fails the same way whichever queue held it.
const TURN_TIMEOUT: Duration = Duration::from_secs(5);

/// How a write transaction begins on SQLite ([`begin_write`] says why).
const BEGIN_IMMEDIATE: &str = "BEGIN IMMEDIATE";

/// A transaction that is going to write ([`begin_write`]). Use it as the connection
/// (`&mut *tx`); [`Self::commit`] or [`Self::rollback`] ends it, and dropping it rolls back.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    /// On SQLite, this process's turn at the write lock, held until the transaction ends.
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
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
pub async fn begin_write(pool: &AnyPool) -> Result<WriteTx, sqlx::Error> {
    take_turn(pool).await?.begin().await
}

/// [`begin_write`] whose every lock waits at most `lock_wait`: on PostgreSQL a statement that
/// waits longer for a row another transaction holds fails with `lock_not_available` (55P03,
/// [`super::retry::Conflict::is_lock_timeout`]) and the transaction is aborted, so a caller
/// someone else will ask again (a payment service's notification) answers "not now" instead of
/// holding a pooled connection for as long as the row stays held. SQLite has no row locks: a
/// writer waits for its turn ([`take_turn`]) as with [`begin_write`].
pub async fn begin_write_waiting(
    pool: &AnyPool,
    lock_wait: Duration,
) -> Result<WriteTx, sqlx::Error> {
    let turn = take_turn(pool).await?;
    if turn.is_the_one_writer() {
        return turn.begin().await;
    }
    Ok(WriteTx {
        tx: pool.begin_with(begin_waiting(lock_wait)).await?,
        _turn: None,
    })
}

/// How a PostgreSQL transaction whose locks wait at most `lock_wait` begins: the wait set in
/// the trip that begins it (PostgreSQL's manual, Client Connection Defaults, `lock_timeout`:
/// "Abort any statement that waits longer than the specified amount of time while attempting
/// to acquire a lock", in milliseconds without a unit; 0 would turn the limit off, so at least
/// 1; <https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-LOCK-TIMEOUT>).
pub fn begin_waiting(lock_wait: Duration) -> String {
    format!(
        "BEGIN; SET LOCAL lock_timeout = {}",
        lock_wait.as_millis().max(1)
    )
}

/// A writer's turn at the write lock, before its transaction begins ([`take_turn`]).
pub struct Turn {
    pool: AnyPool,
    /// On SQLite, this process's turn; `None` on PostgreSQL.
    turn: Option<OwnedMutexGuard<()>>,
}

impl Turn {
    /// Whether this turn is SQLite's, one writer at a time ([`has_one_writer`]); on PostgreSQL
    /// writers need no turn.
    pub fn is_the_one_writer(&self) -> bool {
        self.turn.is_some()
    }

    /// Begins the write transaction in this turn (see [`begin_write`]).
    pub async fn begin(self) -> Result<WriteTx, sqlx::Error> {
        let tx = match self.turn {
            Some(_) => self.pool.begin_with(BEGIN_IMMEDIATE).await?,
            None => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            _turn: self.turn,
        })
    }

    /// The write transaction of this turn on `conn`, a connection of this turn's SQLite
    /// database that the caller keeps (the payment writer's, [`crate::payments::group`]), begun
    /// and committed by the caller's own batches ([`InlineTx`]). On PostgreSQL, which has no
    /// turn, the turn comes back: begin the usual way.
    pub fn inline_on(self, conn: &mut PoolConnection<Any>) -> Result<InlineTx<'_>, Turn> {
        match self.turn {
            Some(turn) => Ok(InlineTx {
                conn,
                open: false,
                _turn: turn,
            }),
            None => Err(self),
        }
    }
}

/// How [`InlineTx::ends`] commits.
const COMMIT: &str = "COMMIT";

/// A write transaction on a kept SQLite connection that the caller's batches begin and end
/// themselves ([`Batch`](super::batch::Batch)): `BEGIN IMMEDIATE` in front of the first one's
/// statements and `COMMIT` after the last one's ([`Self::ends`]), where [`WriteTx`] takes a trip
/// to the connection's thread for each. On the gateway benchmark's busy 2 cores a trip waited
/// about as long for that thread as a payment group's statements took (issue 14): the begin
/// alone showed as 0.3–0.8 ms of a group's 3–5 ms.
///
/// sqlx does not know this transaction is open, so this guard does: dropped while it may be
/// (an error, a panic), it has the connection closed instead of returned to the pool, and
/// SQLite rolls back what the connection had not committed. A failed group is rare; one more
/// connection opened then is its price.
pub struct InlineTx<'c> {
    conn: &'c mut PoolConnection<Any>,
    /// From [`Self::ends`] until [`Self::committed`].
    open: bool,
    /// This process's turn at the write lock, held until the transaction ends.
    _turn: OwnedMutexGuard<()>,
}

/// The statements a caller's batches put around their own in an [`InlineTx`]: `begin` in front
/// of the first batch's, `commit` after the last one's. Both `None` ([`Ends::default`]) in a
/// transaction begun the usual way.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ends {
    pub begin: Option<&'static str>,
    pub commit: Option<&'static str>,
}

impl InlineTx<'_> {
    /// The statements to begin and end the transaction with. From here on it counts as open.
    pub fn ends(&mut self) -> Ends {
        self.open = true;
        Ends {
            begin: Some(BEGIN_IMMEDIATE),
            commit: Some(COMMIT),
        }
    }

    /// The caller's last batch ran [`COMMIT`].
    pub fn committed(mut self) {
        self.open = false;
    }
}

impl Deref for InlineTx<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        self.conn
    }
}

impl DerefMut for InlineTx<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn
    }
}

impl Drop for InlineTx<'_> {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
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
