//! What the gateway asks of a provider, whatever protocol it speaks: check an account, pay.
//!
//! One call is one exchange over the network. The adapter does not retry: the gateway owns the
//! retry policy (it stores each exchange, and asks again later with the same `txn_id`).

use std::future::Future;
use std::pin::Pin;

use tolem_protocol::messages::ProviderRefusal;

use crate::client::OsmpAdapter;
use crate::connection::{Connection, ConnectionError, Protocol};

/// Does this account exist, and may it be paid this sum? Nothing is committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOrder {
    /// The gateway's number of the payment, unique per provider.
    pub txn_id: u64,
    pub account: String,
    pub amount_tiyn: i64,
}

/// Credit this account. Sending it again with the same `txn_id` must not pay twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayOrder {
    /// The gateway's number of the payment: the provider's idempotency key, so a retry keeps it.
    pub txn_id: u64,
    /// When the point took the payment, UTC milliseconds.
    pub txn_date_ms: i64,
    pub account: String,
    pub amount_tiyn: i64,
}

/// The longest provider number the gateway keeps (from an answer, or typed by the operator).
pub const PROVIDER_TXN_MAX_CHARS: usize = 64;

/// Whether `text` is a provider's number the gateway keeps and tells the phone: 1 to
/// [`PROVIDER_TXN_MAX_CHARS`] letters, digits or `-` `_` `/`. The phone reads the number in
/// every `status` answer, whose size it bounds: a provider's answer may be 64 KiB.
pub fn is_provider_txn(text: &str) -> bool {
    !text.is_empty()
        && text.chars().count() <= PROVIDER_TXN_MAX_CHARS
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '/'))
}

/// What the provider said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// result 0
    Accepted {
        /// The provider's number of the payment (pay answers carry it).
        provider_txn: Option<String>,
        /// Display fields of a check answer (the account holder's name, a debt...).
        fields: Vec<(String, String)>,
        comment: Option<String>,
    },
    /// result 1 or 90: ask again later with the same txn_id
    Later {
        result: u16,
        comment: Option<String>,
    },
    /// any other result: final
    Refused {
        result: u16,
        refusal: ProviderRefusal,
        comment: Option<String>,
    },
}

/// No answer came that could be read. Every one of these means "ask again later with the
/// same txn_id": the provider may or may not have committed the payment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("the provider did not answer in time")]
    Timeout,
    #[error("could not reach the provider, or the connection broke: {0}")]
    Connect(String),
    #[error("the provider answered HTTP {0}")]
    Status(u16),
    #[error("the provider's answer is not one of the protocol: {0}")]
    Unreadable(String),
}

/// One request and what came of it, for the gateway to store and show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// What was sent: method and URL with query. No secret is in it (credentials travel in a
    /// header, and URLs with credentials are refused).
    pub request: String,
    /// The raw answer body, if one came.
    pub response: Option<String>,
    pub latency_ms: u64,
    pub result: Result<Answer, TransportError>,
}

/// A provider, as the gateway calls it.
pub trait ProviderAdapter: Send + Sync {
    fn check<'a>(
        &'a self,
        order: &'a CheckOrder,
    ) -> Pin<Box<dyn Future<Output = Exchange> + Send + 'a>>;
    fn pay<'a>(
        &'a self,
        order: &'a PayOrder,
    ) -> Pin<Box<dyn Future<Output = Exchange> + Send + 'a>>;
}

/// The adapter for a connection's protocol, ready to use.
pub fn adapter_for(connection: &Connection) -> Result<Box<dyn ProviderAdapter>, ConnectionError> {
    match connection.protocol {
        Protocol::Osmp => Ok(Box::new(OsmpAdapter::new(connection)?)),
    }
}
