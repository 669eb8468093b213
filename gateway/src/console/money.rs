//! `GET /console/money` — the dealer's balance as a ledger (manual §15, §18) — and
//! `GET /console/money/statement?day=YYYY-MM-DD`, the daily statement: the day's figures, and
//! its entries [`STATEMENT_PAGE`] at a time, newest first (every payment is an entry); the
//! links to the older and the newer ones (`#entries-older`, `#entries-newer`) add the entry
//! the page ends or starts at (`older_ms` and `older_id`, or `newer_ms` and `newer_id`).
//!
//! * `POST /console/money/top-up-requests` (fields `csrf`, `amount` in tenge, `reference`,
//!   `paid_on` as `YYYY-MM-DD`): any user of the dealer asks the operator to credit money the
//!   bank received; nothing is credited until the operator confirms it after checking the bank
//!   statement (`crate::operator::money`). The dealer cannot credit its own balance.
//! * `POST /console/money/commission` (field `csrf`): full access; credits this dealer's
//!   commission for every finished business day not credited yet (the background job does the
//!   same for every dealer, so the button only saves waiting for it).
//!
//! A top-up's reference is the bank's (a payment order number): a reference waiting or
//! confirmed already, or posted in the ledger, is refused, so a payment is not credited twice.
//! In the ledger it is prefixed with the dealer's code, as references are unique there.

use axum::{
    Form,
    extract::{Query, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    ConsoleError, confirm, forms,
    layout::{self, tenge, tr, when},
    session::ConsoleUser,
};
use crate::{
    audit::{self, Action, Event},
    commission,
    db::{ledger, network, now_ms},
    dealer::top_ups::{self, NewRequest, TopUpError, TopUpRequest},
    payments::{BUSINESS_DAY_MS, business_date, business_day_of, business_day_start},
    {state::AppState, web::client_ip::ClientIp},
};

const PATH: &str = "/console/money";
/// The most ledger entries the page lists.
const ENTRIES: i64 = 500;
/// The most top-up requests the page lists.
const REQUESTS: i64 = 100;
/// How many entries a page of the daily statement lists.
const STATEMENT_PAGE: i64 = 200;
const STATEMENT_PATH: &str = "/console/money/statement";

/// The top-up request form as posted (kept to show again with an error).
#[derive(Default, Deserialize)]
pub struct TopUpRequestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    paid_on: String,
}

/// The ledger page's date filter and the outcome of a commission run.
#[derive(Default, Deserialize)]
pub struct LedgerQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    credited: Option<usize>,
}

/// The statement's day, and where its page of entries starts (the newest when absent).
#[derive(Default, Deserialize)]
pub struct StatementQuery {
    #[serde(default)]
    day: String,
    /// The page holds the entries older than this one (time and id).
    #[serde(default)]
    older_ms: String,
    #[serde(default)]
    older_id: String,
    /// The page holds the entries newer than this one (time and id).
    #[serde(default)]
    newer_ms: String,
    #[serde(default)]
    newer_id: String,
}

impl StatementQuery {
    /// Where the page of entries starts.
    fn page_start(&self) -> ledger::PageStart<'_> {
        if let Ok(created_at_ms) = self.older_ms.trim().parse() {
            ledger::PageStart::OlderThan {
                created_at_ms,
                id: &self.older_id,
            }
        } else if let Ok(created_at_ms) = self.newer_ms.trim().parse() {
            ledger::PageStart::NewerThan {
                created_at_ms,
                id: &self.newer_id,
            }
        } else {
            ledger::PageStart::Newest
        }
    }
}

/// The statement of `day` at the page of entries next to `entry` (`side` is `older` or
/// `newer`).
fn statement_link(day: time::Date, side: &str, entry: &ledger::Entry) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("day", &day.to_string())
        .append_pair(&format!("{side}_ms"), &entry.created_at_ms.to_string())
        .append_pair(&format!("{side}_id"), &entry.id)
        .finish();
    format!("{STATEMENT_PATH}?{query}#ledger")
}

/// A form with only the CSRF token.
#[derive(Default, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// The name of a ledger entry's kind.
fn kind_text(kind: &str) -> String {
    tr(&format!("money.kind_{kind}"))
}

/// `GET /console/money`.
pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<LedgerQuery>,
) -> Result<Markup, ConsoleError> {
    render(&state, &user, &query, &TopUpRequestForm::default(), None).await
}

/// The money page, with the top-up request form showing `typed` and `error`, if any.
async fn render(
    state: &AppState,
    user: &ConsoleUser,
    query: &LedgerQuery,
    typed: &TopUpRequestForm,
    error: Option<&str>,
) -> Result<Markup, ConsoleError> {
    let dealer = network::dealer(&state.pool, user.dealer_code())
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let now = now_ms();
    let today = business_day_start(now);
    let accrued = commission::accrued_on(&state.pool, user.dealer_code(), today).await?;
    let from = forms::parse_date(&query.from).map(business_day_of);
    let to = forms::parse_date(&query.to).map(|d| business_day_of(d) + BUSINESS_DAY_MS);
    let entries = ledger::entries(
        &state.pool,
        user.dealer_code(),
        from.unwrap_or(i64::MIN),
        to.unwrap_or(i64::MAX),
        ENTRIES,
    )
    .await?;
    let full = user.has_full_access();
    let requests = top_ups::of_dealer(&state.pool, user.dealer_code(), REQUESTS).await?;
    let paid_on = if typed.paid_on.is_empty() {
        business_date(now).to_string()
    } else {
        typed.paid_on.clone()
    };
    let content = html! {
        @if let Some(days) = query.credited {
            p.notice #credited { (tr("money.credited")) ": " (days) }
        }
        div.figures {
            p { (tr("money.balance")) ": " strong #balance data-tiyn=(dealer.balance_tiyn) { (tenge(dealer.balance_tiyn)) " ₸" } }
            p {
                (tr("money.accrued_today")) ": "
                strong #accrued-today data-tiyn=(accrued.commission_tiyn) { (tenge(accrued.commission_tiyn)) " ₸" }
                " " span.muted { "(" (tr("money.accrued_payments")) ": " (accrued.payments) ")" }
            }
        }
        h2 { (tr("money.top_up_title")) }
        p.muted { (tr("top_ups.hint")) }
        form.top-up-request #top-up-request method="post" action="/console/money/top-up-requests" {
            @if let Some(error) = error {
                p.error.form-error role="alert" { (error) }
            }
            input type="hidden" name="csrf" value=(user.csrf_token());
            label for="amount" { (tr("money.amount")) }
            input #amount type="text" name="amount" inputmode="decimal" required value=(typed.amount);
            label for="reference" { (tr("money.reference")) }
            input #reference type="text" name="reference" maxlength="64" required value=(typed.reference);
            label for="paid_on" { (tr("top_ups.paid_on")) }
            input #paid_on type="date" name="paid_on" required value=(paid_on);
            button type="submit" { (tr("top_ups.send")) }
        }
        (requests_table(&requests))
        @if full {
            form.credit-commission #credit-commission method="post" action="/console/money/commission" {
                input type="hidden" name="csrf" value=(user.csrf_token());
                span.muted { (tr("money.credit_hint")) " " }
                button type="submit" { (tr("money.credit")) }
            }
        }
        h2 { (tr("money.statement_title")) }
        form.statement-day method="get" action="/console/money/statement" {
            label for="day" { (tr("money.day")) }
            input #day type="date" name="day" value=(business_date(now).to_string());
            button type="submit" { (tr("money.show_statement")) }
        }
        h2 { (tr("money.ledger_title")) }
        form.ledger-filter method="get" action=(PATH) {
            label for="from" { (tr("payments.from")) }
            input #from type="date" name="from" value=(query.from);
            label for="to" { (tr("payments.to")) }
            input #to type="date" name="to" value=(query.to);
            button type="submit" { (tr("payments.search")) }
        }
        p.muted { (tr("console.times_local")) }
        (entries_table(&entries))
    };
    Ok(layout::page(PATH, &tr("money.title"), Some(user), content))
}

/// The dealer's top-up requests with their state and, when rejected, why.
fn requests_table(requests: &[TopUpRequest]) -> Markup {
    html! {
        h3 { (tr("top_ups.requests_title")) }
        @if requests.is_empty() {
            p.muted #no-top-up-requests { (tr("top_ups.none")) }
        } @else {
            div.table-scroll {
                table.top-up-requests #top-up-requests {
                    thead { tr {
                        th { "№" }
                        th.amount { (tr("money.col_amount")) }
                        th { (tr("money.reference")) }
                        th { (tr("top_ups.paid_on")) }
                        th { (tr("top_ups.requested_by")) }
                        th { (tr("top_ups.state")) }
                    } }
                    tbody {
                        @for request in requests {
                            tr data-request=(request.id) data-state=(request.state) {
                                td { code { (request.id) } }
                                td.amount data-tiyn=(request.amount_tiyn) { (tenge(request.amount_tiyn)) }
                                td { (request.bank_reference) }
                                td { (request.paid_on) }
                                td { (request.requested_by) br; span.muted { (when(request.requested_at_ms)) } }
                                td {
                                    (tr(&format!("top_ups.state_{}", request.state)))
                                    @if !request.decision_note.is_empty() {
                                        ": " span.decision-note { (request.decision_note) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The ledger entries as a table.
fn entries_table(entries: &[ledger::Entry]) -> Markup {
    html! {
        @if entries.is_empty() {
            p.muted { (tr("money.no_entries")) }
        } @else {
            div.table-scroll {
                table.ledger #ledger {
                    thead { tr {
                        th { (tr("money.col_time")) }
                        th { (tr("money.col_kind")) }
                        th.amount { (tr("money.col_amount")) }
                        th.amount { (tr("money.col_balance_after")) }
                        th { (tr("money.reference")) }
                        th { (tr("keys.col_point")) }
                    } }
                    tbody {
                        @for entry in entries {
                            tr.entry data-kind=(entry.kind) data-id=(entry.id) {
                                td { (when(entry.created_at_ms)) }
                                td { (kind_text(&entry.kind)) }
                                td.amount data-tiyn=(entry.amount_tiyn) { (tenge(entry.amount_tiyn)) }
                                td.amount { (tenge(entry.balance_after_tiyn)) }
                                td { (entry.reference) }
                                td { (entry.point_code.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /console/money/top-up-requests`: any user of the dealer asks the operator to credit
/// money the bank received. Bad input shows the page again with what was typed (422).
pub async fn request_top_up(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    form: Result<Form<TopUpRequestForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let now = now_ms();
    let checked = match (
        forms::parse_tenge(&form.amount),
        forms::parse_date(&form.paid_on),
    ) {
        (None, _) => Err(TopUpError::BadAmount),
        (_, None) => Err(TopUpError::BadDate),
        (Some(amount_tiyn), Some(paid_on)) => {
            let mut tx = confirm::begin(&state, &user, &form.csrf).await?;
            let request = NewRequest {
                amount_tiyn,
                bank_reference: &form.reference,
                paid_on,
            };
            let today = business_date(now);
            match top_ups::request_in(
                &mut tx,
                &user.actor(ip),
                user.dealer_code(),
                &request,
                today,
                now,
            )
            .await
            {
                Ok(id) => {
                    tx.commit().await?;
                    Ok(id)
                }
                Err(error) => Err(error),
            }
        }
    };
    match checked {
        Ok(_) => Ok(Redirect::to(&format!("{PATH}#top-up-requests")).into_response()),
        Err(TopUpError::Database(error)) => Err(error.into()),
        Err(error) => {
            let page = render(
                &state,
                &user,
                &LedgerQuery::default(),
                &form,
                Some(&tr(error.message_key())),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// `POST /console/money/commission`: full access.
pub async fn credit_commission(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    user.require_full_access()?;
    let now = now_ms();
    let credited =
        commission::credit_finished_days(&state.pool, Some(user.dealer_code()), now).await?;
    let event = Event {
        action: Action::CommissionRun,
        subject: format!("dealer:{}", user.dealer_code()),
        details: serde_json::json!({
            "days": credited.iter().map(|c| business_date(c.day_start_ms).to_string()).collect::<Vec<_>>(),
            "commission_tiyn": credited.iter().map(|c| c.commission_tiyn).sum::<i64>(),
        }),
    };
    audit::record(&state.pool, &user.actor(ip), &event, now).await?;
    Ok(Redirect::to(&format!("{PATH}?credited={}", credited.len())).into_response())
}

/// `GET /console/money/statement?day=YYYY-MM-DD` (today when absent or not a date).
pub async fn statement(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<StatementQuery>,
) -> Result<Markup, ConsoleError> {
    let now = now_ms();
    let day = forms::parse_date(&query.day).unwrap_or_else(|| business_date(now));
    let start = business_day_of(day);
    let end = start + BUSINESS_DAY_MS;
    let dealer = user.dealer_code();
    let figures = ledger::statement(&state.pool, dealer, start, end).await?;
    let accrued = commission::accrued_on(&state.pool, dealer, start).await?;
    let page = ledger::entries_page(
        &state.pool,
        dealer,
        start,
        end,
        query.page_start(),
        STATEMENT_PAGE,
    )
    .await?;
    let newer = page
        .entries
        .first()
        .filter(|_| page.newer)
        .map(|entry| statement_link(day, "newer", entry));
    let older = page
        .entries
        .last()
        .filter(|_| page.older)
        .map(|entry| statement_link(day, "older", entry));
    let line = |id: &str, key: &str, tiyn: i64| {
        html! {
            tr data-figure=(id) {
                th { (tr(key)) }
                td.amount #{ "statement-" (id) } data-tiyn=(tiyn) { (tenge(tiyn)) }
            }
        }
    };
    let content = html! {
        p.muted { (tr("money.statement_period")) ": " (when(start)) " — " (when(end)) }
        div.table-scroll {
            table.statement #statement data-reconciles=(figures.reconciles()) {
                (line("opening", "money.opening", figures.opening_tiyn))
                (line("top_ups", "money.top_ups", figures.top_ups_tiyn))
                (line("payments", "money.payments", figures.payments_tiyn))
                (line("commission", "money.commission", figures.commission_tiyn))
                (line("corrections", "money.corrections", figures.corrections_tiyn))
                (line("refunds", "money.refunds", figures.refunds_tiyn))
                (line("card_payments", "money.card_payments", figures.card_payments_tiyn))
                (line("card_refunds", "money.card_refunds", figures.card_refunds_tiyn))
                (line("closing", "money.closing", figures.closing_tiyn))
            }
        }
        p #reconciliation {
            @if figures.reconciles() { "✓ " (tr("money.reconciles")) }
            @else { strong.error { (tr("money.does_not_reconcile")) } }
        }
        p.muted {
            (tr("money.payments_count")) ": " (figures.payments) ". "
            (tr("money.accrued_that_day")) ": " span #statement-accrued data-tiyn=(accrued.commission_tiyn) { (tenge(accrued.commission_tiyn)) }
            " (" (accrued.payments) ")."
        }
        (entries_table(&page.entries))
        @if newer.is_some() || older.is_some() {
            p.pages #entries-pages {
                @if let Some(href) = &newer {
                    a #entries-newer href=(href) rel="prev" { "← " (tr("money.newer_entries")) }
                }
                @if newer.is_some() && older.is_some() { " · " }
                @if let Some(href) = &older {
                    a #entries-older href=(href) rel="next" { (tr("money.older_entries")) " →" }
                }
            }
        }
    };
    let title = format!("{} {}", tr("money.statement_title"), day);
    Ok(layout::page(STATEMENT_PATH, &title, Some(&user), content))
}
