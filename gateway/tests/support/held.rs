//! A transaction of the test's own holding what a gateway's writers need, as a console or
//! `psql` session left open does: on SQLite the database's write lock, on PostgreSQL the demo
//! dealer's row.

use sqlx::{AnyConnection, Connection};

use super::Gateway;

/// Held from [`Self::take`] until [`Self::release`] (or until dropped: the connection closes and
/// the database rolls it back).
pub struct Held(AnyConnection);

impl Held {
    pub async fn take(gateway: &Gateway) -> Held {
        let mut conn = AnyConnection::connect(&gateway.database_url).await.unwrap();
        let statements: &[&str] = if gateway.database_url.starts_with("sqlite:") {
            &["BEGIN IMMEDIATE"]
        } else {
            &[
                "BEGIN",
                "SELECT code FROM dealers WHERE code = 'D001' FOR UPDATE",
            ]
        };
        for statement in statements {
            sqlx::query(statement).execute(&mut conn).await.unwrap();
        }
        Held(conn)
    }

    /// Runs `statement` in the held transaction: it takes effect with [`Self::release`].
    pub async fn run(&mut self, statement: &str) {
        sqlx::query(statement).execute(&mut self.0).await.unwrap();
    }

    /// Commits the held transaction.
    pub async fn release(mut self) {
        sqlx::query("COMMIT").execute(&mut self.0).await.unwrap();
    }
}
