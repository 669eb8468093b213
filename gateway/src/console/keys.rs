//! `GET /console/keys` — the "API keys" page of the manual (§4.4): the dealer's points, each
//! with its registered keys, fingerprints and state — and the three confirming actions:
//! `POST /console/keys/{serial}/certify`, `POST /console/keys/{serial}/revoke`,
//! `POST /console/points/{code}/activate` (form field `csrf`; full access only).
//!
//! Everything is limited to the logged-in user's dealer: another dealer's key or point is
//! "not found", never shown or changed.

use axum::{
    Form,
    extract::{Path, State, rejection::FormRejection},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use tolem_protocol::messages::KeyState;

use super::{
    ConsoleError, language,
    layout::{page, tr, utc},
    login::CsrfForm,
    session::ConsoleUser,
};
use crate::{
    db::{
        keys::{self, Key, state_text},
        network::{self, Point},
        now_ms,
    },
    http::AppState,
};

/// `GET /console/keys`.
pub async fn keys_page(
    State(state): State<AppState>,
    user: ConsoleUser,
) -> Result<Markup, ConsoleError> {
    let points = network::points_of_dealer(&state.pool, user.dealer_code()).await?;
    let keys = keys::keys_of_dealer(&state.pool, user.dealer_code()).await?;
    let content = html! {
        p.intro { (tr("keys.intro")) }
        @if !user.has_full_access() {
            p.muted.view-only { (tr("keys.view_only")) }
        }
        @if points.is_empty() {
            p { (tr("keys.no_points")) }
        }
        @for point in &points {
            (point_section(point, keys.iter().filter(|k| k.point_code == point.code), &user))
        }
    };
    Ok(page(
        "/console/keys",
        &tr("keys.title"),
        Some(&user),
        content,
    ))
}

/// One point: its state, the activate button, the warning, its keys.
fn point_section<'a>(
    point: &Point,
    keys: impl Iterator<Item = &'a Key>,
    user: &ConsoleUser,
) -> Markup {
    let keys: Vec<&Key> = keys.collect();
    let pending = keys.iter().filter(|k| k.state == KeyState::Pending).count();
    let warning = rust_i18n::t!(
        "keys.warning_pending",
        locale = language::current().tag(),
        count = pending
    );
    html! {
        section.point #{ "point-" (point.code) } data-point=(point.code) data-active=(point.active) {
            h2 {
                span.code { (point.code) }
                span.name { (point.name) }
                @if point.active {
                    span.point-state.active { (tr("keys.point_active")) }
                } @else {
                    span.point-state.inactive { (tr("keys.point_inactive")) }
                    @if user.has_full_access() {
                        form.activate method="post" action={ "/console/points/" (point.code) "/activate" } {
                            input type="hidden" name="csrf" value=(user.csrf_token());
                            button type="submit" { (tr("keys.activate")) }
                        }
                    }
                }
            }
            @if pending > 1 {
                p.warning role="alert" data-point=(point.code) { (warning) }
            }
            @if keys.is_empty() {
                p.muted { (tr("keys.no_keys")) }
            } @else {
                table.keys {
                    thead { tr {
                        th { (tr("keys.col_point")) }
                        th { (tr("keys.col_serial")) }
                        th { (tr("keys.col_registered")) }
                        th { (tr("keys.col_state")) }
                        th { (tr("keys.col_key")) }
                        th { (tr("keys.col_actions")) }
                    } }
                    tbody {
                        @for key in keys { (key_row(key, point, user)) }
                    }
                }
            }
        }
    }
}

/// One key. The key cell's text is exactly the phone's *View key* text, `key=fingerprint`,
/// with the fingerprint large enough to compare digit by digit.
fn key_row(key: &Key, point: &Point, user: &ConsoleUser) -> Markup {
    let lang = language::current().tag();
    let state = tr(&format!("keys.state_{}", state_text(key.state)));
    let by = |label: &str, who: &Option<String>, at: Option<i64>| {
        who.as_ref().map(|who| {
            rust_i18n::t!(
                label,
                locale = lang,
                who = who,
                time = utc(at.unwrap_or_default())
            )
            .into_owned()
        })
    };
    let certified = by("keys.certified_by", &key.certified_by, key.certified_at_ms);
    let revoked = by("keys.revoked_by", &key.revoked_by, key.revoked_at_ms);
    html! {
        tr.key data-serial=(key.serial) data-state=(state_text(key.state)) {
            td.point { (point.code) br; span.muted { (point.name) } }
            td.serial { code { (key.serial) } }
            td.registered { (utc(key.registered_at_ms)) }
            td.state {
                (state)
                @for line in certified.iter().chain(revoked.iter()) {
                    br; span.muted { (line) }
                }
            }
            td { div.key {
                code.public-key { (key.public_key) } "=" code.fingerprint { (key.public_key.fingerprint()) }
            } }
            td.actions {
                @if user.has_full_access() {
                    @if key.state == KeyState::Pending {
                        (action_form("certify", &format!("/console/keys/{}/certify", key.serial), "keys.certify", user))
                    }
                    @if key.state != KeyState::Revoked {
                        (action_form("revoke", &format!("/console/keys/{}/revoke", key.serial), "keys.revoke", user))
                    }
                }
            }
        }
    }
}

fn action_form(class: &str, action: &str, label: &str, user: &ConsoleUser) -> Markup {
    html! {
        form class=(class) method="post" action=(action) {
            input type="hidden" name="csrf" value=(user.csrf_token());
            button type="submit" { (tr(label)) }
        }
    }
}

/// The checks of every confirming action: the session's CSRF token, then full access.
fn confirm(
    user: &ConsoleUser,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<(), ConsoleError> {
    user.check_csrf(&form.map(|Form(f)| f.csrf).unwrap_or_default())?;
    user.require_full_access()
}

fn back() -> Response {
    Redirect::to("/console/keys").into_response()
}

/// `POST /console/keys/{serial}/certify`: only a pending key of this dealer.
pub async fn certify(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(serial): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    confirm(&user, form)?;
    let (dealer, email) = (user.dealer_code(), user.email());
    if !keys::certify(&state.pool, &serial, dealer, email, now_ms()).await? {
        return Err(ConsoleError::NotFound);
    }
    let point = keys::key(&state.pool, &serial).await?.map(|k| k.point_code);
    tracing::info!(%serial, point = point.as_deref().unwrap_or(""), %email, "key certified");
    Ok(back())
}

/// `POST /console/keys/{serial}/revoke`: a pending or certified key of this dealer.
pub async fn revoke(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(serial): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    confirm(&user, form)?;
    let (dealer, email) = (user.dealer_code(), user.email());
    if !keys::revoke(&state.pool, &serial, Some(dealer), email, now_ms()).await? {
        return Err(ConsoleError::NotFound);
    }
    let point = keys::key(&state.pool, &serial).await?.map(|k| k.point_code);
    tracing::info!(%serial, point = point.as_deref().unwrap_or(""), %email, "key revoked in the console");
    Ok(back())
}

/// `POST /console/points/{code}/activate`: a point of this dealer.
pub async fn activate(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    confirm(&user, form)?;
    if !network::activate_point(&state.pool, &code, user.dealer_code()).await? {
        return Err(ConsoleError::NotFound);
    }
    tracing::info!(point = %code, email = %user.email(), "point activated");
    Ok(back())
}
