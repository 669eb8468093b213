//! Stored provider connections: how the gateway reaches each provider (`provider_connections`).
//! The password is read only by the delivery worker; nothing here formats it.

use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};

/// A provider's connection as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredConnection {
    pub provider: String,
    /// `osmp`.
    pub protocol: String,
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout_ms: i64,
    pub ca_cert_pem: Option<String>,
    /// How many of its payments may be on their way to it at once (its contract's figure);
    /// `None`: the gateway's `TOLEM_DELIVERY_IN_FLIGHT_PER_PROVIDER`.
    pub in_flight_max: Option<i64>,
    pub updated_at_ms: i64,
}

/// Never the password, even in a debug log.
impl std::fmt::Debug for StoredConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredConnection")
            .field("provider", &self.provider)
            .field("protocol", &self.protocol)
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("timeout_ms", &self.timeout_ms)
            .field("ca_cert_pem", &self.ca_cert_pem.is_some())
            .field("in_flight_max", &self.in_flight_max)
            .finish()
    }
}

fn from_row(row: &AnyRow) -> Result<StoredConnection, sqlx::Error> {
    Ok(StoredConnection {
        provider: row.try_get("provider")?,
        protocol: row.try_get("protocol")?,
        url: row.try_get("url")?,
        username: row.try_get("username")?,
        password: row.try_get("password")?,
        timeout_ms: row.try_get("timeout_ms")?,
        ca_cert_pem: row.try_get("ca_cert_pem")?,
        in_flight_max: row.try_get("in_flight_max")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
    })
}

const COLUMNS: &str = "provider, protocol, url, username, password, timeout_ms, ca_cert_pem, \
                       in_flight_max, updated_at_ms";

/// The connection of `provider`, if it has one.
pub async fn find(pool: &AnyPool, provider: &str) -> Result<Option<StoredConnection>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM provider_connections WHERE provider = $1"
    ))
    .bind(provider)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The connections of `providers` (at least one), those that have one: one statement.
pub async fn find_all(
    pool: &AnyPool,
    providers: &[&str],
) -> Result<Vec<StoredConnection>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let rows = super::lists::rows_in(
        &mut conn,
        &format!("SELECT {COLUMNS} FROM provider_connections WHERE provider"),
        providers,
    )
    .await?;
    rows.iter().map(from_row).collect()
}

/// Every connection, by provider.
pub async fn all(pool: &AnyPool) -> Result<Vec<StoredConnection>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM provider_connections ORDER BY provider"
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Creates or replaces the connection of `connection.provider`, inside the caller's
/// transaction.
pub async fn upsert_in(
    conn: &mut AnyConnection,
    connection: &StoredConnection,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO provider_connections (provider, protocol, url, username, password, \
         timeout_ms, ca_cert_pem, updated_at_ms, in_flight_max) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (provider) DO UPDATE SET protocol = $2, url = $3, username = $4, \
         password = $5, timeout_ms = $6, ca_cert_pem = $7, updated_at_ms = $8, \
         in_flight_max = $9",
    )
    .bind(&connection.provider)
    .bind(&connection.protocol)
    .bind(&connection.url)
    .bind(&connection.username)
    .bind(&connection.password)
    .bind(connection.timeout_ms)
    .bind(&connection.ca_cert_pem)
    .bind(connection.updated_at_ms)
    .bind(connection.in_flight_max)
    .execute(conn)
    .await?;
    Ok(())
}

/// Each provider of the catalogue with the places in flight its connection sets (`None`: the
/// gateway's setting, or no connection), by code; switched off or not (a switched-off
/// provider's accepted payments are still delivered).
pub async fn places(pool: &AnyPool) -> Result<Vec<(String, Option<i64>)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.code, c.in_flight_max FROM providers p \
         LEFT JOIN provider_connections c ON c.provider = p.code ORDER BY p.code",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("code")?, row.try_get("in_flight_max")?)))
        .collect()
}
