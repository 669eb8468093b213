//! The emulator over HTTP.
//!
//! * `GET /osmp?command=check|pay&...`: the protocol (answers `text/xml`); HTTP 401 without
//!   the configured Basic credentials.
//! * `GET|POST /control/faults`: the faults in force, as JSON ([`super::faults::Faults`]).
//! * `GET /control/payments`: every txn_id seen in a pay, as JSON ([`super::ledger::Payment`]).
//! * `GET /control/health`: 200 once serving.
//!
//! The control routes take no credentials: the emulator is a test fixture, not to be exposed.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use bytes::Bytes;

use crate::osmp::{self, Command, ResultCode};

use super::faults::Faults;
use super::provider::{Provider, Reply};

/// The emulator's routes.
pub fn app(provider: Arc<Provider>) -> Router {
    Router::new()
        .route("/osmp", get(protocol))
        .route("/control/faults", get(faults).post(set_faults))
        .route("/control/payments", get(payments))
        .route("/control/health", get(|| async { "ok" }))
        .with_state(provider)
}

async fn protocol(
    State(provider): State<Arc<Provider>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if !authorized(&provider, &headers) {
        tracing::info!("refused a request without the right credentials");
        let challenge = HeaderValue::from_static(r#"Basic realm="osmp""#);
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response();
    }
    let command = match Command::from_query(query.as_deref().unwrap_or("")) {
        Ok(command) => command,
        Err(error) => {
            tracing::info!(%error, "malformed request");
            let answer = osmp::Response {
                result: ResultCode::Other.code(),
                comment: Some(error.to_string()),
                ..osmp::Response::default()
            };
            return xml(answer.encode());
        }
    };
    let delay = provider.delay();
    let after_commit = provider.delays_after_commit();
    if !after_commit && !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    // Decided (and a pay committed) at once, before any wait below: a client that gives up
    // and drops the connection cancels only the answer, as with a real provider.
    let reply = provider.answer(&command);
    if after_commit && !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (command_name, txn_id) = (command.name(), command.txn_id());
    match reply {
        Reply::Answer(answer) => {
            tracing::info!(
                command = command_name,
                txn_id,
                result = answer.result,
                "answered"
            );
            xml(answer.encode())
        }
        Reply::Status500 => {
            tracing::info!(command = command_name, txn_id, "fault: HTTP 500");
            (StatusCode::INTERNAL_SERVER_ERROR, "emulated failure").into_response()
        }
        Reply::Cut(answer) => {
            tracing::info!(
                command = command_name,
                txn_id,
                "fault: committed, answer cut"
            );
            cut(answer.encode())
        }
    }
}

fn authorized(provider: &Provider, headers: &HeaderMap) -> bool {
    let Some((username, password)) = provider.credentials() else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
        })
        .and_then(|decoded| String::from_utf8(decoded).ok());
    given.is_some_and(|given| given == format!("{username}:{password}"))
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, osmp::CONTENT_TYPE)], body).into_response()
}

/// Headers and the first half of the answer, then an error from the body stream: hyper drops
/// the connection without finishing the chunked body, so the client sees it die mid-answer.
fn cut(body: String) -> Response {
    let body = Bytes::from(body.into_bytes());
    let half = body.slice(..body.len() / 2);
    let chunks: [Result<Bytes, std::io::Error>; 2] = [
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "emulated cut",
        )),
    ];
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    ([(header::CONTENT_TYPE, osmp::CONTENT_TYPE)], body).into_response()
}

async fn faults(State(provider): State<Arc<Provider>>) -> Json<Faults> {
    Json(provider.faults())
}

async fn set_faults(State(provider): State<Arc<Provider>>, Json(faults): Json<Faults>) -> Response {
    match provider.set_faults(faults) {
        Ok(faults) => {
            tracing::info!(?faults, "faults set");
            Json(faults).into_response()
        }
        Err(error) => (StatusCode::UNPROCESSABLE_ENTITY, error.to_string()).into_response(),
    }
}

async fn payments(State(provider): State<Arc<Provider>>) -> Response {
    Json(provider.payments()).into_response()
}
