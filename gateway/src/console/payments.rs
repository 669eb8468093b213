//! `GET /console/payments` — the dealer's payments, searched by the query fields `from`, `to`
//! (business days, `YYYY-MM-DD`, both included: from 00:00 of `from` to 24:00 of `to`,
//! Kazakhstan time, by when the gateway received the payment), `point`, `provider`, `account`
//! (part of the number), `status` (`accepted` / `rejected`), `code` (result code) and
//! `session`; `GET /console/payments.csv?<the same fields>` — the same search as a CSV file;
//! `GET /console/payments/{point}/{session}` — one payment with the proof: the exact request
//! the point signed (decoded and as sent), its signature and key, and the gateway's answer.
//!
//! A month of payments: `from` = the 1st, `to` = the last day, Search, then "Export CSV".

use axum::{
    extract::{Path, Query, RawQuery, State},
    response::Response,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use maud::{Markup, html};
use serde::Deserialize;
use tolem_protocol::{codes::ResultCode, keys::Signature};

use super::{
    ConsoleError,
    csv::{Cell, Csv, download_in_pages},
    forms,
    layout::{self, tenge, tenge_plain, tr, utc_iso, when},
    session::ConsoleUser,
};
use crate::{
    db::{
        keys,
        payments::{self, Listed, Search},
    },
    payments::{BUSINESS_DAY_MS, business_day_of},
    state::AppState,
};

const PATH: &str = "/console/payments";
/// The most payments the page lists (the CSV lists them all).
const PAGE_LIMIT: i64 = 500;
/// How many payments the CSV reads at a time: the gateway holds one such page per download,
/// however many the file has.
const EXPORT_PAGE: i64 = 2_000;

/// The search as typed.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    point: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    session: String,
}

impl SearchQuery {
    /// The database search of `dealer_code`; fields that do not parse are ignored.
    fn search(&self, dealer_code: &str, limit: i64) -> Search {
        let text = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_owned())
        };
        Search {
            dealer_code: dealer_code.to_owned(),
            from_ms: forms::parse_date(&self.from).map(business_day_of),
            to_ms: forms::parse_date(&self.to).map(|d| business_day_of(d) + BUSINESS_DAY_MS),
            point_code: text(&self.point),
            provider: text(&self.provider),
            account: text(
                &self
                    .account
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>(),
            ),
            state: ["accepted", "rejected"]
                .into_iter()
                .find(|s| *s == self.status)
                .map(str::to_owned),
            code: self.code.trim().parse().ok(),
            session: text(&self.session),
            after: None,
            limit,
        }
    }
}

/// The result code's message in the console's language.
fn code_text(code: i64) -> String {
    u16::try_from(code)
        .ok()
        .and_then(ResultCode::from_number)
        .map_or_else(
            || code.to_string(),
            |c| c.message(crate::web::language::current()).to_owned(),
        )
}

fn detail_path(payment: &Listed) -> String {
    format!("{PATH}/{}/{}", payment.point_code, payment.session)
}

/// `GET /console/payments`.
pub async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<SearchQuery>,
    RawQuery(raw): RawQuery,
) -> Result<Markup, ConsoleError> {
    let found =
        payments::search(&state.pool, &query.search(user.dealer_code(), PAGE_LIMIT)).await?;
    let accepted: i64 = found
        .iter()
        .filter(|p| p.state == "accepted")
        .map(|p| p.amount_tiyn)
        .sum();
    let export = format!("{PATH}.csv?{}", raw.unwrap_or_default());
    let content = html! {
        form.payment-search #payment-search method="get" action=(PATH) {
            label { (tr("payments.from")) input type="date" name="from" value=(query.from); }
            label { (tr("payments.to")) input type="date" name="to" value=(query.to); }
            label { (tr("keys.col_point")) input type="text" name="point" value=(query.point) size="8"; }
            label { (tr("payments.provider")) input type="text" name="provider" value=(query.provider) size="10"; }
            label { (tr("payments.account")) input type="text" name="account" value=(query.account) size="12"; }
            label { (tr("payments.status"))
                select name="status" {
                    option value="" selected[query.status.is_empty()] { (tr("payments.any")) }
                    option value="accepted" selected[query.status == "accepted"] { (tr("payments.accepted")) }
                    option value="rejected" selected[query.status == "rejected"] { (tr("payments.rejected")) }
                }
            }
            label { (tr("payments.code")) input type="text" name="code" value=(query.code) size="4" inputmode="numeric"; }
            label { (tr("payments.session")) input type="text" name="session" value=(query.session) size="20"; }
            button type="submit" { (tr("payments.search")) }
        }
        p.summary {
            (tr("payments.found")) ": " strong #found data-count=(found.len()) { (found.len()) }
            "; " (tr("payments.accepted_sum")) ": " strong { (tenge(accepted)) " ₸" }
            @if found.len() as i64 == PAGE_LIMIT { " " span.muted { (tr("payments.truncated")) } }
            " · " a #export-csv href=(export) { (tr("payments.export")) }
        }
        p.muted { (tr("console.times_local")) }
        div.table-scroll { table.payments #payments {
            thead { tr {
                th { (tr("payments.received")) } th { (tr("payments.transaction")) }
                th { (tr("keys.col_point")) } th { (tr("payments.provider")) }
                th { (tr("payments.account")) } th.amount { (tr("payments.amount")) }
                th { (tr("payments.status")) } th { (tr("payments.session")) }
            } }
            tbody {
                @for payment in &found {
                    tr.payment data-state=(payment.state) data-code=(payment.code) data-transaction=(payment.transaction_id) {
                        td { (when(payment.received_at_ms)) }
                        td { a href=(detail_path(payment)) { (payment.transaction_id) } }
                        td { (payment.point_code) }
                        td { (payment.provider_name.as_deref().unwrap_or(&payment.provider)) }
                        td { (payment.account) }
                        td.amount { (tenge(payment.amount_tiyn)) }
                        td { (status_text(payment)) }
                        td { code { (payment.session) } }
                    }
                }
            }
        } }
    };
    Ok(layout::page(
        PATH,
        &tr("payments.title"),
        Some(&user),
        content,
    ))
}

fn status_text(payment: &Listed) -> String {
    if payment.state == "accepted" {
        tr("payments.accepted")
    } else {
        format!(
            "{} {}: {}",
            tr("payments.rejected"),
            payment.code,
            code_text(payment.code)
        )
    }
}

/// The columns of the payments CSV.
const EXPORT_HEADER: [&str; 16] = [
    "transaction_id",
    "received_at_utc",
    "created_at_utc",
    "point",
    "cashier",
    "key_serial",
    "session",
    "provider",
    "provider_name",
    "account",
    "amount_kzt",
    "customer_amount_kzt",
    "dealer_commission_kzt",
    "status",
    "code",
    "comment",
];

/// `GET /console/payments.csv`: every payment the search finds, newest first, read and sent
/// [`EXPORT_PAGE`] at a time.
pub async fn export(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<SearchQuery>,
) -> Result<Response, ConsoleError> {
    tracing::info!(email = %user.email(), "payments exported");
    let pool = state.pool.clone();
    let search = query.search(user.dealer_code(), EXPORT_PAGE);
    let filename = format!("payments-{}.csv", user.dealer_code());
    Ok(download_in_pages(
        &EXPORT_HEADER,
        &filename,
        None,
        move |after| {
            let (pool, search) = (
                pool.clone(),
                Search {
                    after,
                    ..search.clone()
                },
            );
            async move {
                let found = payments::search(&pool, &search).await?;
                let mut csv = Csv::page();
                for p in &found {
                    csv.row(&export_row(p));
                }
                let next = (found.len() as i64 == EXPORT_PAGE)
                    .then(|| found.last())
                    .flatten()
                    .map(|last| Some((last.received_at_ms, last.transaction_id.clone())));
                Ok((csv, next))
            }
        },
    ))
}

/// A payment's row of the CSV.
fn export_row(p: &Listed) -> [Cell<'_>; 16] {
    let commission = p.commission_tiyn.map(tenge_plain).unwrap_or_default();
    [
        Cell::Text(&p.transaction_id),
        Cell::Plain(utc_iso(p.received_at_ms)),
        Cell::Plain(utc_iso(p.created_at_ms)),
        Cell::Text(&p.point_code),
        Cell::Text(&p.cashier_code),
        Cell::Text(&p.key_serial),
        Cell::Text(&p.session),
        Cell::Text(&p.provider),
        Cell::Text(p.provider_name.as_deref().unwrap_or("")),
        Cell::Text(&p.account),
        Cell::Plain(tenge_plain(p.amount_tiyn)),
        Cell::Plain(tenge_plain(p.customer_amount_tiyn)),
        Cell::Plain(commission),
        Cell::Text(&p.state),
        Cell::Plain(p.code.to_string()),
        Cell::Text(p.comment.as_deref().unwrap_or("")),
    ]
}

/// Bytes that should be JSON, pretty-printed (or as text when they are not).
fn pretty(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned())
}

/// `GET /console/payments/{point}/{session}`.
pub async fn detail(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((point, session)): Path<(String, String)>,
) -> Result<Markup, ConsoleError> {
    let detail = payments::detail(&state.pool, user.dealer_code(), &point, &session)
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let p = &detail.payment;
    let key = keys::key(&state.pool, &p.key_serial).await?;
    // Checked again now, with the key on file: proof the stored request is what the key signed.
    let signature_ok = key.as_ref().is_some_and(|key| {
        detail
            .request_signature
            .parse::<Signature>()
            .is_ok_and(|signature| {
                key.public_key
                    .verify(&detail.request_body, &signature)
                    .is_ok()
            })
    });
    // Ed25519 signatures are deterministic: this is the very signature the answer was sent with.
    let answer_signature = state.gateway_key.sign(&detail.response_body).to_string();
    let delivery =
        super::deliveries::section(&state, &user, &p.transaction_id, &detail_path(p)).await?;
    let content = html! {
        dl.payment #payment data-state=(p.state) data-code=(p.code) {
            dt { (tr("payments.transaction")) } dd { (p.transaction_id) }
            dt { (tr("payments.status")) } dd { (status_text(p)) }
            dt { (tr("payments.received")) } dd { (when(p.received_at_ms)) }
            dt { (tr("payments.created")) } dd { (when(p.created_at_ms)) }
            dt { (tr("keys.col_point")) " / " (tr("points.col_cashier")) } dd { (p.point_code) " / " (p.cashier_code) }
            dt { (tr("payments.provider")) } dd { (p.provider_name.as_deref().unwrap_or(&p.provider)) " (" (p.provider) ")" }
            dt { (tr("payments.account")) } dd { (p.account) }
            dt { (tr("payments.amount")) } dd { (tenge(p.amount_tiyn)) " ₸" }
            dt { (tr("payments.customer_amount")) } dd { (tenge(p.customer_amount_tiyn)) " ₸" }
            @if let Some(commission) = p.commission_tiyn {
                dt { (tr("money.commission")) } dd { (tenge(commission)) " ₸" }
            }
            @if let Some(comment) = &p.comment {
                dt { (tr("payments.comment")) } dd { (comment) }
            }
            dt { (tr("payments.session")) } dd { code { (p.session) } }
        }
        (delivery)
        h2 { (tr("payments.request")) }
        p {
            (tr("payments.key_serial")) ": " code #key-serial { (p.key_serial) }
            @if let Some(key) = &key { " · " (tr("points.fingerprint")) ": " code { (key.public_key.fingerprint()) } }
        }
        p #signature-check data-valid=(signature_ok) {
            @if signature_ok { "✓ " (tr("payments.signature_valid")) }
            @else { strong.error { (tr("payments.signature_invalid")) } }
        }
        pre.json #request-json { (pretty(&detail.request_body)) }
        p { (tr("payments.signature")) ": " code.wrap #request-signature { (detail.request_signature) } }
        p { (tr("payments.base64")) ": " code.wrap #request-base64 { (STANDARD.encode(&detail.request_body)) } }
        h2 { (tr("payments.answer")) }
        pre.json #answer-json { (pretty(&detail.response_body)) }
        p { (tr("payments.gateway_signature")) ": " code.wrap #answer-signature { (answer_signature) } }
        p { (tr("payments.base64")) ": " code.wrap #answer-base64 { (STANDARD.encode(&detail.response_body)) } }
        p { a href=(PATH) { (tr("payments.back")) } }
    };
    let title = format!("{} {}", tr("payments.payment"), p.transaction_id);
    Ok(layout::page(PATH, &title, Some(&user), content))
}
