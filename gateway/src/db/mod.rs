//! The gateway's database: connecting, migrating, (in [`seed`]) demo data, and the queries of
//! the dealer network ([`network`]), point keys ([`keys`]), console sessions ([`sessions`]),
//! the provider catalogue ([`providers`]), payments ([`payments`]), the dealer's ledger
//! ([`ledger`]), operations prepared in the console for confirmation ([`operations`]) and the
//! outbox of signed messages by e-mail ([`mail`]).
//!
//! One `sqlx::AnyPool` serves both back ends: SQLite embedded in the gateway by default (one
//! file, nothing to install at a dealer's office) and PostgreSQL when one machine is no longer
//! enough. Queries and migrations are therefore written in SQL both understand
//! (see `migrations/README.md`).

pub mod batch;
pub mod bills;
mod columns;
pub mod connections;
pub mod day_sums;
pub mod deliveries;
pub mod keys;
pub mod ledger;
pub mod lists;
pub mod mail;
pub mod network;
pub mod operations;
pub mod payments;
pub mod providers;
pub mod retry;
pub mod revoked_waiting;
pub mod seed;
pub mod senders;
pub mod sequence;
pub mod sessions;
mod write;

pub use write::{
    Ends, InlineTx, Turn, WriteTx, begin_waiting, begin_write, begin_write_waiting, has_one_writer,
    take_turn,
};

use std::time::Duration;

use sqlx::{AnyConnection, AnyPool, Connection, any::AnyPoolOptions, migrate::Migrator};

use crate::startup::StartupError;

/// The migrations in `gateway/migrations/`, compiled into the binary so a deployed gateway
/// needs no files beside itself.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// How long to wait for a connection before giving up: long enough for a busy SQLite writer
/// or a PostgreSQL server on the network, short enough that a wrong URL fails start-up promptly.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// The health check's wait for its connection: shorter than a balancer's check timeout.
const HEALTH_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Opens a pool on `database_url`. For SQLite the file and its directory are created if
/// missing, and every connection uses WAL (readers don't block the writer) and waits up to
/// 5 s for a lock instead of failing at once with "database is locked".
pub async fn connect(database_url: &str) -> Result<AnyPool, StartupError> {
    connect_sized(database_url, Size::Serving).await
}

/// Opens the health check's own pool of one connection on `database_url` (for
/// `GET /api/health`): a burst of payments can hold every connection of the serving pool
/// while they wait for one dealer's lock, and a health check queued behind them would tell the
/// load balancer this instance is dead — on every instance at once.
pub async fn connect_health(database_url: &str) -> Result<AnyPool, StartupError> {
    connect_sized(database_url, Size::Health).await
}

/// What a pool is for, which sets its size and patience.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Size {
    Serving,
    Health,
}

async fn connect_sized(database_url: &str, size: Size) -> Result<AnyPool, StartupError> {
    sqlx::any::install_default_drivers();
    let shown_url = redact_url(database_url);
    let open_error = |source| StartupError::DatabaseOpen {
        url: shown_url.clone(),
        source,
    };

    let mut options = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
    if size == Size::Health {
        // One connection, asked for briefly: a balancer's check waits a few seconds at most.
        options = options
            .max_connections(1)
            .acquire_timeout(HEALTH_ACQUIRE_TIMEOUT);
    }
    let url = if is_sqlite(database_url) {
        options = options
            // SQLite has one writer at a time; a few connections cover concurrent readers.
            .max_connections(if size == Size::Health { 1 } else { 4 })
            // sqlx pings a pooled connection before lending it again, by default. An embedded
            // SQLite connection is a file in this process: no network or server can drop it,
            // so the ping tests nothing, yet it is one more round trip to the connection's
            // thread for every read of a signed request and for every payment group's turn
            // at the write lock (issue 14: 1.07–1.22× the payments/s in alternating runs).
            .test_before_acquire(false)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 5000")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        prepare_sqlite_url(database_url, &shown_url)?
    } else {
        if size == Size::Serving {
            options = options.max_connections(10);
        }
        database_url.to_owned()
    };

    probe(&url).await.map_err(open_error)?;
    options.connect(&url).await.map_err(open_error)
}

/// Opens one connection outside the pool and runs a query on it. The pool retries failed
/// connections until its timeout and then reports only "pool timed out"; a single attempt
/// gives the real reason ("connection refused", "file is not a database") for the message.
/// The query matters too: SQLite reads the file only when a statement touches the schema, so
/// `SELECT 1` would succeed even on a file full of garbage.
async fn probe(url: &str) -> Result<(), sqlx::Error> {
    let query = if is_sqlite(url) {
        "SELECT count(*) FROM sqlite_master"
    } else {
        "SELECT 1"
    };
    let attempt = async {
        let mut conn = AnyConnection::connect(url).await?;
        sqlx::query(query).execute(&mut conn).await?;
        conn.close().await
    };
    tokio::time::timeout(ACQUIRE_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} s", ACQUIRE_TIMEOUT.as_secs()),
            )))
        })
}

/// Applies the migrations that have not been applied yet.
pub async fn migrate(pool: &AnyPool, database_url: &str) -> Result<(), StartupError> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|source| StartupError::Migrate {
            url: redact_url(database_url),
            source,
        })
}

/// Now as unix milliseconds, UTC — the form of every `*_at_ms` column.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Whether `url` names an SQLite database.
fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Creates the directory of an SQLite file and asks SQLite to create the file itself
/// (`mode=rwc`) unless the URL already says how to open it.
fn prepare_sqlite_url(url: &str, shown_url: &str) -> Result<String, StartupError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or("");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty() || path == ":memory:" || query.contains("mode=memory");
    if in_memory {
        return Ok(url.to_owned());
    }
    if let Some(dir) = std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| StartupError::DatabaseDirectory {
            url: shown_url.to_owned(),
            path: dir.to_owned(),
            source,
        })?;
    }
    if query.split('&').any(|pair| pair.starts_with("mode=")) {
        Ok(url.to_owned())
    } else if query.is_empty() {
        Ok(format!("{url}?mode=rwc"))
    } else {
        Ok(format!("{url}&mode=rwc"))
    }
}

/// `url` with any password replaced by `***`, fit for logs and error messages: both the
/// `user:password@` form and a `password=` query parameter (which PostgreSQL also accepts).
pub fn redact_url(url: &str) -> String {
    let mut shown = url.to_owned();
    if let Some(scheme_end) = shown.find("://") {
        let start = scheme_end + 3;
        let end = shown[start..]
            .find(['/', '?', '#'])
            .map_or(shown.len(), |i| start + i);
        if let Some(at) = shown[start..end].rfind('@')
            && let Some(colon) = shown[start..start + at].find(':')
        {
            shown.replace_range(start + colon + 1..start + at, "***");
        }
    }
    if let Some((base, query)) = shown.split_once('?') {
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        shown = format!("{base}?{}", query.join("&"));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://tolem:s3cr@t@db.local:5432/tolem"),
            "postgres://tolem:***@db.local:5432/tolem"
        );
        assert_eq!(
            redact_url("postgres://db/tolem?user=t&password=x&sslmode=require"),
            "postgres://db/tolem?user=t&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://tolem@db/tolem"),
            "postgres://tolem@db/tolem"
        );
        assert_eq!(
            redact_url("sqlite://data/tolem.db"),
            "sqlite://data/tolem.db"
        );
    }

    #[test]
    fn sqlite_files_are_created_unless_told_otherwise() {
        let url = |u| prepare_sqlite_url(u, u).unwrap();
        assert_eq!(url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(url("sqlite://t.db"), "sqlite://t.db?mode=rwc");
        assert_eq!(
            url("sqlite://t.db?cache=shared"),
            "sqlite://t.db?cache=shared&mode=rwc"
        );
        assert_eq!(url("sqlite://t.db?mode=ro"), "sqlite://t.db?mode=ro");
    }
}
