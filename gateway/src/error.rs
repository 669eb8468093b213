//! The one error type of the HTTP API.
//!
//! Handlers return `Result<_, Error>`. The response carries only a stable machine-readable code
//! (`{"error":"not_found"}`) that the app maps to a message in the cashier's language; the
//! details (SQL, file paths, driver messages) go to the log, never to the client, because they
//! help an attacker more than they help a cashier.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// An error an API handler can return.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404 Not Found: no such route or record.
    #[error("not found")]
    NotFound,

    /// 409 Conflict, 422 Unprocessable Entity or 500, depending on what the database said:
    /// a unique-key violation is a conflict, a foreign-key or check violation is bad input,
    /// anything else is our fault.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// 500 Internal Server Error: anything unexpected.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// The JSON body of every error response.
#[derive(Debug, Serialize)]
struct ErrorBody {
    error: &'static str,
}

impl Error {
    /// The HTTP status and the stable code sent to the client.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Error::Database(sqlx::Error::RowNotFound) => (StatusCode::NOT_FOUND, "not_found"),
            Error::Database(sqlx::Error::Database(db)) => match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => (StatusCode::CONFLICT, "conflict"),
                sqlx::error::ErrorKind::ForeignKeyViolation
                | sqlx::error::ErrorKind::NotNullViolation
                | sqlx::error::ErrorKind::CheckViolation => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
                }
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
            Error::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_),
            ) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Error::Database(_) | Error::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        // Server-side faults are logged with their details; client mistakes (404, 409, 422)
        // are routine and only worth a debug line.
        if status.is_server_error() {
            tracing::error!(error = %self, status = status.as_u16(), "request failed");
        } else {
            tracing::debug!(error = %self, status = status.as_u16(), "request rejected");
        }
        (status, Json(ErrorBody { error: code })).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_are_not_sent() {
        let error = Error::Internal(anyhow::anyhow!("secret path /etc/tolem/key"));
        let (status, code) = error.status_and_code();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(code, "internal");
    }

    #[test]
    fn missing_row_is_not_found() {
        let (status, _) = Error::Database(sqlx::Error::RowNotFound).status_and_code();
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
