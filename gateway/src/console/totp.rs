//! `GET|POST /console/totp`: a console user sets up one-time codes (RFC 6238, see
//! [`crate::totp`]) — required of the operator's users and of full-access users before
//! anything else (`console::session`), open to every other user, who then logs in with a code
//! too. The page shows a QR code of a fresh secret (and the secret as text, for an
//! app without a camera); the user scans it and types the first code (field `otp`, with
//! `csrf`), which makes the secret theirs. From then on the page only says codes are set up:
//! the secret is never shown again.

use axum::{
    Form,
    extract::{State, rejection::FormRejection},
    response::{IntoResponse, Redirect, Response},
};
use maud::{PreEscaped, html};
use serde::Deserialize;

use super::{
    ConsoleError, forms,
    layout::{self, tr},
    session::{self, SignedIn},
};
use crate::{
    audit::{self, Action, Event},
    db::{begin_write, now_ms},
    throttle::{self, Subject},
    totp::{self, Verdict},
    {state::AppState, web::client_ip::ClientIp},
};

/// Where the enrolment page is; sensitive actions send a user without codes here.
pub const PATH: &str = "/console/totp";

/// The enrolment form as posted.
#[derive(Default, Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
}

/// `GET /console/totp`.
pub async fn page(State(state): State<AppState>, user: SignedIn) -> Result<Response, ConsoleError> {
    if user.0.must_change_password {
        return Ok(Redirect::to(session::PASSWORD_PATH).into_response());
    }
    let enrolment = totp::enrolment(&state.pool, user.email()).await?;
    let content = if enrolment.secret.is_some() {
        html! {
            p.done #totp-enrolled { (tr("totp.enrolled")) }
            p { a #to-home href=(user.home()) { (tr("totp.to_home")) } }
        }
    } else {
        let secret = totp::offer(&state.pool, user.email(), &totp::new_secret()?).await?;
        let url = totp::otpauth_url(&secret, user.email());
        let qr = totp::qr_svg(&url).unwrap_or_default();
        let grouped: Vec<String> = secret
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        html! {
            p.intro { (tr("totp.intro")) }
            div.enrol {
                figure.qr-code #totp-qr { (PreEscaped(qr)) }
                div {
                    p { (tr("totp.manual")) }
                    p { code.secret #totp-secret { (grouped.join(" ")) } }
                    p.muted { (tr("totp.parameters")) }
                    form.enrol #totp-enrol method="post" action=(PATH) {
                        input type="hidden" name="csrf" value=(user.csrf_token());
                        label for="otp" { (tr("totp.first_code")) }
                        input #otp type="text" name="otp" inputmode="numeric"
                            autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7"
                            required autofocus;
                        button type="submit" { (tr("totp.confirm")) }
                    }
                }
            }
        }
    };
    Ok(layout::page(PATH, &tr("totp.title"), Some(&user), content).into_response())
}

/// `POST /console/totp`: the first code confirms the pending secret.
pub async fn enrol(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: SignedIn,
    form: Result<Form<EnrolForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let email = user.email();
    let enrolment = totp::enrolment(&state.pool, email).await?;
    let Some(pending) = enrolment.pending.filter(|_| enrolment.secret.is_none()) else {
        // Enrolled already (a second tab), or the page was never opened: show where things are.
        return Ok(Redirect::to(PATH).into_response());
    };
    let subject = Subject::one_time_code(email);
    let now = now_ms();
    if let Some(blocked) = throttle::charge(&state.pool, &[&subject], now).await? {
        return Err(ConsoleError::TooManyCodes {
            retry_after_s: blocked.retry_after_s,
        });
    }
    let Verdict::Fresh(step) = totp::judge(&pending, 0, &form.otp, now) else {
        tracing::warn!(%email, %ip, "one-time code enrolment: wrong first code");
        return Err(ConsoleError::BadCode { reused: false });
    };
    throttle::clear(&state.pool, &subject, now).await?;
    let mut tx = begin_write(&state.pool).await?;
    if !totp::enrol_in(&mut tx, email, &pending, step, now).await? {
        tx.rollback().await?;
        return Ok(Redirect::to(PATH).into_response());
    }
    let event = Event {
        action: Action::TotpEnrolled,
        subject: format!("user:{email}"),
        // Never the secret itself.
        details: serde_json::json!({ "algorithm": "SHA1", "digits": totp::DIGITS, "period_s": totp::STEP_S }),
    };
    audit::record_in(&mut tx, &user.actor(ip), &event, now).await?;
    tx.commit().await?;
    tracing::info!(%email, "one-time codes enrolled");
    Ok(Redirect::to(user.home()).into_response())
}
