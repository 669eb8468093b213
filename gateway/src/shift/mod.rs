//! Shift reports (issue 16): the figures a cashier's phone counted for a shift, stored as the
//! signed `shift` step brought them, and the gateway's own figures for the same point, key and
//! time span, so the dealer sees where the two disagree.
//!
//! * Storing ([`record`]) is idempotent by the session the phone chose, as for payments: the
//!   same report again is [`Recorded::Replayed`] (stored once); other figures under the same
//!   session are [`Recorded::SessionTaken`] (code 1).
//! * The gateway's figures ([`gateway_figures`]) count the payments table: accepted cash,
//!   paid by card, refunded (accepted, then refused by the provider) and rejected — the states
//!   the gateway can know. Deferred, held, unknown and unpaid bills only the phone knows; they
//!   are shown but never compared.
//! * [`compare`] puts the two side by side, line by line.

pub mod store;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use sqlx::AnyPool;
use tolem_protocol::shift::{Figures, ShiftReport, ShiftState};

use crate::sender::Sender;

pub use store::StoredShift;

/// What became of a report that came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Stored now.
    New { recorded_at_ms: i64 },
    /// The same report was stored before (at that time): nothing changed.
    Replayed { recorded_at_ms: i64 },
    /// The session holds another report.
    SessionTaken,
}

/// SHA-256 (lowercase hex) of the report's JSON as this gateway writes it: the phone replays
/// the bytes it signed, so the same report always reads back to the same value.
pub fn content_hash(report_json: &str) -> String {
    Sha256::digest(report_json.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Stores the report the checked request `sender` carries (see the module docs).
pub async fn record(
    pool: &AnyPool,
    sender: &Sender,
    report: &ShiftReport,
    now_ms: i64,
) -> Result<Recorded, sqlx::Error> {
    let json = serde_json::to_string(report).expect("a shift report always serialises");
    let hash = content_hash(&json);
    let point = &sender.point.code;
    let session = sender.request.session.as_str();
    let mut tx = crate::db::begin_write(pool).await?;
    if let Some((stored_hash, at)) = store::find_hash(&mut tx, point, session).await? {
        tx.rollback().await?;
        return Ok(if stored_hash == hash {
            Recorded::Replayed { recorded_at_ms: at }
        } else {
            Recorded::SessionTaken
        });
    }
    store::insert(
        &mut tx,
        &store::NewShift {
            point_code: point,
            session,
            dealer_code: &sender.dealer.code,
            cashier_code: &sender.cashier.code,
            key_serial: &sender.key.serial,
            report,
            report_json: &json,
            content_hash: &hash,
            request_body: &sender.body,
            request_signature: &sender.signature.to_string(),
            received_at_ms: now_ms,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Recorded::New {
        recorded_at_ms: now_ms,
    })
}

/// The gateway's figures for one shift: per state the gateway knows, and per provider (the
/// payments that went through: accepted cash and card, not refunded — as the phone counts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayFigures {
    pub states: BTreeMap<ShiftState, Figures>,
    pub providers: BTreeMap<String, Figures>,
}

/// The states the gateway's payments table can tell apart: only these are compared.
pub const COMPARED: [ShiftState; 4] = [
    ShiftState::Accepted,
    ShiftState::Card,
    ShiftState::Refunded,
    ShiftState::Rejected,
];

/// The gateway's figures for the payments of `key_serial` at `point` created (by the phone's
/// signed time, as the phone counts them) in `[from_ms, to_ms)`.
pub async fn gateway_figures(
    pool: &AnyPool,
    point: &str,
    key_serial: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<GatewayFigures, sqlx::Error> {
    let rows = store::payments_between(pool, point, key_serial, from_ms, to_ms).await?;
    let mut figures = GatewayFigures::default();
    for row in rows {
        let state = state_of(&row);
        figures
            .states
            .entry(state)
            .or_default()
            .add(row.customer_amount_tiyn);
        if matches!(state, ShiftState::Accepted | ShiftState::Card) {
            figures
                .providers
                .entry(row.provider)
                .or_default()
                .add(row.customer_amount_tiyn);
        }
    }
    Ok(figures)
}

/// Where a payment stands in its shift's report, as the phone counts it
/// (`tolem_outbox::shift::state_of`): a card payment refused at settlement is a bill left
/// unpaid (its card refunded), which the phone does not count among the rejected cash.
fn state_of(payment: &store::ShiftPayment) -> ShiftState {
    match (payment.accepted, payment.refunded, payment.card) {
        (false, _, true) => ShiftState::Unpaid,
        (false, _, false) => ShiftState::Rejected,
        (true, true, _) => ShiftState::Refunded,
        (true, false, true) => ShiftState::Card,
        (true, false, false) => ShiftState::Accepted,
    }
}

/// One line of the comparison: what the phone said, what the gateway has (`None` where the
/// gateway cannot know, e.g. deferred payments), and whether they differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// A state's word ([`ShiftState::name`]) or a provider's code.
    pub name: String,
    pub phone: Figures,
    pub gateway: Option<Figures>,
}

impl Line {
    pub fn differs(&self) -> bool {
        self.gateway.is_some_and(|g| g != self.phone)
    }
}

/// The report and the gateway's figures side by side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub states: Vec<Line>,
    pub providers: Vec<Line>,
}

impl Comparison {
    pub fn differs(&self) -> bool {
        self.states.iter().chain(&self.providers).any(Line::differs)
    }
}

/// Lines for every state either side has (the compared ones always), and every provider.
pub fn compare(report: &ShiftReport, gateway: &GatewayFigures) -> Comparison {
    let states = ShiftState::ALL
        .into_iter()
        .filter_map(|state| {
            let phone = report.state(state);
            let compared = COMPARED.contains(&state);
            let theirs = compared.then(|| gateway.states.get(&state).copied().unwrap_or_default());
            (compared || phone.count > 0).then(|| Line {
                name: state.name().to_owned(),
                phone,
                gateway: theirs,
            })
        })
        .collect();
    let mut names: Vec<&String> = report
        .providers
        .iter()
        .map(|l| &l.provider)
        .chain(gateway.providers.keys())
        .collect();
    names.sort();
    names.dedup();
    let providers = names
        .into_iter()
        .map(|name| Line {
            name: name.clone(),
            phone: report
                .providers
                .iter()
                .find(|l| &l.provider == name)
                .map(|l| l.figures)
                .unwrap_or_default(),
            gateway: Some(gateway.providers.get(name).copied().unwrap_or_default()),
        })
        .collect();
    Comparison { states, providers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tolem_protocol::shift::StateLine;

    fn payment(accepted: bool, refunded: bool, card: bool) -> store::ShiftPayment {
        store::ShiftPayment {
            provider: "kcell".into(),
            customer_amount_tiyn: 10_000,
            accepted,
            refunded,
            card,
        }
    }

    /// A bill whose card charge was refused at settlement (a duplicate, a limit) is a rejected
    /// card payment at the gateway and an unpaid bill on the phone: a shift that balances
    /// must not show a difference on the rejected line for it.
    #[test]
    fn a_card_payment_refused_at_settlement_is_an_unpaid_bill_as_the_phone_counts_it() {
        assert_eq!(state_of(&payment(false, false, true)), ShiftState::Unpaid);
        assert_eq!(
            state_of(&payment(false, false, false)),
            ShiftState::Rejected
        );
        assert_eq!(state_of(&payment(true, false, true)), ShiftState::Card);
        assert_eq!(state_of(&payment(true, true, true)), ShiftState::Refunded);

        let mut gateway = GatewayFigures::default();
        gateway
            .states
            .entry(state_of(&payment(false, false, true)))
            .or_default()
            .add(10_000);
        let phone = ShiftReport {
            opened_at_ms: 0,
            closed_at_ms: 1,
            states: vec![StateLine {
                state: ShiftState::Unpaid,
                figures: Figures {
                    count: 1,
                    sum_tiyn: 10_000,
                },
            }],
            providers: vec![],
            cash_tiyn: 0,
            waiting: Figures::default(),
        };
        assert!(!compare(&phone, &gateway).differs());
    }
}
