//! A point's cashiers on its page: every signed request names one, so a dealer can stop one
//! person without stopping the kiosk.
//!
//! * `POST /console/points/{code}/cashiers` (fields `csrf`, `name`): any user registers a
//!   cashier under the next code `C<n>` — active at once when registered by a full-access
//!   user, blocked until one unblocks it when registered by a create-and-view user;
//! * `POST /console/points/{code}/cashiers/{cashier}/block` and `.../unblock` (fields `csrf`,
//!   `otp`): full access with a one-time code; a blocked cashier's requests get 54.

use axum::{
    Form,
    extract::{Path, State, rejection::FormRejection},
    response::Response,
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    ConsoleError, confirm, forms,
    keys::ConfirmForm,
    layout::{button_form, tr},
    point::{path, to_point},
    session::ConsoleUser,
};
use crate::{
    db::{
        network::{Cashier, Point},
        now_ms,
    },
    dealer,
    {state::AppState, web::client_ip::ClientIp},
};

/// The cashier form as posted.
#[derive(Default, Deserialize)]
pub struct CashierForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// The cashiers table and the form that adds one.
pub fn section(point: &Point, cashiers: &[Cashier], user: &ConsoleUser) -> Markup {
    let here = path(&point.code);
    html! {
        h2 { (tr("points.cashiers")) }
        div.table-scroll { table.cashiers #cashiers {
            thead { tr {
                th { (tr("points.col_code")) }
                th { (tr("points.name")) }
                th { (tr("points.col_state")) }
                th { (tr("keys.col_actions")) }
            } }
            tbody {
                @for cashier in cashiers {
                    tr.cashier data-cashier=(cashier.code) data-active=(cashier.active) {
                        td { (cashier.code) }
                        td { (cashier.name) }
                        td { @if cashier.active { (tr("points.state_active")) } @else { (tr("points.state_blocked")) } }
                        td.actions {
                            @if user.has_full_access() {
                                @let (verb, label) = if cashier.active { ("block", "points.block_cashier") } else { ("unblock", "points.unblock_cashier") };
                                (button_form(verb, &format!("{here}/cashiers/{}/{verb}", cashier.code), label, user, true, None))
                            }
                        }
                    }
                }
            }
        } }
        form.register-cashier #register-cashier method="post" action={ (here) "/cashiers" } {
            input type="hidden" name="csrf" value=(user.csrf_token());
            label for="cashier-name" { (tr("points.cashier_name")) }
            input #cashier-name type="text" name="name" required maxlength="100";
            button type="submit" { (tr("points.register_cashier")) }
        }
    }
}

/// `POST /console/points/{code}/cashiers`: any user.
pub async fn register_cashier(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(code): Path<String>,
    form: Result<Form<CashierForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let name = forms::required_text(&form.name, 100)
        .ok_or_else(|| ConsoleError::invalid("points.bad_name", path(&code)))?;
    let mut tx = confirm::begin(&state, &user, &form.csrf).await?;
    let actor = user.actor(ip);
    dealer::cashiers::register_cashier_in(
        &mut tx,
        &actor,
        user.dealer_code(),
        (&code, &name),
        user.has_full_access(),
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(to_point(&code))
}

async fn set_cashier(
    state: AppState,
    ip: std::net::IpAddr,
    user: ConsoleUser,
    (code, cashier): (String, String),
    form: ConfirmForm,
    active: bool,
) -> Result<Response, ConsoleError> {
    let mut tx = confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await?;
    let ids = (code.as_str(), cashier.as_str());
    dealer::cashiers::set_cashier_active_in(
        &mut tx,
        &user.actor(ip),
        user.dealer_code(),
        ids,
        active,
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(to_point(&code))
}

/// `POST /console/points/{code}/cashiers/{cashier}/block`.
pub async fn block_cashier(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(ids): Path<(String, String)>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    set_cashier(state, ip, user, ids, forms::read(form), false).await
}

/// `POST /console/points/{code}/cashiers/{cashier}/unblock`.
pub async fn unblock_cashier(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(ids): Path<(String, String)>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    set_cashier(state, ip, user, ids, forms::read(form), true).await
}
