//! The sessions a phone named as still waiting on it when it revoked its own key (migration
//! 0024): what lets the payments the cashier saved to a file be sent later, by a dealer or
//! support, with the key's own signature ([`crate::sender`], check 6).
//!
//! Written once, with the revocation, and never changed: a key is revoked once, and a later
//! `revoke` of the same key is refused before it reaches here.

use std::collections::BTreeSet;

use sqlx::{AnyConnection, AnyPool};
use tolem_protocol::ids::SessionId;

use super::lists::{Placeholders, ROWS_PER_STATEMENT};

/// Stores `waiting` as the sessions the revocation of `serial` named, inside the caller's
/// write transaction (the one that revokes the key). A session named twice is stored once.
pub async fn record(
    conn: &mut AnyConnection,
    serial: &str,
    waiting: &[SessionId],
) -> Result<(), sqlx::Error> {
    let sessions: BTreeSet<&str> = waiting.iter().map(SessionId::as_str).collect();
    let sessions: Vec<&str> = sessions.into_iter().collect();
    let placeholders = Placeholders::of(conn);
    for chunk in sessions.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO revoked_key_waiting (key_serial, session) VALUES {} \
             ON CONFLICT DO NOTHING",
            placeholders.values(chunk.len(), 2)
        );
        let mut query = sqlx::query(&sql);
        for session in chunk {
            query = query.bind(serial).bind(*session);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Whether the revocation of the key `serial` named `session` as waiting.
pub async fn names(pool: &AnyPool, serial: &str, session: &str) -> Result<bool, sqlx::Error> {
    // Rows, not a value: `1` is a 32-bit integer on PostgreSQL, and nothing needs reading.
    let found =
        sqlx::query("SELECT 1 FROM revoked_key_waiting WHERE key_serial = $1 AND session = $2")
            .bind(serial)
            .bind(session)
            .fetch_optional(pool)
            .await?;
    Ok(found.is_some())
}

/// Whether `session` is the key `serial`'s own at its point `point_code`: named by its
/// revocation as waiting, or a payment it signed. What a revoked key may still read.
pub async fn own_session(
    pool: &AnyPool,
    serial: &str,
    point_code: &str,
    session: &str,
) -> Result<bool, sqlx::Error> {
    let found = sqlx::query(
        "SELECT 1 FROM revoked_key_waiting WHERE key_serial = $1 AND session = $2 \
         UNION ALL \
         SELECT 1 FROM payments WHERE point_code = $3 AND session = $2 AND key_serial = $1",
    )
    .bind(serial)
    .bind(session)
    .bind(point_code)
    .fetch_optional(pool)
    .await?;
    Ok(found.is_some())
}
