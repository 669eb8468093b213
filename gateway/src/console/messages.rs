//! `GET /console/messages` — the signed messages the dealer's points sent by e-mail (manual
//! §16), newest first: point, recipient, when queued and sent, the state, failed attempts, the
//! mail server's last error and when the next attempt comes; each row unfolds to the e-mail as
//! it was (or will be) sent. Both access levels may look.
//!
//! A letter that keeps failing is never dropped (see [`crate::mail::worker`]); after
//! [`STUCK_AFTER_ATTEMPTS`] failures its row turns red so someone looks at the mail settings
//! or the address.

use axum::extract::State;
use maud::{Markup, html};

use super::{
    ConsoleError,
    layout::{self, tr, when},
    session::ConsoleUser,
};
use crate::{
    db::mail::{self, Mail, MailState},
    mail::worker::STUCK_AFTER_ATTEMPTS,
    state::AppState,
};

const PATH: &str = "/console/messages";
/// The most letters the page lists.
const PAGE_LIMIT: i64 = 500;

fn state_text(mail: &Mail) -> String {
    match mail.state {
        MailState::Queued => tr("messages.state_queued"),
        MailState::Sent => tr("messages.state_sent"),
        MailState::FailedTemporarily => tr("messages.state_failed"),
    }
}

/// `GET /console/messages`.
pub async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
) -> Result<Markup, ConsoleError> {
    let letters = mail::of_dealer(&state.pool, user.dealer_code(), PAGE_LIMIT).await?;
    let stuck = letters
        .iter()
        .filter(|m| m.state != MailState::Sent && m.attempts >= STUCK_AFTER_ATTEMPTS)
        .count();
    let content = html! {
        p.intro { (tr("messages.intro")) }
        @if stuck > 0 {
            p.error #stuck-warning role="alert" data-count=(stuck) { (tr("messages.stuck_warning")) }
        }
        p.muted { (tr("console.times_local")) }
        @if letters.is_empty() {
            p #no-messages { (tr("messages.none")) }
        } @else {
            div.table-scroll { table.messages #messages {
                thead { tr {
                    th { (tr("messages.col_id")) } th { (tr("keys.col_point")) }
                    th { (tr("messages.col_recipient")) } th { (tr("messages.col_queued")) }
                    th { (tr("messages.col_state")) } th.amount { (tr("messages.col_attempts")) }
                    th { (tr("messages.col_last_error")) }
                } }
                tbody {
                    @for letter in &letters {
                        @let is_stuck = letter.state != MailState::Sent
                            && letter.attempts >= STUCK_AFTER_ATTEMPTS;
                        tr.message.stuck[is_stuck] data-id=(letter.message_id)
                            data-state=(letter.state.as_str()) data-attempts=(letter.attempts) {
                            td {
                                details {
                                    summary { code { (letter.message_id) } }
                                    p.muted { (tr("messages.session")) ": " code { (letter.session) }
                                        " · " (tr("payments.key_serial")) ": " code { (letter.key_serial) } }
                                    pre.mail { (letter.subject) "\n\n" (letter.body) }
                                }
                            }
                            td { (letter.point_code) }
                            td { (letter.recipient) }
                            td { (when(letter.created_at_ms)) }
                            td.state {
                                (state_text(letter))
                                @if let Some(sent) = letter.sent_at_ms {
                                    br; span.muted { (when(sent)) }
                                } @else {
                                    br; span.muted { (tr("messages.next_attempt")) " " (when(letter.next_attempt_at_ms)) }
                                }
                            }
                            td.amount { (letter.attempts) }
                            td.last-error { @if let Some(error) = &letter.last_error { code.wrap { (error) } } }
                        }
                    }
                }
            } }
        }
    };
    Ok(layout::page(
        PATH,
        &tr("messages.title"),
        Some(&user),
        content,
    ))
}
