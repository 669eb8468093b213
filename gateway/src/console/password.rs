//! `GET|POST /console/password`: every console user changes their own password here (fields
//! `csrf`, `current`, `new`, `again`). A user whose password somebody else chose (a one-time
//! password from an invitation, the CLI or a reset) is sent here before anything else and does
//! not type the current one again — they typed it a moment ago to log in.
//!
//! A refused form keeps nothing typed: these are passwords, never echoed back into a page.
//!
//! A wrong current password counts as a failed login of the user at that address (so a
//! session left open on someone else's screen is no way to guess the password at leisure),
//! and a changed password ends the user's other sessions: whoever changes it because they fear
//! someone else is signed in as them has shut that one out.

use axum::{
    Form,
    extract::{State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    ConsoleError, forms,
    layout::{self, tr},
    session::{PASSWORD_PATH, SignedIn},
};
use crate::{
    db::{begin_write, now_ms, sessions},
    password::{hash_password, verify_password},
    state::AppState,
    throttle::{self, Subject},
    users::{self, MIN_PASSWORD_CHARS, UserError},
    web::client_ip::ClientIp,
};

/// The form as posted.
#[derive(Default, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    again: String,
}

/// `GET /console/password`.
pub async fn page(user: SignedIn) -> Markup {
    form_page(&user, None)
}

fn form_page(user: &SignedIn, problem: Option<String>) -> Markup {
    let forced = user.0.must_change_password;
    let content = html! {
        @if forced {
            p.notice #must-change { (tr("password.must_change")) }
        }
        @if let Some(problem) = problem {
            p.error #password-error role="alert" { (problem) }
        }
        form.password #password-form method="post" action=(PASSWORD_PATH) {
            input type="hidden" name="csrf" value=(user.csrf_token());
            @if !forced {
                label for="current" { (tr("password.current")) }
                input #current type="password" name="current" required
                    autocomplete="current-password";
            }
            label for="new" { (tr("password.new")) }
            input #new type="password" name="new" required autocomplete="new-password"
                minlength=(MIN_PASSWORD_CHARS);
            p.muted { (tr("password.rules")) }
            label for="again" { (tr("password.again")) }
            input #again type="password" name="again" required autocomplete="new-password";
            button type="submit" { (tr("password.submit")) }
        }
    };
    layout::page(PASSWORD_PATH, &tr("password.title"), Some(user), content)
}

/// `POST /console/password`: on success, on to one-time codes (if not set up yet) or home.
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: SignedIn,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    match change(&state, &user, ip, &form).await {
        Err(Refused::Blocked(blocked)) => {
            let message = super::login::blocked_text(&blocked);
            let mut response = form_page(&user, Some(message)).into_response();
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            Ok(response)
        }
        Err(Refused::User(error)) => refused(&user, error),
        Ok(()) => {
            let next = if user.0.totp_enrolled {
                user.home()
            } else {
                super::totp::PATH
            };
            Ok(Redirect::to(next).into_response())
        }
    }
}

/// The form again with what was wrong with it (422), or the error page.
fn refused(user: &SignedIn, error: UserError) -> Result<Response, ConsoleError> {
    match error {
        UserError::Database(error) => Err(error.into()),
        UserError::Password(error) => Err(error.into()),
        error => {
            let mut response = form_page(user, Some(tr(error.message_key()))).into_response();
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
    }
}

/// Why a password was not changed.
enum Refused {
    User(UserError),
    /// Too many wrong current passwords (or failed logins) of the user at this address.
    Blocked(throttle::Blocked),
}

impl<E: Into<UserError>> From<E> for Refused {
    fn from(error: E) -> Refused {
        Refused::User(error.into())
    }
}

async fn change(
    state: &AppState,
    user: &SignedIn,
    ip: std::net::IpAddr,
    form: &PasswordForm,
) -> Result<(), Refused> {
    let email = user.email();
    users::check_new_password(email, &form.new, &form.again)?;
    let mut conn = state.pool.acquire().await?;
    let (old_hash, forced) = users::password_state(&mut conn, email).await?;
    drop(conn);
    if !forced {
        let attempts = Subject::console_login(email, ip);
        let now = now_ms();
        if let Some(blocked) = throttle::charge(&state.pool, &[&attempts], now).await? {
            tracing::warn!(%email, %ip, retry_after_s = blocked.retry_after_s,
                "password change rate-limited");
            return Err(Refused::Blocked(blocked));
        }
        if !verify_password(form.current.clone(), old_hash.clone()).await? {
            tracing::warn!(%email, %ip, "password change refused: wrong current password");
            return Err(UserError::WrongPassword.into());
        }
        throttle::clear(&state.pool, &attempts, now).await?;
    }
    if verify_password(form.new.clone(), old_hash).await? {
        return Err(UserError::SamePassword.into());
    }
    let new_hash = hash_password(form.new.clone()).await?;
    let mut tx = begin_write(&state.pool).await?;
    users::set_own_password_in(
        &mut tx,
        email,
        user.dealer(),
        ip,
        &new_hash,
        forced,
        now_ms(),
    )
    .await?;
    sessions::delete_others_of_user(&mut *tx, email, &user.0.id_hash).await?;
    tx.commit().await?;
    Ok(())
}
