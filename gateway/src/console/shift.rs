//! The shift reports on a point's page (issue 16): each report the point's phones sent, beside
//! the gateway's own figures for the same key and time span ([`crate::shift`]), with every line
//! where they disagree marked by the class `differs` and a word — not by colour alone.

use maud::{Markup, html};
use sqlx::AnyPool;

use super::layout::{tenge, tr, when};
use crate::shift::{self, Comparison, Line, StoredShift, store};

/// How many reports the point's page shows (the newest).
pub const SHOWN: i64 = 10;

/// A report with the comparison made for it.
pub struct ShownShift {
    pub stored: StoredShift,
    pub comparison: Comparison,
}

/// The newest reports of `point`, each compared with the gateway's figures.
pub async fn load(pool: &AnyPool, point: &str) -> Result<Vec<ShownShift>, sqlx::Error> {
    let mut shown = Vec::new();
    for stored in store::of_point(pool, point, SHOWN).await? {
        let report = &stored.report;
        let figures = shift::gateway_figures(
            pool,
            point,
            &stored.key_serial,
            report.opened_at_ms,
            report.closed_at_ms,
        )
        .await?;
        let comparison = shift::compare(report, &figures);
        shown.push(ShownShift { stored, comparison });
    }
    Ok(shown)
}

/// The section of the point's page.
pub fn section(shifts: &[ShownShift]) -> Markup {
    html! {
        h2 #shifts-title { (tr("shift.title")) }
        p.muted { (tr("shift.intro")) }
        @if shifts.is_empty() {
            p.muted #no-shifts { (tr("shift.none")) }
        }
        @for shown in shifts {
            (report(shown))
        }
    }
}

fn report(shown: &ShownShift) -> Markup {
    let stored = &shown.stored;
    let report = &stored.report;
    let differs = shown.comparison.differs();
    html! {
        section.shift-report data-session=(stored.session)
            data-differs=(if differs { "true" } else { "false" }) {
            h3 {
                (when(report.opened_at_ms)) " — " (when(report.closed_at_ms))
                " · " (tr("points.col_cashier")) " " (stored.cashier_code)
            }
            p {
                (tr("shift.cash")) ": " strong.shift-cash { (tenge(report.cash_tiyn)) }
                " · " (tr("shift.waiting")) ": "
                span.shift-waiting { (report.waiting.count) " / " (tenge(report.waiting.sum_tiyn)) }
                @if differs {
                    " · " strong.differs.shift-verdict { (tr("shift.differs")) }
                } @else {
                    " · " span.same.shift-verdict { (tr("shift.same")) }
                }
            }
            div.table-scroll { table.shift-lines {
                thead { tr {
                    th { (tr("shift.col_line")) }
                    th { (tr("shift.col_phone")) }
                    th { (tr("shift.col_gateway")) }
                    th { (tr("shift.col_check")) }
                } }
                tbody {
                    @for line in &shown.comparison.states {
                        (row(line, &tr(&format!("shift.state_{}", line.name)), "state"))
                    }
                    @for line in &shown.comparison.providers {
                        (row(line, &line.name, "provider"))
                    }
                }
            } }
        }
    }
}

fn row(line: &Line, label: &str, kind: &str) -> Markup {
    let figures =
        |f: tolem_protocol::shift::Figures| format!("{} / {}", f.count, tenge(f.sum_tiyn));
    html! {
        tr.shift-line.differs[line.differs()] data-kind=(kind) data-line=(line.name) {
            td { (label) }
            td.phone { (figures(line.phone)) }
            @match line.gateway {
                Some(gateway) => {
                    td.gateway { (figures(gateway)) }
                    td {
                        @if line.differs() {
                            strong { (tr("shift.differs")) }
                        } @else {
                            (tr("shift.same"))
                        }
                    }
                }
                None => {
                    td.gateway.muted { "—" }
                    td.muted { (tr("shift.phone_only")) }
                }
            }
        }
    }
}
