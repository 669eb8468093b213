//! `GET /console/keys` — the "API keys" page of the manual (§4.4): the dealer's points, each
//! with its registered keys, fingerprints and state — and the two confirming actions on keys,
//! `POST /console/keys/{serial}/certify` and `POST /console/keys/{serial}/revoke` (fields
//! `csrf`, `otp`; full access and a one-time code). A point not activated yet has an
//! "Activate point" button here too (it posts to [`super::point`] and comes back). Each
//! point's full key history (every card, its key and when) is on the point's page.
//!
//! Everything is limited to the logged-in user's dealer: another dealer's key or point is
//! "not found", never shown or changed.

use axum::{
    Form,
    extract::{Path, State, rejection::FormRejection},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use tolem_protocol::messages::KeyState;

use super::{
    ConsoleError, confirm, forms,
    layout::{button_form, local_time, page, tr, when},
    session::ConsoleUser,
};
use crate::{
    db::{
        keys::{self, Key, state_text},
        network::{self, Point},
        now_ms,
    },
    dealer,
    {state::AppState, web::client_ip::ClientIp},
};

/// The form of a sensitive one-button action.
#[derive(Default, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub otp: String,
    #[serde(default)]
    pub back: String,
}

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
    // A point that already pays with a certified key rarely needs another: a new pending key
    // may be someone who learnt the point's password, so each one is named, not just counted.
    let has_certified = keys.iter().any(|k| k.state == KeyState::Certified);
    let new_keys: Vec<&&Key> = keys
        .iter()
        .filter(|k| has_certified && k.state == KeyState::Pending)
        .collect();
    let warning = rust_i18n::t!(
        "keys.warning_pending",
        locale = crate::web::language::current().tag(),
        count = pending
    );
    html! {
        section.point #{ "point-" (point.code) } data-point=(point.code) data-active=(point.active) {
            h2 {
                a.code href={ "/console/points/" (point.code) } { (point.code) }
                span.name { (point.name) }
                @if point.active {
                    span.point-state.active { (tr("keys.point_active")) }
                } @else if point.blocked_at_ms.is_some() {
                    span.point-state.blocked { (tr("points.state_blocked")) }
                } @else {
                    span.point-state.inactive { (tr("keys.point_inactive")) }
                    @if user.has_full_access() {
                        (button_form("activate", &format!("/console/points/{}/activate", point.code),
                            "keys.activate", user, true, Some("/console/keys")))
                    }
                }
            }
            @if pending > 1 {
                p.warning role="alert" data-point=(point.code) { (warning) }
            }
            @for key in &new_keys {
                p.warning.new-key role="alert" data-serial=(key.serial) {
                    (rust_i18n::t!(
                        "keys.warning_new_key",
                        locale = crate::web::language::current().tag(),
                        serial = key.serial
                    ))
                }
            }
            @if keys.is_empty() {
                p.muted { (tr("keys.no_keys")) }
            } @else {
                div.table-scroll { table.keys {
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
                } }
            }
        }
    }
}

/// The "certified by …, time" and "revoked by …, time" lines of a key.
pub fn key_events(key: &Key) -> Vec<String> {
    let lang = crate::web::language::current().tag();
    let by = |label: &str, who: &Option<String>, at: Option<i64>| {
        who.as_ref().map(|who| {
            rust_i18n::t!(
                label,
                locale = lang,
                who = who,
                time = local_time(at.unwrap_or_default())
            )
            .into_owned()
        })
    };
    let certified = by("keys.certified_by", &key.certified_by, key.certified_at_ms);
    let revoked = by("keys.revoked_by", &key.revoked_by, key.revoked_at_ms);
    certified.into_iter().chain(revoked).collect()
}

/// One key. The key cell's text is exactly the phone's *View key* text, `key=fingerprint`,
/// with the fingerprint large enough to compare digit by digit.
fn key_row(key: &Key, point: &Point, user: &ConsoleUser) -> Markup {
    let state = tr(&format!("keys.state_{}", state_text(key.state)));
    html! {
        tr.key data-serial=(key.serial) data-state=(state_text(key.state)) {
            td.point { (point.code) br; span.muted { (point.name) } }
            td.serial { code { (key.serial) } }
            td.registered { (when(key.registered_at_ms)) }
            td.state {
                (state)
                @for line in key_events(key) {
                    br; span.muted { (line) }
                }
            }
            td { div.key {
                code.public-key { (key.public_key) } "=" code.fingerprint { (key.public_key.fingerprint()) }
            } }
            td.actions {
                @if user.has_full_access() {
                    @if key.state == KeyState::Pending {
                        (button_form("certify", &format!("/console/keys/{}/certify", key.serial), "keys.certify", user, true, None))
                    }
                    @if key.state != KeyState::Revoked {
                        (button_form("revoke", &format!("/console/keys/{}/revoke", key.serial), "keys.revoke", user, true, None))
                    }
                }
            }
        }
    }
}

fn back() -> Response {
    Redirect::to("/console/keys").into_response()
}

/// `POST /console/keys/{serial}/certify`: only a pending key of this dealer.
pub async fn certify(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(serial): Path<String>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    let mut tx = confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await?;
    dealer::keys::certify_key_in(
        &mut tx,
        &user.actor(ip),
        user.dealer_code(),
        &serial,
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(back())
}

/// `POST /console/keys/{serial}/revoke`: a pending or certified key of this dealer.
pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(serial): Path<String>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    let mut tx = confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await?;
    dealer::keys::revoke_key_in(
        &mut tx,
        &user.actor(ip),
        user.dealer_code(),
        &serial,
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(back())
}
