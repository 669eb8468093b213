//! `GET /console/points` — the dealer's points — and the two actions that hand out a point
//! password, which any logged-in user may take (the bank's "create and view" level creates):
//!
//! * `POST /console/points` registers a point (fields `csrf`, `name`, `address`,
//!   `working_hours`, `cashier_name`) with its first cashier `C1`, inactive until a full-access
//!   user activates it;
//! * `POST /console/points/{code}/password` gives a point a new password (field `csrf`).
//!
//! Both answer with a page that shows the point code and the password **once**: only its
//! Argon2 hash is stored, the page is never cached (`no-store`), and no later page can show it
//! again. Losing it means resetting it. A new password does not disturb phones whose keys are
//! registered already; it only protects getting new key cards.

use axum::{
    Form,
    extract::{Path, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    ConsoleError, confirm, forms,
    layout::{page, tenge, tr},
    session::ConsoleUser,
};
use crate::{
    db::{
        network::{self, NewPoint},
        now_ms,
    },
    dealer,
    password::hash_password,
    secrets::point_password,
    {state::AppState, web::client_ip::ClientIp},
};

const PATH: &str = "/console/points";

/// The registration form as posted.
#[derive(Default, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    working_hours: String,
    #[serde(default)]
    cashier_name: String,
}

/// A form with only the CSRF token.
#[derive(Default, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// How a point's state reads (a domain fact; re-exported for the pages that show it).
pub use crate::dealer::points::point_state;

/// A limit as shown: the amount, or "no limit".
pub fn limit_text(limit: Option<i64>) -> String {
    limit.map_or_else(|| tr("points.no_limit"), tenge)
}

/// `GET /console/points`.
pub async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
) -> Result<Markup, ConsoleError> {
    list_page(&state, &user, &RegisterForm::default(), None).await
}

/// The points and the registration form, filled with `typed` and saying `problem` if there is
/// one (a refused registration keeps what was typed).
async fn list_page(
    state: &AppState,
    user: &ConsoleUser,
    typed: &RegisterForm,
    problem: Option<String>,
) -> Result<Markup, ConsoleError> {
    let points = network::points_of_dealer(&state.pool, user.dealer_code()).await?;
    let content = html! {
        @if points.is_empty() {
            p { (tr("keys.no_points")) }
        } @else {
            div.table-scroll { table.points #points {
                thead { tr {
                    th { (tr("points.col_code")) }
                    th { (tr("points.name")) }
                    th { (tr("points.address")) }
                    th { (tr("points.working_hours")) }
                    th { (tr("points.col_state")) }
                    th { (tr("points.payment_limit")) }
                    th { (tr("points.daily_limit")) }
                } }
                tbody {
                    @for point in &points {
                        tr.point data-point=(point.code) data-state=(point_state(point)) {
                            td { a href={ (PATH) "/" (point.code) } { (point.code) } }
                            td { (point.name) }
                            td { (point.address) }
                            td { (point.working_hours) }
                            td { span class={ "point-state " (point_state(point)) } {
                                (tr(&format!("points.state_{}", point_state(point))))
                            } }
                            td.amount { (limit_text(point.payment_limit_tiyn)) }
                            td.amount { (limit_text(point.daily_limit_tiyn)) }
                        }
                    }
                }
            } }
        }
        h2 { (tr("points.register_title")) }
        p.muted { (tr("points.register_intro")) }
        @if let Some(problem) = problem {
            p.error #register-error role="alert" { (problem) }
        }
        form.register-point #register-point method="post" action=(PATH) {
            input type="hidden" name="csrf" value=(user.csrf_token());
            label for="name" { (tr("points.name")) }
            input #name type="text" name="name" required maxlength="100" value=(typed.name);
            label for="address" { (tr("points.address")) }
            input #address type="text" name="address" maxlength="200" value=(typed.address);
            label for="working_hours" { (tr("points.working_hours")) }
            input #working_hours type="text" name="working_hours" maxlength="100"
                value=(typed.working_hours) placeholder=(tr("points.working_hours_example"));
            label for="cashier_name" { (tr("points.cashier_name")) }
            input #cashier_name type="text" name="cashier_name" maxlength="100"
                value=(typed.cashier_name) placeholder=(tr("points.cashier_default"));
            button type="submit" { (tr("points.register")) }
        }
    };
    Ok(page(PATH, &tr("points.title"), Some(user), content))
}

/// The page that shows a point's code and password, once.
fn credentials_page(user: &ConsoleUser, title: &str, code: &str, password: &str) -> Markup {
    let content = html! {
        div.credentials #credentials {
            p { (tr("points.code")) ": " strong #new-point-code { (code) } }
            p { (tr("points.password")) ": " strong #new-point-password { (password) } }
        }
        p.warning role="alert" { (tr("points.password_once")) }
        p { a #to-point href={ (PATH) "/" (code) } { (tr("points.to_point")) } }
    };
    page(PATH, title, Some(user), content)
}

/// `POST /console/points`.
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    form: Result<Form<RegisterForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let checked = (
        forms::required_text(&form.name, 100).ok_or("points.bad_name"),
        forms::optional_text(&form.address, 200).ok_or("points.bad_text"),
        forms::optional_text(&form.working_hours, 100).ok_or("points.bad_text"),
        forms::optional_text(&form.cashier_name, 100).ok_or("points.bad_text"),
    );
    let (name, address, hours, cashier) = match checked {
        (Ok(name), Ok(address), Ok(hours), Ok(cashier)) => (name, address, hours, cashier),
        (name, address, hours, cashier) => {
            // The first field's reason, the form again with everything typed.
            let key = [name.err(), address.err(), hours.err(), cashier.err()]
                .into_iter()
                .flatten()
                .next()
                .unwrap_or("points.bad_text");
            let page = list_page(&state, &user, &form, Some(tr(key))).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let cashier = if cashier.is_empty() {
        tr("points.cashier_default")
    } else {
        cashier
    };

    // Hashed before the transaction: the slow part must not hold the database's write lock.
    let password = point_password()?;
    let hash = hash_password(password.clone()).await?;
    let now = now_ms();
    let mut tx = confirm::begin(&state, &user, &form.csrf).await?;
    let point = NewPoint {
        dealer_code: user.dealer_code(),
        name: &name,
        address: &address,
        working_hours: &hours,
        password_hash: &hash,
        cashier_name: &cashier,
        now_ms: now,
    };
    let code = dealer::points::register_point_in(&mut tx, &user.actor(ip), &point).await?;
    tx.commit().await?;
    Ok(credentials_page(&user, &tr("points.registered"), &code, &password).into_response())
}

/// `POST /console/points/{code}/password`.
pub async fn reset_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(code): Path<String>,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Markup, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let password = point_password()?;
    let hash = hash_password(password.clone()).await?;
    let now = now_ms();
    let mut tx = confirm::begin(&state, &user, &form.csrf).await?;
    let actor = user.actor(ip);
    dealer::points::reset_point_password_in(&mut tx, &actor, user.dealer_code(), &code, &hash, now)
        .await?;
    tx.commit().await?;
    Ok(credentials_page(
        &user,
        &tr("points.password_reset"),
        &code,
        &password,
    ))
}
