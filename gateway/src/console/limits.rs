//! A point's limits on its page: online per payment and per day (checked by the gateway on
//! every payment) and offline (the largest deferred payment, the most waiting at once, how
//! long a payment may wait — sent to the phone on its key card).
//!
//! * `POST /console/points/{code}/limits`: full access with a one-time code, applied at once;
//! * `POST /console/points/{code}/limits/prepare`: any user; a prepared operation for a
//!   full-access user to confirm.
//!
//! Fields of both: `csrf`; `payment_limit`, `daily_limit` (tenge; empty = no limit);
//! `offline_max_payment`, `offline_max_total` (tenge); `offline_max_age_hours` (0–720); and
//! `otp` for the first.

use axum::{
    Form,
    extract::{Path, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use tolem_protocol::messages::OfflineLimits;

use super::{
    ConsoleError, confirm, forms,
    layout::{otp_field, tenge_plain, tr},
    point::{path, to_point},
    points::limit_text,
    session::ConsoleUser,
};
use crate::{
    db::{
        network::{Limits, Point},
        now_ms,
        operations::Payload,
    },
    dealer::{self, DealerError},
    {state::AppState, web::client_ip::ClientIp},
};

const HOUR_MS: i64 = 60 * 60 * 1000;
/// The longest a deferred payment may be allowed to wait: 30 days.
const MAX_OFFLINE_AGE_HOURS: i64 = 30 * 24;

/// The limits form as posted.
#[derive(Default, Deserialize)]
pub struct LimitsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    payment_limit: String,
    #[serde(default)]
    daily_limit: String,
    #[serde(default)]
    offline_max_payment: String,
    #[serde(default)]
    offline_max_total: String,
    #[serde(default)]
    offline_max_age_hours: String,
}

impl LimitsForm {
    /// The limits typed, or the catalogue key of what is wrong with them.
    fn limits(&self) -> Result<Limits, &'static str> {
        let limit = |text: &str| forms::parse_limit(text).map_err(|()| "points.bad_limit");
        let offline = |text: &str| forms::parse_tenge(text).ok_or("points.bad_amount");
        let hours: i64 = self
            .offline_max_age_hours
            .trim()
            .parse()
            .ok()
            .filter(|h| (0..=MAX_OFFLINE_AGE_HOURS).contains(h))
            .ok_or("points.bad_hours")?;
        Ok(Limits {
            payment_limit_tiyn: limit(&self.payment_limit)?,
            daily_limit_tiyn: limit(&self.daily_limit)?,
            offline: OfflineLimits {
                max_payment_tiyn: offline(&self.offline_max_payment)?,
                max_total_tiyn: offline(&self.offline_max_total)?,
                max_age_ms: hours * HOUR_MS,
            },
        })
    }
}

/// A limits form refused: what was typed, and why.
pub struct Refused<'a> {
    pub typed: &'a LimitsForm,
    pub message: String,
}

/// The limits form: applied at once with a code by full access, prepared by anyone else. It
/// shows the point's limits, or what was typed and why it was refused.
pub fn section(point: &Point, user: &ConsoleUser, refused: Option<&Refused<'_>>) -> Markup {
    let here = path(&point.code);
    let full = user.has_full_access();
    let action = if full {
        format!("{here}/limits")
    } else {
        format!("{here}/limits/prepare")
    };
    let optional = |v: Option<i64>| v.map(tenge_plain).unwrap_or_default();
    let stored = LimitsForm {
        payment_limit: optional(point.payment_limit_tiyn),
        daily_limit: optional(point.daily_limit_tiyn),
        offline_max_payment: tenge_plain(point.offline.max_payment_tiyn),
        offline_max_total: tenge_plain(point.offline.max_total_tiyn),
        offline_max_age_hours: (point.offline.max_age_ms / HOUR_MS).to_string(),
        ..LimitsForm::default()
    };
    let shown = refused.map_or(&stored, |r| r.typed);
    let field = |id: &str, label: &str, value: &str, hint: &str| {
        html! {
            label for=(id) { (tr(label)) }
            input id=(id) type="text" name=(id) value=(value) inputmode="decimal"
                placeholder=(tr(hint));
        }
    };
    html! {
        h2 { (tr("points.limits_title")) }
        p.muted {
            (tr("points.limits_now")) ": " (limit_text(point.payment_limit_tiyn)) " / "
            (limit_text(point.daily_limit_tiyn))
        }
        form.limits #limits method="post" action=(action) {
            input type="hidden" name="csrf" value=(user.csrf_token());
            @if let Some(refused) = refused {
                p.error.form-error role="alert" { (refused.message) }
            }
            fieldset {
                legend { (tr("points.online")) }
                (field("payment_limit", "points.payment_limit", &shown.payment_limit, "points.no_limit"))
                (field("daily_limit", "points.daily_limit", &shown.daily_limit, "points.no_limit"))
            }
            fieldset {
                legend { (tr("points.offline")) }
                (field("offline_max_payment", "points.offline_max_payment", &shown.offline_max_payment, "points.tenge"))
                (field("offline_max_total", "points.offline_max_total", &shown.offline_max_total, "points.tenge"))
                label for="offline_max_age_hours" { (tr("points.offline_max_age_hours")) }
                // Text, not a number field: a number field shows nothing of what it cannot read,
                // and what was typed must stay to be corrected.
                input #offline_max_age_hours type="text" name="offline_max_age_hours"
                    inputmode="numeric" value=(shown.offline_max_age_hours);
            }
            @if full {
                (otp_field())
                button type="submit" { (tr("points.save_limits")) }
            } @else {
                p.muted { (tr("points.prepare_hint")) }
                button type="submit" { (tr("operations.prepare")) }
            }
        }
    }
}

/// Applies new limits inside `tx` and writes the audit row; false when the point is not the
/// dealer's. Shared with confirming a prepared limits operation; the work is
/// [`dealer::limits::set_limits_in`].
pub async fn apply_limits(
    tx: &mut sqlx::AnyConnection,
    user: &ConsoleUser,
    ip: std::net::IpAddr,
    code: &str,
    limits: &Limits,
    operation: Option<&str>,
) -> Result<bool, ConsoleError> {
    let actor = user.actor(ip);
    let dealer_code = user.dealer_code();
    match dealer::limits::set_limits_in(tx, &actor, dealer_code, code, limits, operation, now_ms())
        .await
    {
        Ok(()) => Ok(true),
        Err(DealerError::NotFound) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// `POST /console/points/{code}/limits`: full access, with a one-time code.
pub async fn set_limits(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(code): Path<String>,
    form: Result<Form<LimitsForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    user.require_full_access()?;
    let limits = match form.limits() {
        Ok(limits) => limits,
        Err(key) => return again(&state, &user, &code, &form, tr(key), UNPROCESSABLE).await,
    };
    let mut tx = match confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await {
        Ok(tx) => tx,
        Err(error) => {
            let message = confirm::code_refusal(error)?;
            return again(&state, &user, &code, &form, message, StatusCode::FORBIDDEN).await;
        }
    };
    let actor = user.actor(ip);
    let dealer_code = user.dealer_code();
    dealer::limits::set_limits_in(&mut tx, &actor, dealer_code, &code, &limits, None, now_ms())
        .await?;
    tx.commit().await?;
    Ok(to_point(&code))
}

/// `POST /console/points/{code}/limits/prepare`: any user; a full-access user confirms.
pub async fn prepare_limits(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(code): Path<String>,
    form: Result<Form<LimitsForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let limits = match form.limits() {
        Ok(limits) => limits,
        Err(key) => return again(&state, &user, &code, &form, tr(key), UNPROCESSABLE).await,
    };
    let mut tx = confirm::begin(&state, &user, &form.csrf).await?;
    dealer::points::point_in(&mut tx, user.dealer_code(), &code).await?;
    let payload = Payload::PointLimits {
        point: code.clone(),
        limits,
    };
    super::operations::prepare_in(&mut tx, &user, ip, &payload).await?;
    tx.commit().await?;
    Ok(Redirect::to(super::operations::PATH).into_response())
}

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// The point's page again, its limits form showing what was typed and `message` (`status`:
/// 422 for bad input, 403 for a refused one-time code).
async fn again(
    state: &AppState,
    user: &ConsoleUser,
    code: &str,
    typed: &LimitsForm,
    message: String,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let refused = super::point::Refused::Limits(Refused { typed, message });
    let page = super::point::render(state, user, code, Some(&refused)).await?;
    Ok((status, page).into_response())
}
