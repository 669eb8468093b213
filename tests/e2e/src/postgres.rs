//! A throw-away PostgreSQL server for the tests that run several gateways on one database:
//! started with `scripts/postgres.sh` (Debian's server binaries, a fresh cluster in a
//! temporary directory on a free port of 127.0.0.1), stopped and deleted when dropped. The
//! test reads and sets the database with `psql`, as an administrator would.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running server with one empty database, `url`.
pub struct Postgres {
    pub url: String,
    dir: tempfile::TempDir,
}

impl Postgres {
    /// Starts a fresh cluster (about a second).
    pub fn start() -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("tolem-e2e-pg-")
            .tempdir()
            .expect("a temporary directory");
        let cluster = cluster_dir(dir.path());
        let output = Command::new(script())
            .arg("start")
            .arg(&cluster)
            .output()
            .expect("scripts/postgres.sh runs");
        assert!(
            output.status.success(),
            "scripts/postgres.sh start failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let url = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        assert!(url.starts_with("postgres://"), "no URL but {url:?}");
        Postgres { url, dir }
    }

    /// Runs `sql` with `psql` and returns its unaligned output (`|` between columns, one row a
    /// line), panicking with psql's message on an error.
    pub fn sql(&self, sql: &str) -> String {
        let output = Command::new(psql())
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(&self.url)
            .args(["-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// A single number `sql` selects.
    pub fn number(&self, sql: &str) -> i64 {
        let text = self.sql(sql);
        text.parse()
            .unwrap_or_else(|_| panic!("{sql:?} gave {text:?}, not a number"))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(cluster_dir(self.dir.path()))
            .output();
    }
}

/// The cluster lives in a directory of its own inside the temporary one: the script deletes it,
/// and as root hands it to `nobody`.
fn cluster_dir(dir: &Path) -> PathBuf {
    dir.join("cluster")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh")
}

/// Debian's newest `psql` (the server's own version, as the script uses).
fn psql() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/psql"))
        .filter(|path| path.exists())
        .collect();
    found.sort_by_key(|path| {
        path.components()
            .nth(4)
            .and_then(|c| c.as_os_str().to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().unwrap_or_else(|| PathBuf::from("psql"))
}
