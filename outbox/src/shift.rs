//! A shift's totals (issue 16), counted from the payments on the phone: pure functions, so the
//! rule of what the cashier hands over is in one place and tested without a browser. Storing,
//! signing and sending the report is [`crate::shifts`].
//!
//! ## Which payments
//! Those created (by the signed creation time, [`crate::clock::now_ms`]'s clock) in
//! `[opened_at_ms, closed_at_ms)` — the same span the gateway counts its own figures over.
//!
//! ## What the cashier hands over
//! The cash a customer left with the cashier and did not get back: every **cash** payment of
//! the shift except those the customer was given the money back for —
//!
//! * accepted (delivered or on its way): the money paid the provider through the dealer's
//!   balance, so the cash belongs to the dealer — handed over;
//! * deferred, being sent, held or unknown: the customer paid and left; the cash is in the
//!   drawer whatever the gateway decides later (if it refuses, the customer comes back for it
//!   and it is paid out of the dealer's money then) — handed over, and also listed as waiting;
//! * rejected (duplicates included): the app told the cashier to give the cash back on the spot
//!   — not handed over;
//! * refunded (accepted, then refused by the provider for good): the dealer's balance got the
//!   money back and the app tells the cashier to give the cash back — not handed over;
//! * bills (card payments): the customer paid by card on their own phone; no cash passed
//!   through the cashier's hands, whatever the bill's state — never handed over.
//!
//! Sums are what the customer handed over (`customer_amount_tiyn`: the provider's amount plus
//! the point's commission), the amount the gateway stores for each payment too.

use std::collections::BTreeMap;

use tolem_protocol::messages::DeliveryState;
use tolem_protocol::shift::{Figures, ProviderLine, ShiftReport, ShiftState, StateLine};

use crate::record::{PaymentRecord, State};

/// Where a payment stood for its shift's report.
pub fn state_of(record: &PaymentRecord) -> ShiftState {
    let bill = record.payment.is_bill();
    match record.state {
        State::Accepted
            if record
                .delivery
                .as_ref()
                .is_some_and(|d| d.state == DeliveryState::Refunded) =>
        {
            ShiftState::Refunded
        }
        State::Accepted if bill => ShiftState::Card,
        State::Accepted => ShiftState::Accepted,
        State::Rejected(_) if bill => ShiftState::Unpaid,
        State::Rejected(_) => ShiftState::Rejected,
        State::Deferred | State::Sending => ShiftState::Deferred,
        State::Held(_) => ShiftState::Held,
        State::Unknown => ShiftState::Unknown,
        State::AwaitingCard | State::Cancelling => ShiftState::AwaitingCard,
    }
}

/// Whether the cash of a payment in `state` is handed over (see the module docs).
pub fn is_cash_to_hand_over(record: &PaymentRecord) -> bool {
    !record.payment.is_bill()
        && matches!(
            state_of(record),
            ShiftState::Accepted | ShiftState::Deferred | ShiftState::Held | ShiftState::Unknown
        )
}

/// The report of the shift `[opened_at_ms, closed_at_ms)` over `records` (any order; payments
/// outside the span are left out).
pub fn totals(records: &[PaymentRecord], opened_at_ms: i64, closed_at_ms: i64) -> ShiftReport {
    let mut states: BTreeMap<ShiftState, Figures> = BTreeMap::new();
    let mut providers: BTreeMap<String, Figures> = BTreeMap::new();
    let mut cash_tiyn = 0i64;
    let mut waiting = Figures::default();
    let in_shift = records
        .iter()
        .filter(|r| (opened_at_ms..closed_at_ms).contains(&r.payment.created_at_ms));
    for record in in_shift {
        let amount = record.payment.customer_amount_tiyn;
        let state = state_of(record);
        states.entry(state).or_default().add(amount);
        if matches!(state, ShiftState::Accepted | ShiftState::Card) {
            providers
                .entry(record.payment.provider.clone())
                .or_default()
                .add(amount);
        }
        if state.is_waiting() {
            waiting.add(amount);
        }
        if is_cash_to_hand_over(record) {
            cash_tiyn = cash_tiyn.saturating_add(amount);
        }
    }
    ShiftReport {
        opened_at_ms,
        closed_at_ms,
        // BTreeMap keeps `ShiftState`'s order, which is `ShiftState::ALL`'s.
        states: states
            .into_iter()
            .map(|(state, figures)| StateLine { state, figures })
            .collect(),
        providers: providers
            .into_iter()
            .map(|(provider, figures)| ProviderLine { provider, figures })
            .collect(),
        cash_tiyn,
        waiting,
    }
}
