//! The operator's dealers (manual §3):
//!
//! * `GET /console/operator/dealers` — every dealer (code, name, BIN, state, balance) and
//!   `form#register-dealer` (`name`, `bin`, `legal_address`, `bank_account`, `contact`), which
//!   `POST`s to the same path and goes on (303) to the new dealer's page;
//! * `GET /console/operator/dealers/{code}` — the dealer: `form#edit-dealer` (`POST` to the
//!   page's path), block/unblock (`.../block`, `.../unblock`, one-time code), `form#dealer-limits`
//!   (`payment_limit`, `daily_limit` in tenge, blank = none, one-time code; `.../limits`), its
//!   console users and `form#invite-dealer-user` (`email`, `access_level`, one-time code;
//!   `.../users`, answered with the page showing the one-time password once in
//!   `#one-time-password`), `form#correction` (`amount` signed tenge, `reason`, one-time code;
//!   `.../corrections`) and the corrections with a reverse button
//!   (`.../corrections/{id}/reverse`, one-time code).
//!
//! Registering and editing need the CSRF token only; money and rights need full access and a
//! fresh one-time code ([`crate::console::confirm::begin_confirmed`]). Bad input shows the form
//! again with what was typed and why (422), and so does a wrong or reused code (403).

use axum::{
    Form, Router,
    extract::{Path, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use maud::{Markup, html};
use serde::Deserialize;

use crate::{
    console::{
        ConsoleError, confirm, forms,
        layout::{self, button_form, otp_field, tenge, tenge_plain, tr, when},
        points::limit_text,
        session::OperatorUser,
    },
    db::{
        now_ms,
        sessions::{AccessLevel, Party},
    },
    operator::{
        dealers::{self, DealerError, DealerRecord, Details},
        money::{self, MoneyError},
    },
    state::AppState,
    users::{self, NewPassword, NewUser, UserError},
    web::client_ip::ClientIp,
};

const LIST: &str = "/console/operator/dealers";

/// Routes relative to `/console/operator`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dealers", get(list).post(register))
        .route("/dealers/{code}", get(page).post(edit))
        .route("/dealers/{code}/block", post(block))
        .route("/dealers/{code}/unblock", post(unblock))
        .route("/dealers/{code}/limits", post(set_limits))
        .route("/dealers/{code}/users", post(invite))
        .route("/dealers/{code}/corrections", post(correct))
        .route("/dealers/{code}/corrections/{id}/reverse", post(reverse))
}

/// The registration or edit form as posted.
#[derive(Default, Deserialize, Clone)]
pub struct DealerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    bin: String,
    #[serde(default)]
    legal_address: String,
    #[serde(default)]
    bank_account: String,
    #[serde(default)]
    contact: String,
}

impl DealerForm {
    fn check(&self) -> Result<Details, DealerError> {
        Details::check(
            &self.name,
            &self.bin,
            &self.legal_address,
            &self.bank_account,
            &self.contact,
        )
    }

    fn of(details: &Details) -> DealerForm {
        DealerForm {
            csrf: String::new(),
            name: details.name.clone(),
            bin: details.bin.clone(),
            legal_address: details.legal_address.clone(),
            bank_account: details.bank_account.clone(),
            contact: details.contact.clone(),
        }
    }
}

/// The limits form.
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
}

/// The invitation of a dealer's user.
#[derive(Default, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    access_level: String,
}

/// A correction, or a reversal (`reason` only), or blocking (neither).
#[derive(Default, Deserialize)]
pub struct CorrectionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
}

/// Which form of the dealer's page an error or typed values belong to.
#[derive(Default)]
struct Shown<'a> {
    edit: Option<&'a DealerForm>,
    limits: Option<&'a LimitsForm>,
    invite: Option<&'a InviteForm>,
    correction: Option<&'a CorrectionForm>,
    /// (the correction, the reason typed) of a refused reversal.
    reversal: Option<(&'a str, &'a str)>,
    /// (the form's id, the translated message)
    error: Option<(&'static str, String)>,
    /// (e-mail, one-time password) of a user just created.
    created: Option<(String, String)>,
}

/// The reason typed into `correction`'s reversal form, if it was refused.
fn typed_reversal<'s>(shown: &Shown<'s>, correction: &str) -> Option<&'s str> {
    shown
        .reversal
        .filter(|(id, _)| *id == correction)
        .map(|(_, reason)| reason)
}

/// A form's error paragraph, if the error is the form's.
fn error_of(shown: &Shown<'_>, form: &str) -> Markup {
    html! {
        @if let Some((id, message)) = &shown.error {
            @if *id == form {
                p.error.form-error role="alert" { (message) }
            }
        }
    }
}

/// The dealer form's fields, showing `typed`.
fn dealer_fields(typed: &DealerForm) -> Markup {
    html! {
        label for="name" { (tr("dealers.name")) }
        input #name type="text" name="name" maxlength="200" required value=(typed.name);
        label for="bin" { (tr("dealers.bin")) }
        input #bin type="text" name="bin" inputmode="numeric" maxlength="12" required value=(typed.bin);
        label for="legal_address" { (tr("dealers.legal_address")) }
        input #legal_address type="text" name="legal_address" maxlength="300" value=(typed.legal_address);
        label for="bank_account" { (tr("dealers.bank_account")) }
        input #bank_account type="text" name="bank_account" maxlength="40" required value=(typed.bank_account);
        label for="contact" { (tr("dealers.contact")) }
        input #contact type="text" name="contact" maxlength="200" value=(typed.contact);
    }
}

/// A dealer's state, in words.
fn state_text(dealer: &DealerRecord) -> String {
    if dealer.active {
        tr("dealers.state_active")
    } else {
        tr("dealers.state_blocked")
    }
}

/// The list of dealers with the registration form.
async fn render_list(
    state: &AppState,
    user: &OperatorUser,
    typed: &DealerForm,
    error: Option<String>,
) -> Result<Markup, ConsoleError> {
    let all = dealers::list(&state.pool).await?;
    let content = html! {
        div.table-scroll {
            table.dealers #dealers {
                thead { tr {
                    th { (tr("dealers.code")) } th { (tr("dealers.name")) } th { (tr("dealers.bin")) }
                    th { (tr("dealers.state")) } th.amount { (tr("money.balance")) }
                } }
                tbody {
                    @for dealer in &all {
                        tr.dealer data-dealer=(dealer.code) data-active=(dealer.active) {
                            td { a href={ (LIST) "/" (dealer.code) } { (dealer.code) } }
                            td { (dealer.details.name) }
                            td { (dealer.details.bin) }
                            td { (state_text(dealer)) }
                            td.amount data-tiyn=(dealer.balance_tiyn) { (tenge(dealer.balance_tiyn)) }
                        }
                    }
                }
            }
        }
        h2 { (tr("dealers.register_title")) }
        form.dealer #register-dealer method="post" action=(LIST) {
            @if let Some(error) = error {
                p.error.form-error role="alert" { (error) }
            }
            input type="hidden" name="csrf" value=(user.csrf_token());
            (dealer_fields(typed))
            button type="submit" { (tr("dealers.register")) }
        }
    };
    Ok(layout::page(
        LIST,
        &tr("dealers.title"),
        Some(user),
        content,
    ))
}

/// `GET /console/operator/dealers`.
pub async fn list(
    State(state): State<AppState>,
    user: OperatorUser,
) -> Result<Markup, ConsoleError> {
    render_list(&state, &user, &DealerForm::default(), None).await
}

/// `POST /console/operator/dealers`: registers a dealer.
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    form: Result<Form<DealerForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let result = match form.check() {
        Ok(details) => {
            let mut tx = confirm::begin(&state, &user, &form.csrf).await?;
            match dealers::register_in(&mut tx, &user.actor(ip), &details, now_ms()).await {
                Ok(code) => {
                    tx.commit().await?;
                    Ok(code)
                }
                Err(error) => Err(error),
            }
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(code) => Ok(Redirect::to(&format!("{LIST}/{code}")).into_response()),
        Err(DealerError::Database(error)) => Err(error.into()),
        Err(error) => {
            let page = render_list(&state, &user, &form, Some(tr(error.message_key()))).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// The dealer's page.
async fn render_page(
    state: &AppState,
    user: &OperatorUser,
    code: &str,
    shown: &Shown<'_>,
) -> Result<Markup, ConsoleError> {
    let dealer = dealers::get(&state.pool, code)
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let users = dealers::users_of(&state.pool, code).await?;
    let corrections = money::corrections_of(&state.pool, code).await?;
    let base = format!("{LIST}/{code}");
    let edit = shown
        .edit
        .cloned()
        .unwrap_or_else(|| DealerForm::of(&dealer.details));
    let limit_value = |typed: Option<&String>, current: Option<i64>| {
        typed
            .cloned()
            .unwrap_or_else(|| current.map(tenge_plain).unwrap_or_default())
    };
    let content = html! {
        div.figures {
            p { (tr("money.balance")) ": " strong #balance data-tiyn=(dealer.balance_tiyn) { (tenge(dealer.balance_tiyn)) " ₸" } }
            p { (tr("dealers.state")) ": " strong #dealer-state data-active=(dealer.active) { (state_text(&dealer)) } }
            p { (tr("points.payment_limit")) ": " (limit_text(dealer.payment_limit_tiyn)) "; "
                (tr("points.daily_limit")) ": " (limit_text(dealer.daily_limit_tiyn)) }
        }
        @if dealer.active {
            (button_form("block-dealer", &format!("{base}/block"), "dealers.block", user, true, None))
        } @else {
            (button_form("unblock-dealer", &format!("{base}/unblock"), "dealers.unblock", user, true, None))
        }
        h2 { (tr("dealers.details_title")) }
        form.dealer #edit-dealer method="post" action=(base) {
            (error_of(shown, "edit-dealer"))
            input type="hidden" name="csrf" value=(user.csrf_token());
            (dealer_fields(&edit))
            button type="submit" { (tr("dealers.save")) }
        }
        h2 { (tr("dealers.limits_title")) }
        form.limits #dealer-limits method="post" action={ (base) "/limits" } {
            (error_of(shown, "dealer-limits"))
            input type="hidden" name="csrf" value=(user.csrf_token());
            label for="payment_limit" { (tr("points.payment_limit")) }
            input #payment_limit type="text" name="payment_limit" inputmode="decimal"
                value=(limit_value(shown.limits.map(|l| &l.payment_limit), dealer.payment_limit_tiyn));
            label for="daily_limit" { (tr("points.daily_limit")) }
            input #daily_limit type="text" name="daily_limit" inputmode="decimal"
                value=(limit_value(shown.limits.map(|l| &l.daily_limit), dealer.daily_limit_tiyn));
            p.muted { (tr("dealers.limits_hint")) }
            (otp_field())
            button type="submit" { (tr("dealers.save")) }
        }
        h2 { (tr("dealers.users_title")) }
        @if let Some((email, password)) = &shown.created {
            p.notice #user-created {
                (tr("dealers.user_created")) " " strong { (email) } ": "
                code #one-time-password { (password) }
            }
        }
        @if users.is_empty() {
            p.muted #no-dealer-users { (tr("dealers.no_users")) }
        } @else {
            div.table-scroll {
                table.users #dealer-users {
                    thead { tr { th { "E-mail" } th { (tr("dealers.access_level")) } } }
                    tbody {
                        @for (email, level) in &users {
                            tr data-user=(email) { td { (email) } td { (tr(&format!("dealers.level_{level}"))) } }
                        }
                    }
                }
            }
        }
        form.invite #invite-dealer-user method="post" action={ (base) "/users" } {
            (error_of(shown, "invite-dealer-user"))
            input type="hidden" name="csrf" value=(user.csrf_token());
            label for="email" { "E-mail" }
            input #email type="email" name="email" required value=(shown.invite.map(|i| i.email.as_str()).unwrap_or(""));
            label for="access_level" { (tr("dealers.access_level")) }
            @let level = shown.invite.map(|i| i.access_level.as_str()).unwrap_or("full");
            select #access_level name="access_level" {
                option value="full" selected[level == "full"] { (tr("dealers.level_full")) }
                option value="create_view" selected[level == "create_view"] { (tr("dealers.level_create_view")) }
            }
            (otp_field())
            button type="submit" { (tr("dealers.invite")) }
        }
        h2 { (tr("corrections.title")) }
        form.correction #correction method="post" action={ (base) "/corrections" } {
            (error_of(shown, "correction"))
            input type="hidden" name="csrf" value=(user.csrf_token());
            label for="correction-amount" { (tr("corrections.amount")) }
            input #correction-amount type="text" name="amount" required value=(shown.correction.map(|c| c.amount.as_str()).unwrap_or(""));
            label for="correction-reason" { (tr("corrections.reason")) }
            input #correction-reason type="text" name="reason" maxlength="500" required value=(shown.correction.map(|c| c.reason.as_str()).unwrap_or(""));
            (otp_field())
            button type="submit" { (tr("corrections.make")) }
        }
        (error_of(shown, "corrections"))
        @if !corrections.is_empty() {
            div.table-scroll {
                table.corrections #corrections {
                    thead { tr {
                        th { "№" } th.amount { (tr("money.col_amount")) } th { (tr("corrections.reason")) }
                        th { (tr("corrections.made_by")) } th { (tr("corrections.reversed")) }
                    } }
                    tbody {
                        @for correction in &corrections {
                            tr data-correction=(correction.id) data-reversed=(correction.reversed_at_ms.is_some()) {
                                td { code { (correction.id) } }
                                td.amount data-tiyn=(correction.amount_tiyn) { (tenge(correction.amount_tiyn)) }
                                td { (correction.reason) }
                                td { (correction.made_by) br; span.muted { (when(correction.made_at_ms)) } }
                                td {
                                    @if let Some(at) = correction.reversed_at_ms {
                                        (correction.reversed_by.as_deref().unwrap_or("")) br;
                                        span.muted { (when(at)) }
                                        @if let Some(why) = &correction.reversal_reason { br; (why) }
                                    } @else {
                                        form.reverse-correction method="post"
                                            action={ (base) "/corrections/" (correction.id) "/reverse" } {
                                            input type="hidden" name="csrf" value=(user.csrf_token());
                                            input type="text" name="reason" maxlength="500"
                                                placeholder=(tr("corrections.reason"))
                                                value=[typed_reversal(shown, &correction.id)];
                                            (otp_field())
                                            button type="submit" { (tr("corrections.reverse")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let title = format!(
        "{} {} — {}",
        tr("dealers.dealer"),
        code,
        dealer.details.name
    );
    Ok(layout::page(&base, &title, Some(user), content))
}

/// The dealer's page again with an error, 422.
async fn again(
    state: &AppState,
    user: &OperatorUser,
    code: &str,
    shown: Shown<'_>,
) -> Result<Response, ConsoleError> {
    again_as(state, user, code, shown, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// [`again`] with `status`: 403 for a refused one-time code, 409 for a correction reversed
/// already.
async fn again_as(
    state: &AppState,
    user: &OperatorUser,
    code: &str,
    shown: Shown<'_>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let page = render_page(state, user, code, &shown).await?;
    Ok((status, page).into_response())
}

/// A refused form: the status to answer and the message to show on it.
type Refused = (StatusCode, String);

/// A form's refusal of bad input (422).
fn bad_input(key: &str) -> Refused {
    (StatusCode::UNPROCESSABLE_ENTITY, tr(key))
}

/// A refused one-time code as the form's refusal (403); any other error of
/// [`confirm::begin_confirmed`] is the console's error page.
fn code_refused(error: ConsoleError) -> Result<Refused, ConsoleError> {
    Ok((StatusCode::FORBIDDEN, confirm::code_refusal(error)?))
}

/// `GET /console/operator/dealers/{code}`.
pub async fn page(
    State(state): State<AppState>,
    user: OperatorUser,
    Path(code): Path<String>,
) -> Result<Markup, ConsoleError> {
    render_page(&state, &user, &code, &Shown::default()).await
}

/// The dealer's page, after a change.
fn back(code: &str) -> Response {
    Redirect::to(&format!("{LIST}/{code}")).into_response()
}

/// `POST /console/operator/dealers/{code}`: changes the dealer's details.
pub async fn edit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(code): Path<String>,
    form: Result<Form<DealerForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let result = match form.check() {
        Ok(details) => {
            let mut tx = confirm::begin(&state, &user, &form.csrf).await?;
            let done = dealers::edit_in(&mut tx, &user.actor(ip), &code, &details, now_ms()).await;
            if done.is_ok() {
                tx.commit().await?;
            }
            done
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => Ok(back(&code)),
        Err(DealerError::NotFound) => Err(ConsoleError::NotFound),
        Err(DealerError::Database(error)) => Err(error.into()),
        Err(error) => {
            let shown = Shown {
                edit: Some(&form),
                error: Some(("edit-dealer", tr(error.message_key()))),
                ..Shown::default()
            };
            again(&state, &user, &code, shown).await
        }
    }
}

/// Blocks or unblocks the dealer, with a one-time code.
async fn switch(
    state: AppState,
    ip: std::net::IpAddr,
    user: OperatorUser,
    code: String,
    form: CorrectionForm,
    blocked: bool,
) -> Result<Response, ConsoleError> {
    let mut tx = confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await?;
    match dealers::set_blocked_in(&mut tx, &user.actor(ip), &code, blocked, now_ms()).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(back(&code))
        }
        Err(DealerError::NotFound) => Err(ConsoleError::NotFound),
        Err(error) => Err(ConsoleError::Internal(error.to_string())),
    }
}

/// `POST /console/operator/dealers/{code}/block`: its phones get 52 at once.
pub async fn block(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(code): Path<String>,
    form: Result<Form<CorrectionForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    switch(state, ip, user, code, forms::read(form), true).await
}

/// `POST /console/operator/dealers/{code}/unblock`.
pub async fn unblock(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(code): Path<String>,
    form: Result<Form<CorrectionForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    switch(state, ip, user, code, forms::read(form), false).await
}

/// `POST /console/operator/dealers/{code}/limits`.
pub async fn set_limits(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(code): Path<String>,
    form: Result<Form<LimitsForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let limits = forms::parse_limit(&form.payment_limit)
        .and_then(|payment| Ok((payment, forms::parse_limit(&form.daily_limit)?)));
    let (status, message) = 'refused: {
        let Ok((payment, daily)) = limits else {
            break 'refused bad_input(DealerError::BadLimit.message_key());
        };
        let mut tx = match confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await
        {
            Ok(tx) => tx,
            Err(error) => break 'refused code_refused(error)?,
        };
        match dealers::set_limits_in(&mut tx, &user.actor(ip), &code, payment, daily, now_ms())
            .await
        {
            Ok(()) => {
                tx.commit().await?;
                return Ok(back(&code));
            }
            Err(DealerError::NotFound) => return Err(ConsoleError::NotFound),
            Err(DealerError::Database(error)) => return Err(error.into()),
            Err(error) => bad_input(error.message_key()),
        }
    };
    let shown = Shown {
        limits: Some(&form),
        error: Some(("dealer-limits", message)),
        ..Shown::default()
    };
    again_as(&state, &user, &code, shown, status).await
}

/// `POST /console/operator/dealers/{code}/users`: creates a user of the dealer (its first
/// full-access user, usually) and shows the one-time password once.
pub async fn invite(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(code): Path<String>,
    form: Result<Form<InviteForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let level = match form.access_level.as_str() {
        "full" => Some(AccessLevel::Full),
        "create_view" => Some(AccessLevel::CreateView),
        _ => None,
    };
    let checked = users::normalise_email(&form.email).map(|_| ());
    let (status, message) = 'refused: {
        let access_level = match (checked, level) {
            (Err(error), _) => break 'refused bad_input(error.message_key()),
            (_, None) => break 'refused bad_input("dealers.bad_access_level"),
            (Ok(()), Some(access_level)) => access_level,
        };
        // Made before the code is spent and the write lock taken (see `NewPassword`).
        let password = NewPassword::make()
            .await
            .map_err(|error| ConsoleError::Internal(error.to_string()))?;
        let mut tx = match confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await
        {
            Ok(tx) => tx,
            Err(error) => break 'refused code_refused(error)?,
        };
        let party = Party::Dealer(code.clone());
        let new = NewUser {
            email: &form.email,
            party: &party,
            access_level,
        };
        match users::create_in(&mut tx, &user.actor(ip), &new, password, now_ms()).await {
            Ok(password) => {
                tx.commit().await?;
                let shown = Shown {
                    created: Some((form.email.trim().to_owned(), password.0)),
                    ..Shown::default()
                };
                return Ok(render_page(&state, &user, &code, &shown)
                    .await?
                    .into_response());
            }
            Err(UserError::NoSuchDealer) => return Err(ConsoleError::NotFound),
            Err(
                error @ (UserError::Database(_) | UserError::Password(_) | UserError::Random(_)),
            ) => return Err(ConsoleError::Internal(error.to_string())),
            Err(error) => bad_input(error.message_key()),
        }
    };
    let shown = Shown {
        invite: Some(&form),
        error: Some(("invite-dealer-user", message)),
        ..Shown::default()
    };
    again_as(&state, &user, &code, shown, status).await
}

/// A signed amount in tenge: `-1500`, `+200.50`, `300`.
fn parse_signed_tenge(text: &str) -> Option<i64> {
    let text = text.trim();
    match text.strip_prefix('-') {
        Some(rest) => forms::parse_tenge(rest).map(|t| -t),
        None => forms::parse_tenge(text.strip_prefix('+').unwrap_or(text)),
    }
}

/// `POST /console/operator/dealers/{code}/corrections`.
pub async fn correct(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(code): Path<String>,
    form: Result<Form<CorrectionForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let (status, message) = 'refused: {
        let amount = match parse_signed_tenge(&form.amount).filter(|a| *a != 0) {
            None => break 'refused bad_input(MoneyError::BadAmount.message_key()),
            Some(_) if form.reason.trim().is_empty() => {
                break 'refused bad_input(MoneyError::ReasonRequired.message_key());
            }
            Some(amount) => amount,
        };
        let mut tx = match confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await
        {
            Ok(tx) => tx,
            Err(error) => break 'refused code_refused(error)?,
        };
        let actor = user.actor(ip);
        match money::correct_in(&mut tx, &actor, &code, amount, &form.reason, now_ms()).await {
            Ok(_) => {
                tx.commit().await?;
                return Ok(back(&code));
            }
            Err(MoneyError::NotFound) => return Err(ConsoleError::NotFound),
            Err(MoneyError::Database(error)) => return Err(error.into()),
            Err(error) => bad_input(error.message_key()),
        }
    };
    let shown = Shown {
        correction: Some(&form),
        error: Some(("correction", message)),
        ..Shown::default()
    };
    again_as(&state, &user, &code, shown, status).await
}

/// `POST /console/operator/dealers/{code}/corrections/{id}/reverse`: once only; a second time
/// changes nothing and says so (409).
pub async fn reverse(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path((code, id)): Path<(String, String)>,
    form: Result<Form<CorrectionForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    let (status, message) = 'refused: {
        let mut tx = match confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await
        {
            Ok(tx) => tx,
            Err(error) => break 'refused code_refused(error)?,
        };
        let actor = user.actor(ip);
        match money::reverse_correction_in(&mut tx, &actor, &code, &id, &form.reason, now_ms())
            .await
        {
            Ok(_) => {
                tx.commit().await?;
                return Ok(back(&code));
            }
            Err(MoneyError::NotFound) => return Err(ConsoleError::NotFound),
            Err(MoneyError::Database(error)) => return Err(error.into()),
            Err(error @ MoneyError::AlreadyReversed) => {
                (StatusCode::CONFLICT, tr(error.message_key()))
            }
            Err(error) => bad_input(error.message_key()),
        }
    };
    let shown = Shown {
        reversal: Some((&id, &form.reason)),
        error: Some(("corrections", message)),
        ..Shown::default()
    };
    again_as(&state, &user, &code, shown, status).await
}
