//! `GET /api/health`: whether the gateway and its database are up.

use serde::{Deserialize, Serialize};

/// The gateway's answer to a health check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"` when everything works, `"degraded"` when the database does not answer.
    pub status: String,
    /// The gateway's version (its crate version).
    pub version: String,
    /// `"ok"` or `"unavailable"`.
    pub database: String,
    /// The protocol version the gateway speaks: [`crate::PROTOCOL_VERSION`].
    pub protocol: u16,
}
