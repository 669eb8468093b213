//! `GET /console/audit` — the dealer's audit trail (full access only) — and
//! `GET /console/audit.csv` — the trail as a CSV file. Both take `from` and `to` (business
//! days, `YYYY-MM-DD`, both included). The operator's full-access users read the whole trail at
//! `GET /console/operator/audit` (and `.csv`), narrowed to one dealer with `dealer=D001`; like
//! a dealer's, the operator's create-and-view users get 403 there (the trail names every user
//! and where they log in from).
//!
//! The dealer's page checks each row it shows against its own hash (at most [`PAGE_LIMIT`]
//! SHA-256s) and names a changed one; it says nothing about the chain as a whole — its length
//! and head tell how busy the other dealers are, and walking it reads every dealer's rows. The
//! operator walks the chain from its anchor to its head when asked (`verify=1`, the page's
//! button; one walk at a time): the page then says whether it is intact (and its head, to
//! note down and compare later) or names the first bad row. The same walk runs from a terminal
//! as `tolem-gateway verify-audit`.

use axum::{
    extract::{Query, State},
    response::Response,
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    ConsoleError,
    csv::{Cell, Csv, download_in_pages},
    forms,
    layout::{self, tr, utc_iso, when},
    session::{ConsoleUser, OperatorUser, SignedIn},
};
use crate::{
    audit::{self, Filter, chain},
    payments::{BUSINESS_DAY_MS, business_day_of},
    state::AppState,
};

const PATH: &str = "/console/audit";
const OPERATOR_PATH: &str = "/console/operator/audit";
/// The most rows the page lists (the CSV takes them all).
const PAGE_LIMIT: i64 = 500;
/// How many rows the CSV reads at a time: the gateway holds one such page per download.
const EXPORT_PAGE: i64 = 2_000;

/// The period asked for.
#[derive(Debug, Default, Deserialize)]
pub struct Period {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// The operator's view only: one dealer's trail.
    #[serde(default)]
    dealer: String,
    /// The operator's view only: `1` walks the whole chain.
    #[serde(default)]
    verify: String,
}

impl Period {
    fn filter(&self, dealer_code: Option<&str>, limit: i64) -> Filter {
        Filter {
            dealer_code: dealer_code.map(str::to_owned),
            from_ms: forms::parse_date(&self.from).map(business_day_of),
            to_ms: forms::parse_date(&self.to).map(|d| business_day_of(d) + BUSINESS_DAY_MS),
            limit,
        }
    }
}

/// `GET /console/audit`.
pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(period): Query<Period>,
) -> Result<Markup, ConsoleError> {
    user.require_full_access()?;
    render(&state, &user, PATH, Some(user.dealer_code()), &period).await
}

/// `GET /console/operator/audit`: the whole trail, or one dealer's (full access only).
pub async fn operator_page(
    State(state): State<AppState>,
    user: OperatorUser,
    Query(period): Query<Period>,
) -> Result<Markup, ConsoleError> {
    user.require_full_access()?;
    let dealer = Some(period.dealer.trim()).filter(|d| !d.is_empty());
    render(&state, &user, OPERATOR_PATH, dealer, &period).await
}

/// One walk of the whole chain at a time, however many operators ask: each reads every row.
static WALKING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What the page says about the chain.
enum ChainState {
    /// Not walked (the operator's page until asked).
    NotChecked,
    /// The rows shown each match their own hash, or the first that does not (the dealer's
    /// page: `Ok` holds how many were checked).
    Rows(Result<usize, chain::Broken>),
    /// The whole chain walked (the operator's page, when asked).
    Walked(Result<chain::Verified, chain::ChainError>),
}

async fn render(
    state: &AppState,
    user: &SignedIn,
    path: &str,
    dealer: Option<&str>,
    period: &Period,
) -> Result<Markup, ConsoleError> {
    let rows = audit::rows(&state.pool, &period.filter(dealer, PAGE_LIMIT)).await?;
    let chain_state = if !user.is_operator() {
        ChainState::Rows(
            match rows
                .iter()
                .find(|row| row.expected_hash(&row.prev_hash) != row.hash)
            {
                Some(row) => {
                    tracing::error!(seq = row.seq, "audit row changed");
                    Err(chain::Broken::Changed { seq: row.seq })
                }
                None => Ok(rows.len()),
            },
        )
    } else if period.verify.trim() == "1" {
        let _walking = WALKING.lock().await;
        let verified = chain::verify(&state.pool).await;
        match &verified {
            Err(chain::ChainError::Database(error)) => {
                tracing::error!(%error, "audit chain could not be read");
            }
            Err(chain::ChainError::Broken(broken)) => {
                tracing::error!(%broken, "audit chain broken");
            }
            Ok(_) => {}
        }
        ChainState::Walked(verified)
    } else {
        ChainState::NotChecked
    };
    let export = format!(
        "{path}.csv?from={}&to={}&dealer={}",
        forms::parse_date(&period.from)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        forms::parse_date(&period.to)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        if user.is_operator() {
            dealer.unwrap_or_default()
        } else {
            ""
        }
    );
    let content = html! {
        @match &chain_state {
            ChainState::NotChecked => {
                p.muted #chain-status { (tr("audit.not_verified")) }
            }
            ChainState::Rows(Ok(checked)) => {
                p.chain-ok #chain-status data-ok="true" {
                    "✓ " (tr("audit.rows_ok")) " " (checked) ". " (tr("audit.rows_note"))
                }
            }
            ChainState::Rows(Err(broken)) => {
                p.error #chain-status data-ok="false" data-seq=(broken.seq()) role="alert" {
                    (tr("audit.row_changed")) " seq " (broken.seq()) ". " (tr("audit.rows_note"))
                }
            }
            ChainState::Walked(Ok(v)) => {
                p.chain-ok #chain-status data-ok="true" {
                    "✓ " (tr("audit.chain_ok")) " " (v.rows) " · "
                    (tr("audit.head")) " seq " (v.head_seq) ", " code.wrap { (v.head_hash) }
                    @if v.anchor_seq > 0 { " · " (tr("audit.anchor")) " seq " (v.anchor_seq) }
                }
            }
            ChainState::Walked(Err(chain::ChainError::Broken(broken))) => {
                p.error #chain-status data-ok="false" data-seq=(broken.seq()) role="alert" {
                    (tr("audit.chain_broken")) " seq " (broken.seq()) ": " (broken.to_string())
                }
            }
            ChainState::Walked(Err(chain::ChainError::Database(_))) => {
                p.error #chain-status data-ok="false" role="alert" { (tr("errors.internal")) }
            }
        }
        p.muted { (tr("audit.intro")) }
        form.audit-period method="get" action=(path) {
            @if user.is_operator() {
                label { (tr("audit.dealer")) input type="text" name="dealer" value=(dealer.unwrap_or_default()) size="6"; }
            }
            label { (tr("payments.from")) input type="date" name="from" value=(period.from); }
            label { (tr("payments.to")) input type="date" name="to" value=(period.to); }
            button type="submit" { (tr("payments.search")) }
            @if user.is_operator() {
                " " button #verify-chain type="submit" name="verify" value="1" { (tr("audit.verify")) }
            }
            " · " a #export-audit href=(export) { (tr("audit.export")) }
        }
        div.table-scroll { table.audit #audit {
            thead { tr {
                th { "seq" } th { (tr("audit.when")) } th { (tr("audit.who")) } th { (tr("audit.ip")) }
                th { (tr("audit.action")) } th { (tr("audit.subject")) } th { (tr("audit.details")) }
            } }
            tbody {
                @for row in &rows {
                    tr data-seq=(row.seq) data-action=(row.action) {
                        td { (row.seq) }
                        td { (when(row.at_ms)) }
                        td { (row.actor) }
                        td { (row.ip) }
                        td { code { (row.action) } }
                        td { (row.subject) }
                        td { code.details { (row.details) } }
                    }
                }
            }
        } }
    };
    Ok(layout::page(path, &tr("audit.title"), Some(user), content))
}

/// `GET /console/audit.csv`.
pub async fn export(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(period): Query<Period>,
) -> Result<Response, ConsoleError> {
    user.require_full_access()?;
    csv(&state, Some(user.dealer_code()), &period).await
}

/// `GET /console/operator/audit.csv` (full access only).
pub async fn operator_export(
    State(state): State<AppState>,
    user: OperatorUser,
    Query(period): Query<Period>,
) -> Result<Response, ConsoleError> {
    user.require_full_access()?;
    let dealer = Some(period.dealer.trim()).filter(|d| !d.is_empty());
    csv(&state, dealer, &period).await
}

/// The columns of the audit CSV.
const EXPORT_HEADER: [&str; 10] = [
    "seq",
    "at_utc",
    "at_ms",
    "actor",
    "ip",
    "action",
    "subject",
    "details",
    "prev_hash",
    "hash",
];

/// The trail of the period as CSV, oldest first (as the chain runs), read and sent
/// [`EXPORT_PAGE`] rows at a time.
async fn csv(
    state: &AppState,
    dealer: Option<&str>,
    period: &Period,
) -> Result<Response, ConsoleError> {
    let pool = state.pool.clone();
    let filter = period.filter(dealer, EXPORT_PAGE);
    let filename = format!("audit-{}.csv", dealer.unwrap_or("all"));
    Ok(download_in_pages(
        &EXPORT_HEADER,
        &filename,
        i64::MIN,
        move |after_seq| {
            let (pool, filter) = (pool.clone(), filter.clone());
            async move {
                let rows = audit::rows_after(&pool, &filter, after_seq).await?;
                let mut csv = Csv::page();
                for row in &rows {
                    csv.row(&[
                        Cell::Plain(row.seq.to_string()),
                        Cell::Plain(utc_iso(row.at_ms)),
                        Cell::Plain(row.at_ms.to_string()),
                        Cell::Text(&row.actor),
                        Cell::Text(&row.ip),
                        Cell::Text(&row.action),
                        Cell::Text(&row.subject),
                        Cell::Text(&row.details),
                        Cell::Plain(row.prev_hash.clone()),
                        Cell::Plain(row.hash.clone()),
                    ]);
                }
                let next = (rows.len() as i64 == EXPORT_PAGE)
                    .then(|| rows.last().map(|last| last.seq))
                    .flatten();
                Ok((csv, next))
            }
        },
    ))
}
