//! `GET /console/money` — the dealer's balance as a ledger (manual §15, §18) — and
//! `GET /console/money/statement?day=YYYY-MM-DD`, the daily statement.
//!
//! * `POST /console/money/top-up` (fields `csrf`, `amount` in tenge, `reference`, `otp`): full
//!   access with a one-time code, posted at once;
//! * `POST /console/money/top-up/prepare` (fields `csrf`, `amount`, `reference`): any user; a
//!   full-access user confirms it on the operations page;
//! * `POST /console/money/commission` (field `csrf`): full access; credits this dealer's
//!   commission for every finished business day not credited yet (the background job does the
//!   same for every dealer, so the button only saves waiting for it).
//!
//! A top-up's reference is the bank's (a payment order number): the ledger refuses the same
//! reference twice, so a statement entered twice is not credited twice. It is stored prefixed
//! with the dealer's code, as references are unique across the whole ledger.

use axum::{
    Form,
    extract::{Query, State, rejection::FormRejection},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    ConsoleError, confirm, forms,
    layout::{self, otp_field, tenge, tr, when},
    session::ConsoleUser,
};
use crate::{
    audit::{self, Event},
    commission,
    db::{
        ledger::{self, LedgerKind, NewEntry, Posted},
        network, now_ms,
        operations::Payload,
    },
    http::{AppState, client_ip::ClientIp},
    payments::{BUSINESS_DAY_MS, business_date, business_day_of, business_day_start},
};

const PATH: &str = "/console/money";
/// The most ledger entries the page lists.
const ENTRIES: i64 = 500;

/// The top-up form as posted.
#[derive(Default, Deserialize)]
pub struct TopUpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reference: String,
}

impl TopUpForm {
    /// The amount (more than zero) and the reference, or which is wrong.
    fn read(&self) -> Result<(i64, String), ConsoleError> {
        let amount = forms::parse_tenge(&self.amount)
            .filter(|tiyn| *tiyn > 0)
            .ok_or_else(|| ConsoleError::invalid("money.bad_amount", PATH))?;
        let reference = forms::required_text(&self.reference, 64)
            .ok_or_else(|| ConsoleError::invalid("money.bad_reference", PATH))?;
        Ok((amount, reference))
    }
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

/// The statement's day.
#[derive(Default, Deserialize)]
pub struct StatementQuery {
    #[serde(default)]
    day: String,
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
        form.top-up #top-up method="post"
            action=(if full { "/console/money/top-up" } else { "/console/money/top-up/prepare" }) {
            input type="hidden" name="csrf" value=(user.csrf_token());
            label for="amount" { (tr("money.amount")) }
            input #amount type="text" name="amount" inputmode="decimal" required;
            label for="reference" { (tr("money.reference")) }
            input #reference type="text" name="reference" maxlength="64" required;
            @if full {
                (otp_field())
                button type="submit" { (tr("money.top_up")) }
            } @else {
                p.muted { (tr("money.prepare_hint")) }
                button type="submit" { (tr("operations.prepare")) }
            }
        }
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
    Ok(layout::page(PATH, &tr("money.title"), Some(&user), content))
}

/// The ledger entries as a table.
fn entries_table(entries: &[ledger::Entry]) -> Markup {
    html! {
        @if entries.is_empty() {
            p.muted { (tr("money.no_entries")) }
        } @else {
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

/// Posts a top-up inside `tx` with its audit row; `operation` is the prepared operation it
/// carries out, if any. Shared with confirming a prepared top-up.
pub async fn top_up_in(
    tx: &mut sqlx::AnyConnection,
    user: &ConsoleUser,
    ip: std::net::IpAddr,
    amount_tiyn: i64,
    reference: &str,
    operation: Option<&str>,
) -> Result<i64, ConsoleError> {
    let stored = format!("{}/{reference}", user.dealer_code());
    let now = now_ms();
    let entry = NewEntry {
        dealer_code: user.dealer_code(),
        kind: LedgerKind::TopUp,
        amount_tiyn,
        reference: &stored,
        point_code: None,
        created_at_ms: now,
    };
    let balance_after = match ledger::post_in(&mut *tx, &entry).await? {
        Posted::Done { balance_after_tiyn } => balance_after_tiyn,
        Posted::AlreadyPosted => {
            return Err(ConsoleError::invalid("money.reference_used", PATH));
        }
        other => {
            return Err(ConsoleError::Internal(format!(
                "top-up not posted: {other:?}"
            )));
        }
    };
    let event = Event {
        action: "money.top_up",
        subject: format!("ledger:{}", ledger::entry_id(LedgerKind::TopUp, &stored)),
        details: serde_json::json!({
            "amount_tiyn": amount_tiyn,
            "reference": reference,
            "operation": operation,
            "change": audit::change(
                serde_json::json!({ "balance_tiyn": balance_after - amount_tiyn }),
                serde_json::json!({ "balance_tiyn": balance_after }),
            ),
        }),
    };
    audit::record_in(tx, &user.actor(ip), &event, now).await?;
    tracing::info!(dealer = %user.dealer_code(), amount_tiyn, %reference, email = %user.email(), "top-up posted");
    Ok(balance_after)
}

/// `POST /console/money/top-up`: full access, with a one-time code.
pub async fn top_up(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    form: Result<Form<TopUpForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    user.require_full_access()?;
    let (amount, reference) = form.read()?;
    let mut tx = confirm::begin_confirmed(&state, &user, ip, &form.csrf, &form.otp).await?;
    top_up_in(&mut tx, &user, ip, amount, &reference, None).await?;
    tx.commit().await?;
    Ok(Redirect::to(PATH).into_response())
}

/// `POST /console/money/top-up/prepare`: any user; a full-access user confirms it.
pub async fn prepare_top_up(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: ConsoleUser,
    form: Result<Form<TopUpForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let form = forms::read(form);
    user.check_csrf(&form.csrf)?;
    let (amount_tiyn, reference) = form.read()?;
    let mut tx = confirm::begin(&state, &user, &form.csrf).await?;
    let payload = Payload::TopUp {
        amount_tiyn,
        reference,
    };
    super::operations::prepare_in(&mut tx, &user, ip, &payload).await?;
    tx.commit().await?;
    Ok(Redirect::to(super::operations::PATH).into_response())
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
        action: "commission.run",
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
    let entries = ledger::entries(&state.pool, dealer, start, end, i64::MAX).await?;
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
        table.statement #statement data-reconciles=(figures.reconciles()) {
            (line("opening", "money.opening", figures.opening_tiyn))
            (line("top_ups", "money.top_ups", figures.top_ups_tiyn))
            (line("payments", "money.payments", figures.payments_tiyn))
            (line("commission", "money.commission", figures.commission_tiyn))
            (line("corrections", "money.corrections", figures.corrections_tiyn))
            (line("closing", "money.closing", figures.closing_tiyn))
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
        (entries_table(&entries))
    };
    let title = format!("{} {}", tr("money.statement_title"), day);
    Ok(layout::page(
        "/console/money/statement",
        &title,
        Some(&user),
        content,
    ))
}
