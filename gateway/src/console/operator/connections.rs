//! `GET|POST /console/operator/providers/{code}/connection` — how the gateway reaches a
//! provider: protocol, URL, HTTP Basic credentials, timeout, an extra root certificate, and how
//! many payments may be on their way to it at once (what its contract allows).
//! Saving needs the operator's one-time code; the password is never shown back (left empty, the
//! stored one is kept) and never logged. The rules and the audit row are in
//! [`crate::delivery::connections`], shared with the CLI.

use axum::{
    Form, Router,
    extract::{Path, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use maud::{Markup, html};
use serde::Deserialize;

use super::super::{
    ConsoleError, confirm, forms,
    layout::{otp_field, page, tr, when},
    session::OperatorUser,
};
use crate::{
    db::{
        connections::{self, StoredConnection},
        now_ms,
    },
    delivery::connections::{self as domain, ConnectionError},
    state::AppState,
    web::client_ip::ClientIp,
};

/// Routes relative to `/console/operator`.
pub fn router() -> Router<AppState> {
    Router::new().route("/providers/{code}/connection", get(show).post(save))
}

fn path(code: &str) -> String {
    format!("/console/operator/providers/{code}/connection")
}

/// The form as typed.
#[derive(Debug, Default, Deserialize)]
pub struct ConnectionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// "1" on a form sent back refused after a password was typed: it is never sent back, and
    /// an empty field then must not silently mean "keep the stored one".
    #[serde(default)]
    password_retype: String,
    #[serde(default)]
    timeout_ms: String,
    #[serde(default)]
    ca_cert_pem: String,
    #[serde(default)]
    in_flight_max: String,
}

/// A refusal's words in the user's language.
fn error_text(error: &ConnectionError) -> String {
    tr(match error {
        ConnectionError::UnknownProvider(_) => "connections.error_provider",
        ConnectionError::UnknownProtocol(_) => "connections.error_protocol",
        ConnectionError::BadUrl => "connections.error_url",
        ConnectionError::HalfCredentials => "connections.error_credentials",
        ConnectionError::PlainCredentials => "connections.error_plain_credentials",
        ConnectionError::BadTimeout => "connections.error_timeout",
        ConnectionError::BadInFlight => "connections.error_in_flight",
        ConnectionError::Unusable(_) => "connections.error_unusable",
        ConnectionError::Database(_) => "errors.internal",
    })
}

fn render(
    user: &OperatorUser,
    code: &str,
    stored: Option<&StoredConnection>,
    typed: &ConnectionForm,
    error: Option<&str>,
    places_default: usize,
) -> Markup {
    let here = path(code);
    // What an empty field means, with the figure: the operator compares it with the contract's.
    let places_placeholder = rust_i18n::t!(
        "connections.in_flight_default",
        locale = crate::web::language::current().tag(),
        places = places_default
    );
    let content = html! {
        p { a href=(format!("/console/operator/providers/{code}")) { "← " (code) } }
        p.muted { (tr("connections.intro")) }
        @match stored {
            Some(stored) => p #connection-state data-connected="true" {
                (tr("connections.connected")) ": " code { (stored.url) } " · "
                (when(stored.updated_at_ms))
                @if stored.password.is_some() { " · " (tr("connections.with_password")) }
            },
            None => p #connection-state data-connected="false" { (tr("connections.none")) },
        }
        @if let Some(error) = error {
            p.error #form-error role="alert" { (error) }
        }
        form #connection method="post" action=(here) {
            input type="hidden" name="csrf" value=(user.csrf_token());
            label for="protocol" { (tr("connections.protocol")) }
            select #protocol name="protocol" { option value="osmp" selected { "OSMP" } }
            label for="url" { (tr("connections.url")) }
            input #url type="url" name="url" required maxlength="500" value=(typed.url)
                placeholder="https://provider.kz/osmp";
            label for="username" { (tr("connections.username")) }
            input #username type="text" name="username" maxlength="100" autocomplete="off"
                value=(typed.username);
            label for="password" { (tr("connections.password")) }
            @if typed.password_retype == "1" {
                input type="hidden" name="password_retype" value="1";
                p.notice #password-retype { (tr("connections.password_retype")) }
                input #password type="password" name="password" maxlength="200" required
                    autocomplete="new-password";
            } @else {
                input #password type="password" name="password" maxlength="200"
                    autocomplete="new-password" placeholder=(tr("connections.password_keep"));
            }
            label for="timeout_ms" { (tr("connections.timeout")) }
            input #timeout_ms type="text" name="timeout_ms" inputmode="numeric" required
                value=(typed.timeout_ms);
            label for="ca_cert_pem" { (tr("connections.ca_cert")) }
            textarea #ca_cert_pem name="ca_cert_pem" rows="4" { (typed.ca_cert_pem) }
            label for="in_flight_max" { (tr("connections.in_flight")) }
            input #in_flight_max type="text" name="in_flight_max" inputmode="numeric"
                placeholder=(places_placeholder) value=(typed.in_flight_max);
            (otp_field())
            button type="submit" { (tr("connections.save")) }
        }
    };
    page(
        &here,
        &format!("{} — {code}", tr("connections.title")),
        Some(user),
        content,
    )
}

/// A field's text, or `None` when left empty.
fn filled(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A number as typed, spaces between its digits allowed ("15 000").
fn whole_number(text: &str) -> Result<i64, std::num::ParseIntError> {
    text.trim().replace(' ', "").parse()
}

/// The form filled from what is stored (never the password).
fn typed_from(stored: Option<&StoredConnection>) -> ConnectionForm {
    ConnectionForm {
        url: stored.map(|s| s.url.clone()).unwrap_or_default(),
        username: stored.and_then(|s| s.username.clone()).unwrap_or_default(),
        timeout_ms: stored.map_or(15_000, |s| s.timeout_ms).to_string(),
        ca_cert_pem: stored
            .and_then(|s| s.ca_cert_pem.clone())
            .unwrap_or_default(),
        in_flight_max: stored
            .and_then(|s| s.in_flight_max)
            .map(|n| n.to_string())
            .unwrap_or_default(),
        ..ConnectionForm::default()
    }
}

/// `GET /console/operator/providers/{code}/connection`.
async fn show(
    State(state): State<AppState>,
    user: OperatorUser,
    Path(code): Path<String>,
) -> Result<Markup, ConsoleError> {
    let exists: Option<String> = sqlx::query_scalar("SELECT code FROM providers WHERE code = $1")
        .bind(&code)
        .fetch_optional(&state.pool)
        .await?;
    if exists.is_none() {
        return Err(ConsoleError::NotFound);
    }
    let stored = connections::find(&state.pool, &code).await?;
    Ok(render(
        &user,
        &code,
        stored.as_ref(),
        &typed_from(stored.as_ref()),
        None,
        state.delivery.places_default(),
    ))
}

/// `POST /console/operator/providers/{code}/connection`.
async fn save(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(code): Path<String>,
    form: Result<Form<ConnectionForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    let stored = connections::find(&state.pool, &code).await?;
    let refuse = |message: String, form: &ConnectionForm| {
        let typed = ConnectionForm {
            url: form.url.clone(),
            username: form.username.clone(),
            timeout_ms: form.timeout_ms.clone(),
            ca_cert_pem: form.ca_cert_pem.clone(),
            in_flight_max: form.in_flight_max.clone(),
            password_retype: if form.password.is_empty() && form.password_retype != "1" {
                String::new()
            } else {
                "1".to_owned()
            },
            ..ConnectionForm::default()
        };
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            render(
                &user,
                &code,
                stored.as_ref(),
                &typed,
                Some(&message),
                state.delivery.places_default(),
            ),
        )
            .into_response()
    };
    let Ok(timeout_ms) = whole_number(&form.timeout_ms) else {
        return Ok(refuse(error_text(&ConnectionError::BadTimeout), &form));
    };
    // Empty: the gateway's setting.
    let in_flight_max = match filled(&form.in_flight_max).as_deref().map(whole_number) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return Ok(refuse(error_text(&ConnectionError::BadInFlight), &form)),
    };
    if form.password.is_empty() && form.password_retype == "1" {
        return Ok(refuse(tr("connections.password_retype"), &form));
    }
    let username = filled(&form.username);
    // An empty password keeps the stored one for the same user name.
    let password = match (form.password.is_empty(), &stored) {
        (false, _) => Some(form.password.clone()),
        (true, Some(stored)) if stored.username == username => stored.password.clone(),
        (true, _) => None,
    };
    let now = now_ms();
    let connection = StoredConnection {
        provider: code.clone(),
        protocol: "osmp".to_owned(),
        url: form.url.trim().to_owned(),
        username,
        password,
        timeout_ms,
        ca_cert_pem: filled(&form.ca_cert_pem),
        in_flight_max,
        updated_at_ms: now,
    };
    let mut tx = match confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await {
        Ok(tx) => tx,
        Err(error) => return Ok(refuse(confirm::code_refusal(error)?, &form)),
    };
    match domain::connect_in(&mut tx, &user.actor(ip), &connection, now).await {
        Ok(()) => {
            tx.commit().await?;
            tracing::info!(provider = %code, url = %connection.url, email = %user.email(),
                "provider connection saved");
            Ok(Redirect::to(&path(&code)).into_response())
        }
        Err(ConnectionError::Database(error)) => Err(error.into()),
        Err(ConnectionError::UnknownProvider(_)) => Err(ConsoleError::NotFound),
        Err(error) => {
            tx.rollback().await?;
            Ok(refuse(error_text(&error), &form))
        }
    }
}
