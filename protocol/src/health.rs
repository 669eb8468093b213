//! `GET /api/health`: whether the gateway and its database are up.

use serde::{Deserialize, Serialize};

/// The gateway's answer to a health check.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The gateway's clock when it answered (UTC milliseconds), for people and monitoring
    /// checking a gateway's time. Phones do not set their clock by it: this answer is unsigned
    /// (they learn from signed answers, which carry the same). Absent from older gateways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_time_ms: Option<i64>,
}
