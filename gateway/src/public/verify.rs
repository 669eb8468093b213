//! `GET /verify` and `POST /verify` — the public page where the recipient of a signed message
//! pastes what they received (the whole e-mail, its raw source, or just the armored block) and
//! sees whether BOTH signatures are valid, which point sent it and when, and the text. No login:
//! the recipient is anyone a point wrote to. Russian by default; `?lang=kk` / `?lang=en`.
//!
//! What is checked, in the order the page reports it (see [`crate::mail::envelope`] for the
//! format):
//! 1. a block can be read out of the text (else: what is missing or damaged);
//! 2. its key serial names a key this gateway has registered, in any state — a key revoked
//!    since still verifies the messages it signed before, and the page says it is revoked now —
//!    and 3. the block's public key is that key (a message signed by another key is refused
//!    even if its signature matches the key written in the block). Both fail alike, as an
//!    unknown key, and show nothing of the key: otherwise anyone could paste a made-up block
//!    with any serial and learn from the answer which serials are registered. Who holds a
//!    point's genuine message knows its serial and public key anyway;
//! 4. the point's signature verifies over the body with the registered key;
//! 5. the gateway's countersignature verifies with this gateway's key;
//! 6. the body is a `message` request of that key's point.
//!
//! Only a message that passes all six shows its sender and text: an altered one shows only
//! why it was refused, so a forged text is never displayed as if it came from a point.

use axum::{
    Form, Router,
    extract::{DefaultBodyLimit, State, rejection::FormRejection},
    http::StatusCode,
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use maud::{Markup, html};
use serde::Deserialize;
use tolem_protocol::messages::{KeyState, Request as SignedRequest, Step};

use crate::{
    db::{
        keys::{self, Key},
        mail, network,
    },
    display::{local_time, utc_iso},
    mail::envelope::{self, ArmorError, Envelope},
    state::AppState,
    web::language::{self, tr},
};

const PATH: &str = "/verify";
/// The most a pasted text may be: a whole e-mail with a 4 000-character letter is ~40 KB.
const MAX_PASTE_BYTES: usize = 256 * 1024;

/// The public route, with its own language handling and security headers.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(page).post(submit))
        .layer(DefaultBodyLimit::max(MAX_PASTE_BYTES))
        .layer(middleware::from_fn(super::security_headers))
        .layer(middleware::from_fn(language::remember))
}

/// The form as posted.
#[derive(Debug, Default, Deserialize)]
pub struct Pasted {
    #[serde(default)]
    message: String,
}

/// Whether one signature verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Valid,
    Invalid,
    /// It could not be checked (no block, no key to check it with).
    NotChecked,
}

/// Why a pasted message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No block could be read.
    Unreadable(ArmorError),
    /// No key with the block's serial and public key is registered here (either unknown: the
    /// page does not say which, see the module docs).
    UnknownKey,
    /// The point's signature does not verify: the body or the signature was changed.
    BadPointSignature,
    /// The gateway's countersignature does not verify.
    BadGatewaySignature,
    /// Both verify, but the body is not a message of that key's point.
    NotAMessage,
}

impl Reason {
    /// A stable name, in the page's `data-reason` (for tests and support).
    pub fn name(self) -> &'static str {
        match self {
            Reason::Unreadable(_) => "unreadable",
            Reason::UnknownKey => "unknown_key",
            Reason::BadPointSignature => "bad_point_signature",
            Reason::BadGatewaySignature => "bad_gateway_signature",
            Reason::NotAMessage => "not_a_message",
        }
    }

    fn text(self) -> String {
        match self {
            Reason::Unreadable(error) => {
                let detail = match error {
                    ArmorError::NoBlock => tr("verify.no_block"),
                    ArmorError::Unterminated => tr("verify.unterminated"),
                    ArmorError::Missing(field) | ArmorError::Damaged(field) => {
                        format!("{} {field}", tr("verify.bad_field"))
                    }
                    ArmorError::BadBody => tr("verify.bad_body"),
                };
                format!("{} {detail}", tr("verify.reason_unreadable"))
            }
            other => tr(&format!("verify.reason_{}", other.name())),
        }
    }
}

/// Who sent a verified message, and what.
#[derive(Debug, Clone)]
pub struct Sender {
    pub point_code: String,
    pub point_name: Option<String>,
    pub dealer_code: String,
    pub dealer_name: Option<String>,
    pub cashier: String,
    pub written_at_ms: i64,
    pub recipient: String,
    pub text: String,
    /// When this gateway queued it and under which id, if its outbox still has it.
    pub relayed: Option<(i64, String)>,
}

/// What the page reports.
#[derive(Debug, Clone)]
pub struct Report {
    /// `None`: genuine.
    pub refused: Option<Reason>,
    pub point_signature: Check,
    pub gateway_signature: Check,
    /// The registered key named by the block, if there is one.
    pub key: Option<Key>,
    /// Only for a genuine message.
    pub sender: Option<Sender>,
}

fn check(valid: bool) -> Check {
    if valid { Check::Valid } else { Check::Invalid }
}

/// Checks a pasted text (see the module docs for the order).
pub async fn verify(state: &AppState, text: &str) -> Result<Report, sqlx::Error> {
    let mut report = Report {
        refused: None,
        point_signature: Check::NotChecked,
        gateway_signature: Check::NotChecked,
        key: None,
        sender: None,
    };
    let envelope = match envelope::find(text) {
        Ok(envelope) => envelope,
        Err(error) => {
            report.refused = Some(Reason::Unreadable(error));
            return Ok(report);
        }
    };
    report.gateway_signature =
        check(envelope.gateway_signature_valid(&state.gateway_key.public_key()));
    let key = keys::key(&state.pool, &envelope.key_serial).await?;
    let Some(key) = key.filter(|key| key.public_key == envelope.public_key) else {
        report.refused = Some(Reason::UnknownKey);
        return Ok(report);
    };
    report.point_signature = check(envelope.point_signature_valid(&key.public_key));
    let refused = if report.point_signature != Check::Valid {
        Some(Reason::BadPointSignature)
    } else if report.gateway_signature != Check::Valid {
        Some(Reason::BadGatewaySignature)
    } else {
        None
    };
    report.refused = refused;
    if refused.is_none() {
        match sender(state, &envelope, &key).await? {
            Some(sender) => report.sender = Some(sender),
            None => report.refused = Some(Reason::NotAMessage),
        }
    }
    report.key = Some(key);
    Ok(report)
}

/// The sender of a body both signatures vouch for, if it is a message of the key's point.
async fn sender(
    state: &AppState,
    envelope: &Envelope,
    key: &Key,
) -> Result<Option<Sender>, sqlx::Error> {
    let Ok(request) = serde_json::from_slice::<SignedRequest>(&envelope.body) else {
        return Ok(None);
    };
    let Step::Message(letter) = request.step else {
        return Ok(None);
    };
    if request.key_serial != key.serial || request.point != key.point_code {
        return Ok(None);
    }
    let point = network::point(&state.pool, &request.point).await?;
    let dealer = network::dealer(&state.pool, &request.dealer).await?;
    let relayed = mail::find(&state.pool, &request.point, request.session.as_str())
        .await?
        .map(|stored| (stored.created_at_ms, stored.message_id));
    Ok(Some(Sender {
        point_code: request.point,
        point_name: point.map(|p| p.name),
        dealer_code: request.dealer,
        dealer_name: dealer.map(|d| d.name),
        cashier: request.cashier,
        written_at_ms: request.created_at_ms,
        recipient: letter.to,
        text: letter.text,
        relayed,
    }))
}

/// `GET /verify`.
async fn page() -> Markup {
    frame(html! { (form("")) })
}

/// `POST /verify` (field `message`).
async fn submit(
    State(state): State<AppState>,
    pasted: Result<Form<Pasted>, FormRejection>,
) -> Result<Markup, Response> {
    let pasted = match pasted {
        Ok(Form(pasted)) => pasted,
        // Said as it is: an emptied form would be answered "no block found", which misleads.
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            tracing::info!("pasted message too large");
            let page = frame(html! {
                p.error #too-large role="alert" { (tr("errors.too_large")) }
                (form(""))
            });
            return Err((StatusCode::PAYLOAD_TOO_LARGE, page).into_response());
        }
        Err(_) => Pasted::default(),
    };
    let report = verify(&state, &pasted.message).await.map_err(|error| {
        tracing::error!(%error, "verification page failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            frame(html! { p.error role="alert" { (tr("errors.internal")) } }),
        )
            .into_response()
    })?;
    match report.refused {
        None => tracing::info!(serial = ?report.key.as_ref().map(|k| &k.serial),
            "signed message verified"),
        Some(reason) => tracing::info!(reason = reason.name(), "signed message refused"),
    }
    Ok(frame(html! {
        (verdict(&report))
        h2 { (tr("verify.again")) }
        (form(&pasted.message))
    }))
}

/// The form, `pasted` in its text area.
fn form(pasted: &str) -> Markup {
    let lang = language::current();
    html! {
        p.intro { (tr("verify.intro")) }
        form.verify #verify method="post" action={ (PATH) "?lang=" (lang.tag()) } {
            label for="message" { (tr("verify.paste")) }
            textarea #message name="message" rows="16" cols="80" required spellcheck="false" { (pasted) }
            button type="submit" { (tr("verify.check")) }
        }
    }
}

fn check_line(id: &str, label: &str, result: Check) -> Markup {
    let (valid, text) = match result {
        Check::Valid => ("true", format!("✓ {}", tr("verify.signature_valid"))),
        Check::Invalid => ("false", format!("✗ {}", tr("verify.signature_invalid"))),
        Check::NotChecked => ("unknown", tr("verify.signature_not_checked")),
    };
    html! { li id=(id) data-valid=(valid) { (tr(label)) ": " strong { (text) } } }
}

/// A time as `2025-03-01 14:15:07 UTC+5 (2025-03-01T09:15:07.000Z)`.
fn both_times(ms: i64) -> Markup {
    let iso = utc_iso(ms);
    html! { time datetime=(iso) { (local_time(ms)) " (" (iso) ")" } }
}

fn verdict(report: &Report) -> Markup {
    let valid = report.refused.is_none();
    html! {
        section.verdict #verdict data-valid=(valid)
            data-reason=(report.refused.map_or("", Reason::name)) role="status" {
            @if valid {
                p.valid { "✓ " (tr("verify.valid")) }
            } @else if let Some(reason) = report.refused {
                p.error role="alert" { "✗ " (tr("verify.invalid")) " " (reason.text()) }
            }
            ul.signatures {
                (check_line("point-signature", "verify.point_signature", report.point_signature))
                (check_line("gateway-signature", "verify.gateway_signature", report.gateway_signature))
            }
            @if let Some(key) = &report.key {
                p #key data-state=(keys::state_text(key.state)) {
                    (tr("verify.key")) ": " code { (key.serial) } " · "
                    (tr("points.fingerprint")) ": " code { (key.public_key.fingerprint()) }
                    @if key.state == KeyState::Revoked {
                        br; strong.warning-text #key-revoked {
                            (tr("verify.key_revoked"))
                            @if let Some(at) = key.revoked_at_ms { " " (both_times(at)) }
                        }
                    }
                }
            }
            @if let Some(sender) = &report.sender {
                dl.sender #sender {
                    dt { (tr("keys.col_point")) }
                    dd #point { (sender.point_code) @if let Some(name) = &sender.point_name { " «" (name) "»" } }
                    dt { (tr("verify.dealer")) }
                    dd #dealer { (sender.dealer_code) @if let Some(name) = &sender.dealer_name { " «" (name) "»" } }
                    dt { (tr("points.col_cashier")) } dd #cashier { (sender.cashier) }
                    dt { (tr("verify.written")) } dd #written { (both_times(sender.written_at_ms)) }
                    @if let Some((at, id)) = &sender.relayed {
                        dt { (tr("verify.relayed")) } dd #relayed { (both_times(*at)) " · " code { (id) } }
                    }
                    dt { (tr("verify.recipient")) } dd #recipient { (sender.recipient) }
                }
                h2 { (tr("verify.text")) }
                pre.letter #text { (sender.text) }
            }
        }
    }
}

/// The page around `content`.
fn frame(content: Markup) -> Markup {
    super::frame::frame(&tr("verify.title"), PATH, content)
}
