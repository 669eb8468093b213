//! The operator's provider catalogue ([`crate::operator::providers`]):
//!
//! * `GET /console/operator/providers` — every provider (`table#providers`, a row
//!   `tr.provider[data-provider][data-state]`) and `form#add-provider`, posting to
//!   `POST /console/operator/providers` with `csrf`, `code`, `name`, `short_label`,
//!   `category`, `account_kind`, `digits` (`10` or `6-12`), `prefixes` (comma separated),
//!   `account_format`, `min`, `max` (tenge), `rate` (percent) and `otp`;
//! * `GET /console/operator/providers/{code}` — `form#edit-provider` (the same fields but the
//!   code) posting to `POST /console/operator/providers/{code}`; the buttons
//!   `form.disable-provider` / `form.enable-provider` posting to `.../disable` / `.../enable`
//!   (`csrf`, `otp`); the dealers' own rates (`table#dealer-rates`) and `form#dealer-rate`
//!   (`csrf`, `dealer`, `rate` — empty clears it — and `otp`) posting to `.../rates`.
//!
//! Every change needs the operator's full access and a fresh one-time code
//! ([`super::super::confirm::begin_confirmed`]); the change and its audit row commit together.
//! A refused form (bad input, an overlap, a wrong code) comes back with 422, what was typed and
//! the reason in the user's language (`p#form-error`).

use axum::{
    Form, Router,
    extract::{Path, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::super::{
    ConsoleError, confirm, forms,
    layout::{self, button_form, otp_field, page, tenge, tr, when},
    session::OperatorUser,
};
use crate::{
    db::{deliveries, now_ms},
    operator::providers::{
        self as domain, DealerRate, Provider, ProviderDraft, ProviderError, ProviderInput,
    },
    state::AppState,
    web::client_ip::ClientIp,
};

const PATH: &str = "/console/operator/providers";

/// Routes relative to `/console/operator`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/providers", get(list).post(add))
        .route("/providers/{code}", get(detail).post(edit))
        .route("/providers/{code}/disable", post(disable))
        .route("/providers/{code}/enable", post(enable))
        .route("/providers/{code}/rates", post(set_rate))
}

fn path(code: &str) -> String {
    format!("{PATH}/{code}")
}

/// The add and edit forms as posted.
#[derive(Default, Deserialize)]
pub struct ProviderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    short_label: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    account_kind: String,
    #[serde(default)]
    digits: String,
    #[serde(default)]
    prefixes: String,
    #[serde(default)]
    account_format: String,
    #[serde(default)]
    min: String,
    #[serde(default)]
    max: String,
    #[serde(default)]
    rate: String,
}

impl ProviderForm {
    fn input(&self) -> ProviderInput {
        ProviderInput {
            name: self.name.clone(),
            short_label: self.short_label.clone(),
            category: self.category.clone(),
            account_kind: self.account_kind.clone(),
            digits: self.digits.clone(),
            prefixes: self.prefixes.clone(),
            account_format: self.account_format.clone(),
            min: self.min.clone(),
            max: self.max.clone(),
            rate: self.rate.clone(),
        }
    }
}

/// The dealer-rate form as posted.
#[derive(Default, Deserialize)]
pub struct RateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    dealer: String,
    #[serde(default)]
    rate: String,
}

/// A button's form: the CSRF token and the one-time code.
#[derive(Default, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
}

/// A refused form's reason, in the user's language.
fn error_text(error: &ProviderError) -> String {
    match error {
        ProviderError::OverlappingPrefixes { others } => {
            let named: Vec<String> = others
                .iter()
                .map(|(code, name)| format!("{name} ({code})"))
                .collect();
            rust_i18n::t!(
                error.message_key(),
                locale = layout::language::current().tag(),
                other = named.join(", ")
            )
            .into_owned()
        }
        other => tr(other.message_key()),
    }
}

fn unprocessable(markup: Markup) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, markup).into_response()
}

fn form_error(error: Option<&str>) -> Markup {
    html! {
        @if let Some(error) = error {
            p.error #form-error role="alert" { (error) }
        }
    }
}

fn category_text(category: &str) -> String {
    tr(&format!("providers.category_{category}"))
}

fn kind_text(kind: &str) -> String {
    tr(&format!("providers.kind_{kind}"))
}

/// The fields of the add and edit forms, filled with `input`.
fn provider_fields(input: &ProviderInput) -> Markup {
    let option = |value: &str, label: String, current: &str| {
        html! {
            @if value == current {
                option value=(value) selected { (label) }
            } @else {
                option value=(value) { (label) }
            }
        }
    };
    html! {
        label for="name" { (tr("providers.name")) }
        input #name type="text" name="name" required maxlength="100" value=(input.name);
        label for="short_label" { (tr("providers.short_label")) }
        input #short_label type="text" name="short_label" required maxlength="20"
            value=(input.short_label);
        label for="category" { (tr("providers.category")) }
        select #category name="category" {
            @for category in ["mobile", "internet", "utilities"] {
                (option(category, category_text(category), &input.category))
            }
        }
        label for="account_kind" { (tr("providers.account_kind")) }
        select #account_kind name="account_kind" {
            @for kind in ["phone", "account"] {
                (option(kind, kind_text(kind), &input.account_kind))
            }
        }
        label for="digits" { (tr("providers.digits")) }
        input #digits type="text" name="digits" required maxlength="10" value=(input.digits)
            title=(tr("providers.digits_hint"));
        small.muted { (tr("providers.digits_hint")) }
        label for="prefixes" { (tr("providers.prefixes")) }
        input #prefixes type="text" name="prefixes" maxlength="400" value=(input.prefixes)
            title=(tr("providers.prefixes_hint"));
        small.muted { (tr("providers.prefixes_hint")) }
        label for="account_format" { (tr("providers.account_format")) }
        input #account_format type="text" name="account_format" maxlength="40"
            value=(input.account_format) placeholder=(tr("providers.account_format_hint"));
        label for="min" { (tr("providers.min")) }
        input #min type="text" name="min" inputmode="decimal" required value=(input.min);
        label for="max" { (tr("providers.max")) }
        input #max type="text" name="max" inputmode="decimal" required value=(input.max);
        label for="rate" { (tr("providers.rate")) }
        input #rate type="text" name="rate" inputmode="decimal" required value=(input.rate)
            title=(tr("providers.rate_hint"));
        small.muted { (tr("providers.rate_hint")) }
        (otp_field())
    }
}

fn state_of(provider: &Provider) -> &'static str {
    if provider.active {
        "active"
    } else {
        "disabled"
    }
}

/// The list page with the add form filled with `code` and `input`, and `error` above it.
fn list_page(
    user: &OperatorUser,
    providers: &[Provider],
    code: &str,
    input: &ProviderInput,
    error: Option<&str>,
) -> Markup {
    let content = html! {
        p.muted { (tr("providers.intro")) }
        div.table-scroll {
            table.providers #providers {
                thead { tr {
                    th { (tr("providers.col_code")) }
                    th { (tr("providers.col_name")) }
                    th { (tr("providers.col_category")) }
                    th { (tr("providers.col_kind")) }
                    th { (tr("providers.col_rule")) }
                    th { (tr("providers.col_format")) }
                    th { (tr("providers.col_min")) }
                    th { (tr("providers.col_max")) }
                    th { (tr("providers.col_rate")) }
                    th { (tr("providers.col_state")) }
                } }
                tbody {
                    @for provider in providers {
                        tr.provider data-provider=(provider.code) data-state=(state_of(provider)) {
                            td { a href=(path(&provider.code)) { (provider.code) } }
                            td.name { (provider.name) }
                            td.category { (category_text(&provider.category)) }
                            td.kind { (kind_text(&provider.account_kind)) }
                            td.rule { code { (provider.account_rule) } }
                            td.format { (provider.account_format) }
                            td.amount.min { (tenge(provider.min_tiyn)) }
                            td.amount.max { (tenge(provider.max_tiyn)) }
                            td.rate { (domain::percent_text(provider.rate_bp)) " %" }
                            td { span class={ "provider-state " (state_of(provider)) } {
                                (tr(&format!("providers.state_{}", state_of(provider))))
                            } }
                        }
                    }
                }
            }
        }
        h2 #add { (tr("providers.add_title")) }
        (form_error(error))
        form.add-provider #add-provider method="post" action=(PATH) {
            input type="hidden" name="csrf" value=(user.csrf_token());
            label for="code" { (tr("providers.code")) }
            input #code type="text" name="code" required maxlength="32" pattern="[a-z0-9][a-z0-9-]*"
                value=(code) title=(tr("providers.code_hint"));
            small.muted { (tr("providers.code_hint")) }
            (provider_fields(input))
            button type="submit" { (tr("providers.add")) }
        }
    };
    page(PATH, &tr("providers.title"), Some(user), content)
}

/// What the provider's page shows besides the provider: the edit form's values and error,
/// the dealer-rate form's values and error.
struct DetailForms {
    edit: ProviderInput,
    edit_error: Option<String>,
    dealer: String,
    rate: String,
    rate_error: Option<String>,
}

fn detail_page(
    user: &OperatorUser,
    provider: &Provider,
    rates: &[DealerRate],
    waiting: i64,
    forms: &DetailForms,
) -> Markup {
    let here = path(&provider.code);
    let content = html! {
        p #provider-state data-state=(state_of(provider)) {
            (tr("providers.col_code")) ": " strong { (provider.code) } " · "
            span class={ "provider-state " (state_of(provider)) } {
                (tr(&format!("providers.state_{}", state_of(provider))))
            }
        }
        // Switched off or not, what it accepted is still delivered: the operator sees how
        // much, and where those deliveries stand.
        @if waiting > 0 {
            p #waiting-deliveries data-count=(waiting) {
                (tr("providers.waiting_deliveries")) ": " strong { (waiting) } " · "
                a href="/console/operator/deliveries" { (tr("deliveries.title")) " →" }
            }
        }
        @if provider.active {
            (button_form("disable-provider", &format!("{here}/disable"), "providers.disable",
                user, true, None))
        } @else {
            p.warning { (tr("providers.disabled_note")) }
            (button_form("enable-provider", &format!("{here}/enable"), "providers.enable",
                user, true, None))
        }
        p { a #provider-connection href={ (here) "/connection" } { (tr("connections.title")) " →" } }
        h2 #edit { (tr("providers.edit_title")) }
        (form_error(forms.edit_error.as_deref()))
        form.edit-provider #edit-provider method="post" action=(here) {
            input type="hidden" name="csrf" value=(user.csrf_token());
            (provider_fields(&forms.edit))
            button type="submit" { (tr("providers.save")) }
        }
        h2 #rates { (tr("providers.dealer_rates_title")) }
        p.muted { (tr("providers.dealer_rates_intro")) }
        @if rates.is_empty() {
            p #no-dealer-rates { (tr("providers.no_dealer_rates")) }
        } @else {
            div.table-scroll {
                table #dealer-rates {
                    thead { tr {
                        th { (tr("providers.col_dealer")) }
                        th { (tr("providers.col_rate")) }
                        th { (tr("providers.col_updated")) }
                    } }
                    tbody {
                        @for rate in rates {
                            tr.dealer-rate data-dealer=(rate.dealer_code) {
                                td { (rate.dealer_code) }
                                td.rate { (domain::percent_text(rate.rate_bp)) " %" }
                                td { (when(rate.updated_at_ms)) }
                            }
                        }
                    }
                }
            }
        }
        (form_error(forms.rate_error.as_deref()))
        form.dealer-rate #dealer-rate method="post" action={ (here) "/rates" } {
            input type="hidden" name="csrf" value=(user.csrf_token());
            label for="dealer" { (tr("providers.dealer")) }
            input #dealer type="text" name="dealer" required maxlength="20" value=(forms.dealer);
            label for="dealer_rate" { (tr("providers.dealer_rate")) }
            input #dealer_rate type="text" name="rate" inputmode="decimal" value=(forms.rate)
                title=(tr("providers.rate_hint"));
            (otp_field())
            button type="submit" { (tr("providers.set_rate")) }
        }
    };
    page(&here, &provider.name, Some(user), content)
}

/// `GET /console/operator/providers`.
async fn list(State(state): State<AppState>, user: OperatorUser) -> Result<Markup, ConsoleError> {
    let mut conn = state.pool.acquire().await?;
    let providers = domain::list(&mut conn).await?;
    let blank = ProviderInput {
        category: "mobile".into(),
        account_kind: "phone".into(),
        ..ProviderInput::default()
    };
    Ok(list_page(&user, &providers, "", &blank, None))
}

/// The provider `code` and its dealer rates, or 404.
/// A provider's page's figures: the provider, its dealers' own rates, and how many of its
/// payments are still on their way to it.
async fn load(
    state: &AppState,
    code: &str,
) -> Result<(Provider, Vec<DealerRate>, i64), ConsoleError> {
    let mut conn = state.pool.acquire().await?;
    let provider = domain::find(&mut conn, code)
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let rates = domain::dealer_rates(&mut conn, code).await?;
    let waiting = deliveries::unfinished_of_provider(&mut *conn, code).await?;
    Ok((provider, rates, waiting))
}

/// `GET /console/operator/providers/{code}`.
async fn detail(
    State(state): State<AppState>,
    user: OperatorUser,
    Path(code): Path<String>,
) -> Result<Markup, ConsoleError> {
    let (provider, rates, waiting) = load(&state, &code).await?;
    let forms = DetailForms {
        edit: provider.input(),
        edit_error: None,
        dealer: String::new(),
        rate: String::new(),
        rate_error: None,
    };
    Ok(detail_page(&user, &provider, &rates, waiting, &forms))
}

/// `POST /console/operator/providers`.
async fn add(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    form: Result<Form<ProviderForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let input = form.input();
    let refuse = |message: String| {
        let state = state.clone();
        let (user, code, input) = (&user, &form.code, &input);
        async move {
            let mut conn = state.pool.acquire().await?;
            let providers = domain::list(&mut conn).await?;
            Ok::<_, ConsoleError>(unprocessable(list_page(
                user,
                &providers,
                code,
                input,
                Some(&message),
            )))
        }
    };
    let parsed = domain::parse_code(&form.code).and_then(|code| Ok((code, input.parse()?)));
    let (code, draft) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return refuse(error_text(&error)).await,
    };
    let mut tx = match confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await {
        Ok(tx) => tx,
        Err(error) => return refuse(confirm::code_refusal(error)?).await,
    };
    let now = now_ms();
    match domain::add(&mut tx, &user.actor(ip), &code, &draft, now).await {
        Ok(()) => {
            tx.commit().await?;
            tracing::info!(provider = %code, email = %user.email(), "provider added");
            Ok(Redirect::to(&path(&code)).into_response())
        }
        Err(ProviderError::Database(error)) => Err(error.into()),
        Err(error) => {
            tx.rollback().await?;
            refuse(error_text(&error)).await
        }
    }
}

/// Re-renders the provider's page with the forms as typed.
async fn refuse_detail(
    state: &AppState,
    user: &OperatorUser,
    code: &str,
    forms: DetailForms,
) -> Result<Response, ConsoleError> {
    let (provider, rates, waiting) = load(state, code).await?;
    Ok(unprocessable(detail_page(
        user, &provider, &rates, waiting, &forms,
    )))
}

/// `POST /console/operator/providers/{code}`.
async fn edit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(code): Path<String>,
    form: Result<Form<ProviderForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let input = form.input();
    let refused = |message: String| DetailForms {
        edit: input.clone(),
        edit_error: Some(message),
        dealer: String::new(),
        rate: String::new(),
        rate_error: None,
    };
    let draft: ProviderDraft = match input.parse() {
        Ok(draft) => draft,
        Err(error) => {
            return refuse_detail(&state, &user, &code, refused(error_text(&error))).await;
        }
    };
    let mut tx = match confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await {
        Ok(tx) => tx,
        Err(error) => {
            let message = confirm::code_refusal(error)?;
            return refuse_detail(&state, &user, &code, refused(message)).await;
        }
    };
    match domain::edit(&mut tx, &user.actor(ip), &code, &draft, now_ms()).await {
        Ok(()) => {
            tx.commit().await?;
            tracing::info!(provider = %code, email = %user.email(), "provider edited");
            Ok(Redirect::to(&path(&code)).into_response())
        }
        Err(ProviderError::Database(error)) => Err(error.into()),
        Err(ProviderError::NotFound) => Err(ConsoleError::NotFound),
        Err(error) => {
            tx.rollback().await?;
            refuse_detail(&state, &user, &code, refused(error_text(&error))).await
        }
    }
}

/// `POST .../disable` and `.../enable`.
async fn switch(
    state: AppState,
    ip: std::net::IpAddr,
    user: OperatorUser,
    code: String,
    form: ConfirmForm,
    active: bool,
) -> Result<Response, ConsoleError> {
    let mut tx = confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await?;
    match domain::set_active(&mut tx, &user.actor(ip), &code, active, now_ms()).await {
        Ok(_) => {
            tx.commit().await?;
            tracing::info!(provider = %code, active, email = %user.email(), "provider switched");
            Ok(Redirect::to(&path(&code)).into_response())
        }
        Err(ProviderError::Database(error)) => Err(error.into()),
        Err(_) => Err(ConsoleError::NotFound),
    }
}

/// `POST /console/operator/providers/{code}/disable`.
async fn disable(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(code): Path<String>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    switch(state, ip, user, code, forms::read(form), false).await
}

/// `POST /console/operator/providers/{code}/enable`.
async fn enable(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(code): Path<String>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    switch(state, ip, user, code, forms::read(form), true).await
}

/// `POST /console/operator/providers/{code}/rates`.
async fn set_rate(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: OperatorUser,
    Path(code): Path<String>,
    form: Result<Form<RateForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let (provider, _, _) = load(&state, &code).await?;
    let refused = |message: String| DetailForms {
        edit: provider.input(),
        edit_error: None,
        dealer: form.dealer.clone(),
        rate: form.rate.clone(),
        rate_error: Some(message),
    };
    let dealer = form.dealer.trim().to_owned();
    let rate_bp = if form.rate.trim().is_empty() {
        Ok(None)
    } else {
        domain::parse_rate_bp(&form.rate)
            .map(Some)
            .ok_or(ProviderError::BadRate)
    };
    let rate_bp = match rate_bp {
        Ok(rate_bp) => rate_bp,
        Err(error) => {
            return refuse_detail(&state, &user, &code, refused(error_text(&error))).await;
        }
    };
    let mut tx = match confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await {
        Ok(tx) => tx,
        Err(error) => {
            let message = confirm::code_refusal(error)?;
            return refuse_detail(&state, &user, &code, refused(message)).await;
        }
    };
    let actor = user.actor(ip);
    match domain::set_dealer_rate(&mut tx, &actor, &code, &dealer, rate_bp, now_ms()).await {
        Ok(()) => {
            tx.commit().await?;
            tracing::info!(provider = %code, %dealer, ?rate_bp, email = %user.email(),
                "dealer rate set");
            Ok(Redirect::to(&format!("{}#rates", path(&code))).into_response())
        }
        Err(ProviderError::Database(error)) => Err(error.into()),
        Err(ProviderError::NotFound) => Err(ConsoleError::NotFound),
        Err(error) => {
            tx.rollback().await?;
            refuse_detail(&state, &user, &code, refused(error_text(&error))).await
        }
    }
}
