//! Delivering notifications to the shop, as the services do: a form POST, signed, sent again
//! with growing pauses until it is answered in the service's terms, every attempt kept.
//!
//! What counts as an answer: TipTop Pay, a 2xx whose body is `{"code":N}` (a refusal code is
//! an answer too; HTTP errors, timeouts and other bodies are not); Robokassa, the body
//! `OK{InvId}` ("Результат должен содержать текст OK и параметр InvId"). Neither service
//! publishes its retry schedule; the emulator doubles its pause from `--retry-base-ms` up to
//! `--retry-max-ms`, for `--retry-attempts` attempts.
//!
//! A Check is sent once, synchronously, while the customer waits ([`deliver_once`]): the
//! service does not repeat it; an unanswered Check declines the card.

use std::sync::Arc;

use crate::service::ServiceKind;
use crate::tiptop::signature;

use super::state::{Attempt, Delivery, Emulator};

const FORM: &str = "application/x-www-form-urlencoded";

/// Stores a notification to deliver and returns its number.
pub fn record(
    emulator: &Emulator,
    service: ServiceKind,
    kind: &str,
    order_id: &str,
    invoice: &str,
    body: String,
    forged: bool,
) -> u64 {
    let mut ledger = emulator.ledger();
    let id = ledger.next_number();
    tracing::info!(
        id,
        service = service.name(),
        kind,
        invoice,
        forged,
        "notification queued"
    );
    ledger.deliveries.push(Delivery {
        id,
        service,
        kind: kind.to_owned(),
        order_id: order_id.to_owned(),
        invoice: invoice.to_owned(),
        body,
        forged,
        attempts: Vec::new(),
        answered: false,
        gave_up: false,
    });
    id
}

/// Delivers a stored notification in the background until answered: the faults in force
/// apply (dropped attempts, a duplicate after the answer).
pub fn spawn(emulator: Arc<Emulator>, id: u64) {
    tokio::spawn(async move {
        let policy = emulator.settings.retry;
        for n in 0..policy.attempts {
            tokio::time::sleep(policy.wait_before(n)).await;
            if emulator.take_dropped_attempt() {
                let attempt = Attempt {
                    at_ms: emulator.elapsed_ms(),
                    dropped: true,
                    ..Attempt::default()
                };
                keep(&emulator, id, attempt);
                continue;
            }
            if deliver_once(&emulator, id, false).await.answered {
                if emulator.faults().duplicate_notifications {
                    deliver_once(&emulator, id, true).await;
                }
                return;
            }
        }
        tracing::warn!(id, "notification never answered; giving up");
        if let Some(delivery) = emulator.ledger().delivery_mut(id) {
            delivery.gave_up = true;
        }
    });
}

/// One attempt, now: signs (TipTop Pay) and posts the stored body to the address in force,
/// and records what came back.
pub async fn deliver_once(emulator: &Emulator, id: u64, duplicate: bool) -> Attempt {
    let Some((service, kind, invoice, body, forged)) = emulator
        .ledger()
        .deliveries
        .iter()
        .find(|d| d.id == id)
        .map(|d| {
            (
                d.service,
                d.kind.clone(),
                d.invoice.clone(),
                d.body.clone(),
                d.forged,
            )
        })
    else {
        return Attempt::default();
    };
    let url = target(emulator, service, &kind);
    let mut attempt = Attempt {
        at_ms: emulator.elapsed_ms(),
        url: url.clone(),
        duplicate,
        ..Attempt::default()
    };
    match url {
        None => attempt.error = Some("no notification URL is set".into()),
        Some(url) => {
            let mut request = emulator
                .http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, FORM);
            if service == ServiceKind::TipTop {
                let key = tiptop_key(emulator, forged);
                request = request
                    .header(
                        "Content-HMAC",
                        signature::content_hmac(&key, body.as_bytes()),
                    )
                    .header(
                        "X-Content-HMAC",
                        signature::x_content_hmac(&key, body.as_bytes()),
                    );
            }
            match request.body(body).send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    attempt.answered = answered(service, &invoice, status, &text);
                    attempt.status = Some(status);
                    attempt.answer = Some(text);
                }
                Err(error) => attempt.error = Some(error.without_url().to_string()),
            }
        }
    }
    tracing::info!(
        id,
        kind,
        status = attempt.status,
        answered = attempt.answered,
        error = attempt.error.as_deref(),
        "notification attempt"
    );
    keep(emulator, id, attempt.clone());
    attempt
}

/// The key a TipTop Pay notification is signed with: the API secret, or a wrong one for a
/// forged notification.
pub fn tiptop_key(emulator: &Emulator, forged: bool) -> Vec<u8> {
    let mut key = emulator.settings.tiptop_secret.0.clone().into_bytes();
    if forged {
        key.extend_from_slice(b"-forged");
    }
    key
}

fn keep(emulator: &Emulator, id: u64, attempt: Attempt) {
    if let Some(delivery) = emulator.ledger().delivery_mut(id) {
        delivery.answered |= attempt.answered;
        delivery.attempts.push(attempt);
    }
}

/// Where a notification goes now (the routing may change between attempts).
fn target(emulator: &Emulator, service: ServiceKind, kind: &str) -> Option<String> {
    let routing = emulator.routing();
    match service {
        ServiceKind::TipTop => routing
            .tiptop_notify_url
            .map(|base| format!("{}/{kind}", base.trim_end_matches('/'))),
        ServiceKind::Robokassa => routing.robokassa_result_url,
    }
}

/// Whether the shop's answer is one the service takes.
fn answered(service: ServiceKind, invoice: &str, status: u16, body: &str) -> bool {
    match service {
        ServiceKind::TipTop => (200..300).contains(&status) && answer_code(body).is_some(),
        ServiceKind::Robokassa => body.trim() == format!("OK{invoice}"),
    }
}

/// The `code` of a TipTop Pay answer `{"code":N}`.
pub fn answer_code(body: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()?
        .get("code")?
        .as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_an_answer() {
        assert!(answered(ServiceKind::TipTop, "1", 200, r#"{"code":0}"#));
        assert!(answered(ServiceKind::TipTop, "1", 200, r#"{"code":13}"#));
        assert!(!answered(ServiceKind::TipTop, "1", 503, r#"{"code":0}"#));
        assert!(!answered(ServiceKind::TipTop, "1", 200, "OK"));
        assert!(answered(ServiceKind::Robokassa, "42", 200, "OK42"));
        assert!(answered(ServiceKind::Robokassa, "42", 200, "OK42\n"));
        assert!(!answered(ServiceKind::Robokassa, "42", 200, "OK4"));
        assert!(!answered(ServiceKind::Robokassa, "42", 200, "ok42"));
    }
}
