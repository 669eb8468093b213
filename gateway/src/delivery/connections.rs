//! How the gateway reaches each provider: the stored connection (`provider_connections`)
//! turned into the provider protocol's adapter, kept while the row does not change.
//!
//! Set by the operator (console) or the CLI (`tolem-gateway provider connect`); both go
//! through [`connect_in`], which checks the settings and writes the audit row. The password is
//! never logged, shown back or put into an audit row.

use std::{collections::HashMap, sync::Arc};

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::Mutex;
use tolem_providers::{
    adapter::{ProviderAdapter, adapter_for},
    connection::{Auth, Connection, Protocol},
};

use crate::{
    audit::{self, Action, Actor, Event},
    db::connections::{self, StoredConnection},
};

/// The longest a provider may be given to answer, and the shortest.
pub const TIMEOUT_RANGE_MS: std::ops::RangeInclusive<i64> = 1_000..=120_000;
/// How many payments may be on their way to a provider at once, set on its connection or for
/// the gateway (`TOLEM_DELIVERY_IN_FLIGHT_PER_PROVIDER`); migration 0020 checks the same.
pub const IN_FLIGHT_RANGE: std::ops::RangeInclusive<i64> = 1..=4_096;

/// Why a connection's settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    #[error("unknown protocol {0:?} (known: osmp)")]
    UnknownProtocol(String),
    #[error("the URL must start with http:// or https://")]
    BadUrl,
    #[error("a user name needs a password, and a password a user name")]
    HalfCredentials,
    #[error("a password goes to a provider over https:// only (http:// only to this machine)")]
    PlainCredentials,
    #[error("the timeout must be between 1 000 and 120 000 ms")]
    BadTimeout,
    #[error("the payments on their way at once must be from 1 to 4 096")]
    BadInFlight,
    #[error("the provider's settings are not usable: {0}")]
    Unusable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The protocol crate's connection for a stored row.
pub fn connection_of(stored: &StoredConnection) -> Result<Connection, ConnectionError> {
    let protocol: Protocol = stored
        .protocol
        .parse()
        .map_err(|_| ConnectionError::UnknownProtocol(stored.protocol.clone()))?;
    let auth = match (&stored.username, &stored.password) {
        (Some(username), Some(password)) => Auth::Basic {
            username: username.clone(),
            password: password.clone(),
        },
        (None, None) => Auth::None,
        _ => return Err(ConnectionError::HalfCredentials),
    };
    Ok(Connection {
        protocol,
        url: stored.url.clone(),
        auth,
        timeout_ms: u64::try_from(stored.timeout_ms).map_err(|_| ConnectionError::BadTimeout)?,
        ca_cert_pem: stored.ca_cert_pem.clone(),
    })
}

/// Checks `stored` and saves it as the provider's connection, with its audit row (which names
/// the URL, the protocol and whether there are credentials — never the password), inside the
/// caller's transaction.
pub async fn connect_in(
    conn: &mut AnyConnection,
    actor: &Actor,
    stored: &StoredConnection,
    now_ms: i64,
) -> Result<(), ConnectionError> {
    let known: Option<String> = sqlx::query_scalar("SELECT code FROM providers WHERE code = $1")
        .bind(&stored.provider)
        .fetch_optional(&mut *conn)
        .await?;
    if known.is_none() {
        return Err(ConnectionError::UnknownProvider(stored.provider.clone()));
    }
    if !(stored.url.starts_with("http://") || stored.url.starts_with("https://")) {
        return Err(ConnectionError::BadUrl);
    }
    if stored.password.is_some() && !private_or_https(&stored.url) {
        return Err(ConnectionError::PlainCredentials);
    }
    if !TIMEOUT_RANGE_MS.contains(&stored.timeout_ms) {
        return Err(ConnectionError::BadTimeout);
    }
    if stored
        .in_flight_max
        .is_some_and(|n| !IN_FLIGHT_RANGE.contains(&n))
    {
        return Err(ConnectionError::BadInFlight);
    }
    // Builds the adapter once: a bad URL or certificate is refused now, not at 3 a.m.
    let connection = connection_of(stored)?;
    adapter_for(&connection).map_err(|e| ConnectionError::Unusable(e.to_string()))?;
    connections::upsert_in(&mut *conn, stored).await?;
    let event = Event {
        action: Action::ProviderConnected,
        subject: format!("provider:{}", stored.provider),
        details: serde_json::json!({
            "protocol": stored.protocol,
            "url": stored.url,
            "username": stored.username,
            "password_set": stored.password.is_some(),
            "timeout_ms": stored.timeout_ms,
            "ca_cert": stored.ca_cert_pem.is_some(),
            "in_flight_max": stored.in_flight_max,
        }),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    Ok(())
}

/// Whether `url` keeps a password out of other people's hands: https, or plain http to this
/// machine (a provider's emulator, a local tunnel). Basic credentials over plain http to
/// anywhere else travel readable by every network on the way, and so does the provider's
/// "accepted" answer, which anyone on the way could then forge.
fn private_or_https(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        // Unreadable: `adapter_for` refuses it with its own reason.
        return true;
    };
    url.scheme() == "https"
        || match url.host() {
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

/// A provider's adapter and the `updated_at_ms` of the connection it was built from.
type Built = (i64, Arc<dyn ProviderAdapter>);

/// The adapters of the providers, built from their connections and rebuilt when a
/// connection changes (its `updated_at_ms`).
#[derive(Default)]
pub struct Adapters {
    built: Mutex<HashMap<String, Built>>,
}

/// What [`Adapters::of`] finds for a provider: its adapter, `None` when it has no connection
/// yet, or why its connection is not usable.
pub type Found = Result<Option<Arc<dyn ProviderAdapter>>, AdapterError>;

impl Adapters {
    /// The adapter of `provider`; `Ok(None)` when it has no connection yet.
    pub async fn of(&self, pool: &AnyPool, provider: &str) -> Found {
        let mut found = self.of_all(pool, &[provider]).await?;
        found.remove(provider).unwrap_or(Ok(None))
    }

    /// What [`Self::of`] finds for each of `providers` (at least one), read in one statement:
    /// the delivery worker resolves a whole claimed batch at once instead of one read per
    /// attempt.
    pub async fn of_all(
        &self,
        pool: &AnyPool,
        providers: &[&str],
    ) -> Result<HashMap<String, Found>, sqlx::Error> {
        let stored = connections::find_all(pool, providers).await?;
        let mut built = self.built.lock().await;
        let mut found: HashMap<String, Found> = providers
            .iter()
            .map(|p| ((*p).to_owned(), Ok(None)))
            .collect();
        for stored in stored {
            let adapter = match built.get(&stored.provider) {
                Some((at, adapter)) if *at == stored.updated_at_ms => Ok(adapter.clone()),
                _ => Self::build(&stored).inspect(|adapter| {
                    built.insert(
                        stored.provider.clone(),
                        (stored.updated_at_ms, adapter.clone()),
                    );
                }),
            };
            found.insert(stored.provider.clone(), adapter.map(Some));
        }
        Ok(found)
    }

    fn build(stored: &StoredConnection) -> Result<Arc<dyn ProviderAdapter>, AdapterError> {
        let connection =
            connection_of(stored).map_err(|e| AdapterError::Unusable(e.to_string()))?;
        let adapter =
            adapter_for(&connection).map_err(|e| AdapterError::Unusable(e.to_string()))?;
        Ok(Arc::from(adapter))
    }
}

/// Why a provider's adapter is not there.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("the provider's connection is not usable: {0}")]
    Unusable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}
