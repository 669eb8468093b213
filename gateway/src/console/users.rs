//! Console users of a party, managed by its full-access users (the operator's can also manage
//! every dealer's). The dealer's page is here; the operator's (`operator/users.rs`) reuses the
//! rendering and the handlers' bodies. Who may act on whom is decided by the domain
//! ([`crate::users::manage`]); every change needs the acting user's own fresh one-time code
//! ([`confirm::begin_confirmed`]).
//!
//! Routes (relative to `/console`), for a dealer's full-access users (create-and-view: 403):
//! * `GET /users` — `table#users` with a `tr.user[data-user=email]` per user (`data-level`,
//!   `data-state` = `active|blocked`, `data-totp` = `yes|no`), the per-user buttons and
//!   `form#invite-user`;
//! * `POST /users` (fields `csrf`, `email`, `access_level` = `full|create_view`, `otp`):
//!   invite; 200 with the page showing the one-time password once in `#one-time-password`
//!   (its owner in `#one-time-password-for`). A bad or taken e-mail, or a wrong code, answers
//!   the page again with `#users-error` and what was typed (422; 403 for the code);
//! * `POST /users/{email}/block|unblock|reset-password|reset-totp` (fields `csrf`, `otp`):
//!   303 back to the page; `reset-password` answers 200 with the new one-time password shown
//!   once. A user out of reach is 404; acting on oneself or blocking the last full-access
//!   user is 422 with the reason.

use axum::{
    Form, Router,
    extract::{Path, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use maud::{Markup, html};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Deserialize;

use super::{
    ConsoleError, confirm, forms,
    layout::{self, otp_field, tr, when},
    session::{ConsoleUser, SignedIn},
};
use crate::{
    db::{
        now_ms,
        sessions::{AccessLevel, Party},
    },
    state::AppState,
    users::{
        self, NewPassword, NewUser, OneTimePassword, UserError,
        manage::{self, Listed, Manager},
    },
    web::client_ip::ClientIp,
};

/// The dealer's page.
const PATH: &str = "/console/users";

/// Routes relative to `/console`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(dealer_page).post(dealer_invite))
        .route("/users/{email}/{verb}", post(dealer_act))
}

/// Which users a page shows and acts on: `base` is the page's path, `party` whose users,
/// `dealer_field` the dealer named in the operator's view of a dealer (kept in every form).
pub(super) struct View {
    pub base: &'static str,
    pub party: Party,
    pub dealer_field: Option<String>,
}

impl View {
    /// The page itself (with `?dealer=` in the operator's view of a dealer).
    pub fn here(&self) -> String {
        match &self.dealer_field {
            Some(code) => format!("{}?dealer={code}", self.base),
            None => self.base.to_owned(),
        }
    }
}

/// The invitation form as posted.
#[derive(Default, Deserialize)]
pub(super) struct InviteForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub access_level: String,
    #[serde(default)]
    pub otp: String,
    #[serde(default)]
    pub dealer: String,
}

/// A per-user button's form as posted.
#[derive(Default, Deserialize)]
pub(super) struct ActForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub otp: String,
    #[serde(default)]
    pub dealer: String,
}

/// What a page shows besides the list: a one-time password once, a refusal, the typed form.
#[derive(Default)]
pub(super) struct Extra {
    pub shown: Option<(String, OneTimePassword)>,
    pub problem: Option<String>,
    pub typed_email: String,
    pub typed_level: String,
}

/// The acting user as the domain knows them.
pub(super) fn manager(user: &SignedIn) -> Manager<'_> {
    Manager {
        email: user.email(),
        party: &user.0.party,
        access_level: user.0.access_level,
    }
}

/// A domain refusal as the console answers it.
pub(super) fn refusal(error: UserError, back: String) -> ConsoleError {
    match error {
        UserError::NotAllowed => ConsoleError::Forbidden,
        UserError::NotFound | UserError::NoSuchDealer => ConsoleError::NotFound,
        UserError::Database(error) => error.into(),
        UserError::Password(error) => error.into(),
        UserError::Random(error) => error.into(),
        error => ConsoleError::Invalid {
            message: tr(error.message_key()),
            back,
        },
    }
}

/// The page of `view`'s users with `extra`, answered with `status`.
pub(super) async fn show(
    state: &AppState,
    user: &SignedIn,
    view: &View,
    extra: Extra,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let mut conn = state.pool.acquire().await?;
    let listed = manage::list_in(&mut conn, &manager(user), &view.party)
        .await
        .map_err(|error| refusal(error, view.here()))?;
    drop(conn);
    let mut response = render(user, view, &listed, &extra).into_response();
    *response.status_mut() = status;
    Ok(response)
}

fn level_key(level: AccessLevel) -> &'static str {
    match level {
        AccessLevel::Full => "users.level_full",
        AccessLevel::CreateView => "users.level_create_view",
    }
}

fn render(user: &SignedIn, view: &View, listed: &[Listed], extra: &Extra) -> Markup {
    let title = match view.party.dealer_code() {
        Some(code) if user.is_operator() => format!("{} {code}", tr("users.of_dealer")),
        _ => tr("users.title"),
    };
    let operator_page = user.is_operator();
    let typed_level = if extra.typed_level.is_empty() {
        "create_view"
    } else {
        extra.typed_level.as_str()
    };
    let content = html! {
        @if operator_page {
            form.dealer-users #dealer-users method="get" action=(view.base) {
                label for="dealer-code" { (tr("users.pick_dealer")) }
                input #dealer-code type="text" name="dealer" maxlength="20"
                    value=(view.dealer_field.as_deref().unwrap_or_default());
                button type="submit" { (tr("users.show_dealer")) }
                @if view.dealer_field.is_some() {
                    " " a #operator-users href=(view.base) { (tr("users.of_operator")) }
                }
            }
        }
        @if let Some((email, password)) = &extra.shown {
            div.notice #one-time-password-box role="status" {
                p { (tr("users.one_time_password_for")) " " strong #one-time-password-for { (email) } }
                p { code.secret #one-time-password { (password.0) } }
                p.muted { (tr("users.one_time_password_note")) }
            }
        }
        @if let Some(problem) = &extra.problem {
            p.error #users-error role="alert" { (problem) }
        }
        div.table-scroll {
            table.users #users {
                thead { tr {
                    th { (tr("users.col_email")) }
                    th { (tr("users.col_level")) }
                    th { (tr("users.col_state")) }
                    th { (tr("users.col_totp")) }
                    th { (tr("users.col_password")) }
                    th { (tr("users.col_created")) }
                    th { (tr("users.col_actions")) }
                } }
                tbody {
                    @for listed in listed {
                        tr.user data-user=(listed.email) data-level=(listed.access_level.as_str())
                            data-state=(if listed.blocked { "blocked" } else { "active" })
                            data-totp=(if listed.totp_enrolled { "yes" } else { "no" }) {
                            td { (listed.email) }
                            td { (tr(level_key(listed.access_level))) }
                            td { @if listed.blocked { (tr("users.state_blocked")) } @else { (tr("users.state_active")) } }
                            td { @if listed.totp_enrolled { (tr("users.totp_yes")) } @else { (tr("users.totp_no")) } }
                            td { @if listed.must_change_password { (tr("users.password_temporary")) } @else { (tr("users.password_own")) } }
                            td { (when(listed.created_at_ms)) }
                            td.actions {
                                @if listed.email == user.email() {
                                    span.muted { (tr("users.you")) }
                                } @else {
                                    @if listed.blocked {
                                        (action_form(user, view, &listed.email, "unblock", "users.unblock"))
                                    } @else {
                                        (action_form(user, view, &listed.email, "block", "users.block"))
                                    }
                                    (action_form(user, view, &listed.email, "reset-password", "users.reset_password"))
                                    (action_form(user, view, &listed.email, "reset-totp", "users.reset_totp"))
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (tr("users.invite_title")) }
        form.invite-user #invite-user method="post" action=(view.base) {
            input type="hidden" name="csrf" value=(user.csrf_token());
            @if let Some(code) = &view.dealer_field {
                input type="hidden" name="dealer" value=(code);
            }
            label for="invite-email" { (tr("users.email")) }
            input #invite-email type="email" name="email" required maxlength="254"
                autocomplete="off" value=(extra.typed_email);
            label for="invite-level" { (tr("users.access_level")) }
            select #invite-level name="access_level" {
                @for level in [AccessLevel::CreateView, AccessLevel::Full] {
                    option value=(level.as_str()) selected[typed_level == level.as_str()] {
                        (tr(level_key(level)))
                    }
                }
            }
            (otp_field())
            button type="submit" { (tr("users.invite")) }
        }
    };
    layout::page(view.base, &title, Some(user), content)
}

/// `email` as one path segment: an address may hold `/`, `?`, `#` or `%` (RFC 5322 allows
/// them in the local part), which must not split or end the path.
fn path_segment(email: &str) -> String {
    const SEGMENT: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'/')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}');
    utf8_percent_encode(email, SEGMENT).to_string()
}

/// A per-user button with the acting user's one-time code.
fn action_form(user: &SignedIn, view: &View, email: &str, verb: &str, label: &str) -> Markup {
    html! {
        form class=(verb) method="post" action={ (view.base) "/" (path_segment(email)) "/" (verb) } {
            input type="hidden" name="csrf" value=(user.csrf_token());
            @if let Some(code) = &view.dealer_field {
                input type="hidden" name="dealer" value=(code);
            }
            (otp_field())
            button type="submit" { (tr(label)) }
        }
    }
}

/// Invites a user of `view`'s party; see the module docs for the answers.
pub(super) async fn invite(
    state: &AppState,
    ip: std::net::IpAddr,
    user: &SignedIn,
    view: &View,
    form: InviteForm,
) -> Result<Response, ConsoleError> {
    user.check_csrf(&form.csrf)?;
    let access_level = match form.access_level.as_str() {
        "full" => AccessLevel::Full,
        _ => AccessLevel::CreateView,
    };
    let extra = |problem: String| Extra {
        problem: Some(problem),
        typed_email: form.email.clone(),
        typed_level: access_level.as_str().to_owned(),
        ..Extra::default()
    };
    if let Err(error) = users::normalise_email(&form.email) {
        let extra = extra(tr(error.message_key()));
        return show(state, user, view, extra, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // Made before the code is spent and the write lock taken (see `NewPassword`).
    let password = NewPassword::make()
        .await
        .map_err(|error| refusal(error, view.here()))?;
    let mut tx = match confirm::begin_confirmed(state, user, ip, &form.csrf, &form.otp).await {
        Ok(tx) => tx,
        Err(error) => {
            let problem = confirm::code_refusal(error)?;
            return show(state, user, view, extra(problem), StatusCode::FORBIDDEN).await;
        }
    };
    let new = NewUser {
        email: &form.email,
        party: &view.party,
        access_level,
    };
    let (actor, manager) = (user.actor(ip), manager(user));
    match manage::invite_in(&mut tx, &actor, &manager, &new, password, now_ms()).await {
        Ok(password) => {
            tx.commit().await?;
            let shown = Extra {
                shown: Some((form.email.trim().to_owned(), password)),
                ..Extra::default()
            };
            show(state, user, view, shown, StatusCode::OK).await
        }
        Err(error @ (UserError::BadEmail | UserError::DuplicateEmail)) => {
            // Nothing written: the code is not spent either.
            drop(tx);
            let extra = extra(tr(error.message_key()));
            show(state, user, view, extra, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(error) => Err(refusal(error, view.here())),
    }
}

/// Blocks, unblocks or resets `email`; see the module docs for the answers.
pub(super) async fn act(
    state: &AppState,
    ip: std::net::IpAddr,
    user: &SignedIn,
    view: &View,
    (email, verb): (String, String),
    form: ActForm,
) -> Result<Response, ConsoleError> {
    if !matches!(
        verb.as_str(),
        "block" | "unblock" | "reset-password" | "reset-totp"
    ) {
        return Err(ConsoleError::NotFound);
    }
    // A reset's new password is made before the code is spent and the write lock taken (see
    // `NewPassword`).
    let password = match verb.as_str() {
        "reset-password" => Some(
            NewPassword::make()
                .await
                .map_err(|error| refusal(error, view.here()))?,
        ),
        _ => None,
    };
    let mut tx = confirm::begin_confirmed(state, user, ip, &form.csrf, &form.otp).await?;
    let (actor, manager, now) = (user.actor(ip), manager(user), now_ms());
    let mut shown = None;
    let done = match (verb.as_str(), password) {
        ("block", _) => manage::block_in(&mut tx, &actor, &manager, &email, now).await,
        ("unblock", _) => manage::unblock_in(&mut tx, &actor, &manager, &email, now).await,
        (_, Some(password)) => {
            manage::reset_password_in(&mut tx, &actor, &manager, &email, password, now)
                .await
                .map(|(email, password)| {
                    shown = Some((email.clone(), password));
                    email
                })
        }
        _ => manage::reset_totp_in(&mut tx, &actor, &manager, &email, now).await,
    };
    if let Err(error) = done {
        return Err(refusal(error, view.here()));
    }
    tx.commit().await?;
    match shown {
        Some(shown) => {
            let extra = Extra {
                shown: Some(shown),
                ..Extra::default()
            };
            show(state, user, view, extra, StatusCode::OK).await
        }
        None => Ok(Redirect::to(&view.here()).into_response()),
    }
}

/// The dealer's own users.
fn dealer_view(user: &ConsoleUser) -> Result<View, ConsoleError> {
    user.require_full_access()?;
    Ok(View {
        base: PATH,
        party: Party::Dealer(user.dealer_code().to_owned()),
        dealer_field: None,
    })
}

/// `GET /console/users`.
async fn dealer_page(
    State(state): State<AppState>,
    user: ConsoleUser,
) -> Result<Response, ConsoleError> {
    let view = dealer_view(&user)?;
    show(&state, &user, &view, Extra::default(), StatusCode::OK).await
}

/// `POST /console/users`.
async fn dealer_invite(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    form: Result<Form<InviteForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let view = dealer_view(&user)?;
    invite(&state, ip, &user, &view, forms::read(form)).await
}

/// `POST /console/users/{email}/{verb}`.
async fn dealer_act(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    Path(target): Path<(String, String)>,
    form: Result<Form<ActForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let view = dealer_view(&user)?;
    act(&state, ip, &user, &view, target, form).await
}
