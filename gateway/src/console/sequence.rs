//! The point page's section on payments a phone signed that never reached the gateway: the
//! gaps in each key's payment numbers, and phones that reported their outbox vanished
//! (`db::sequence`, issue 13 item 5). Nothing here can be acted on by a button: the dealer
//! calls the point, and the cashier's history (or the exported file) tells what was taken.

use maud::{Markup, html};

use super::layout::tr;
use crate::db::sequence::{KeyGaps, LostOutbox};
use crate::display::local_time;

/// The section, or nothing when every number arrived and no outbox was lost.
pub fn section(gaps: &[KeyGaps], lost: &[LostOutbox]) -> Markup {
    let locale = crate::web::language::current().tag();
    html! {
        @for report in lost {
            p.error.outbox-lost role="alert" data-serial=(report.serial) {
                (rust_i18n::t!("points.outbox_lost", locale = locale,
                    serial = report.serial, when = local_time(report.reported_at_ms)))
            }
        }
        @if !gaps.is_empty() {
            section #sequence-gaps {
                h2 { (tr("points.gaps_title")) }
                p.muted { (tr("points.gaps_intro")) }
                @for key in gaps {
                    p.warning.gap role="alert" data-serial=(key.serial)
                        data-missing=(numbers(&key.missing)) {
                        (rust_i18n::t!("points.gaps_key", locale = locale,
                            serial = key.serial, count = key.missing_count,
                            highest = key.highest))
                        br;
                        code { (numbers(&key.missing)) }
                        @if (key.missing.len() as i64) < key.missing_count { " …" }
                    }
                }
            }
        }
    }
}

fn numbers(missing: &[i64]) -> String {
    missing
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
