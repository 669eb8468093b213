//! The cashier's shift report (issue 16): what the phone counted between opening and closing a
//! shift, sent to the gateway as the signed `shift` step so the dealer can put it beside the
//! gateway's own figures for the same point and time.
//!
//! Every sum is in tiyn and is what the *customer* handed over (`customer_amount_tiyn`): that is
//! the money the cashier holds, and the gateway stores the same amount for each payment, so the
//! two sides compare like for like.

use serde::{Deserialize, Serialize};

use crate::ids::check_code;

/// The most provider lines a report carries (a body must stay under the 16 KiB limit).
pub const SHIFT_MAX_PROVIDERS: usize = 100;

/// Where a payment of the shift stood when the shift closed, as both sides name it. The first
/// four are what the gateway can know too; the others only the phone knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ShiftState {
    /// Cash payment the gateway accepted (delivered or on its way to the provider).
    Accepted,
    /// A bill the customer paid by card: no cash passed through the cashier's hands.
    Card,
    /// Accepted, then refused by the provider for good: the dealer's balance got the money back
    /// and the cashier gives the customer's cash back.
    Refunded,
    /// Refused by the gateway (duplicates included): the cashier gave the cash back.
    Rejected,
    /// Signed and kept on the phone, not sent yet (deferred, or being sent).
    Deferred,
    /// The gateway said "not now" (key not certified, point blocked, clock ahead).
    Held,
    /// Sent without a clear answer: it may or may not have been paid.
    Unknown,
    /// A bill still waiting for the customer's card.
    AwaitingCard,
    /// A bill that ended unpaid (expired or cancelled): no money either way.
    Unpaid,
}

crate::read_by_name!(ShiftState {
    Accepted = "accepted",
    Card = "card",
    Refunded = "refunded",
    Rejected = "rejected",
    Deferred = "deferred",
    Held = "held",
    Unknown = "unknown",
    AwaitingCard = "awaiting_card",
    Unpaid = "unpaid",
});

impl ShiftState {
    /// Every state, in the order reports show them.
    pub const ALL: [ShiftState; 9] = [
        ShiftState::Accepted,
        ShiftState::Card,
        ShiftState::Refunded,
        ShiftState::Rejected,
        ShiftState::Deferred,
        ShiftState::Held,
        ShiftState::Unknown,
        ShiftState::AwaitingCard,
        ShiftState::Unpaid,
    ];

    /// A stable word (pages put it in `data-state`, the gateway stores it).
    pub fn name(self) -> &'static str {
        match self {
            ShiftState::Accepted => "accepted",
            ShiftState::Card => "card",
            ShiftState::Refunded => "refunded",
            ShiftState::Rejected => "rejected",
            ShiftState::Deferred => "deferred",
            ShiftState::Held => "held",
            ShiftState::Unknown => "unknown",
            ShiftState::AwaitingCard => "awaiting_card",
            ShiftState::Unpaid => "unpaid",
        }
    }

    /// The state of `name`, as [`ShiftState::name`] writes it.
    pub fn from_name(name: &str) -> Option<ShiftState> {
        ShiftState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether the payment still waits for a decision (the phone keeps it in its outbox).
    pub fn is_waiting(self) -> bool {
        matches!(
            self,
            ShiftState::Deferred
                | ShiftState::Held
                | ShiftState::Unknown
                | ShiftState::AwaitingCard
        )
    }
}

/// How many payments and how much money.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Figures {
    pub count: i64,
    pub sum_tiyn: i64,
}

impl Figures {
    /// Adds one payment of `tiyn`.
    pub fn add(&mut self, tiyn: i64) {
        self.count += 1;
        self.sum_tiyn = self.sum_tiyn.saturating_add(tiyn);
    }
}

/// One state's figures.
///
/// Its figures are written flat beside the state (`{"state", "count", "sum_tiyn"}`) and read
/// through [`StateLineWire`]: serde's reader for a `flatten`ed field buffers the object in its
/// private `Content` tree, code the app's wasm carried only for these two lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StateLineWire")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StateLine {
    pub state: ShiftState,
    #[serde(flatten)]
    pub figures: Figures,
}

/// A [`StateLine`] as it is read: the same fields, flat.
#[derive(Deserialize)]
struct StateLineWire {
    state: ShiftState,
    count: i64,
    sum_tiyn: i64,
}

impl From<StateLineWire> for StateLine {
    fn from(wire: StateLineWire) -> StateLine {
        StateLine {
            state: wire.state,
            figures: Figures {
                count: wire.count,
                sum_tiyn: wire.sum_tiyn,
            },
        }
    }
}

/// One provider's figures: the payments that went through (accepted cash and card, not
/// refunded), the ones the gateway has too. Written flat and read like a [`StateLine`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ProviderLineWire")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderLine {
    pub provider: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// A [`ProviderLine`] as it is read: the same fields, flat.
#[derive(Deserialize)]
struct ProviderLineWire {
    provider: String,
    count: i64,
    sum_tiyn: i64,
}

impl From<ProviderLineWire> for ProviderLine {
    fn from(wire: ProviderLineWire) -> ProviderLine {
        ProviderLine {
            provider: wire.provider,
            figures: Figures {
                count: wire.count,
                sum_tiyn: wire.sum_tiyn,
            },
        }
    }
}

/// Phone → gateway (the `shift` step): the report of a closed shift.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShiftReport {
    /// When the cashier opened the shift (UTC milliseconds, the time the phone signs with).
    pub opened_at_ms: i64,
    /// When the cashier closed it. Payments created in `[opened_at_ms, closed_at_ms)` count.
    pub closed_at_ms: i64,
    /// Per state, only the states that had payments, in [`ShiftState::ALL`]'s order.
    pub states: Vec<StateLine>,
    /// Per provider, by provider code.
    pub providers: Vec<ProviderLine>,
    /// The cash the cashier hands over (see `tolem_outbox::shift` for what counts).
    pub cash_tiyn: i64,
    /// What still waits for a decision when the shift closed (its cash is in the hand-over).
    pub waiting: Figures,
}

impl ShiftReport {
    /// The figures of `state` (zero when it had no payments).
    pub fn state(&self, state: ShiftState) -> Figures {
        self.states
            .iter()
            .find(|line| line.state == state)
            .map(|line| line.figures)
            .unwrap_or_default()
    }

    /// Every payment of the shift, whatever its state.
    pub fn total(&self) -> Figures {
        self.states
            .iter()
            .fold(Figures::default(), |mut all, line| {
                all.count += line.figures.count;
                all.sum_tiyn = all.sum_tiyn.saturating_add(line.figures.sum_tiyn);
                all
            })
    }

    /// The checks the gateway makes before storing (and the phone before signing).
    pub fn check(&self) -> Result<(), String> {
        if self.opened_at_ms <= 0 || self.closed_at_ms <= self.opened_at_ms {
            return Err("the shift must close after it opened".into());
        }
        let figures = self
            .states
            .iter()
            .map(|l| l.figures)
            .chain(self.providers.iter().map(|l| l.figures))
            .chain([self.waiting]);
        for f in figures {
            if f.count < 0 || f.sum_tiyn < 0 {
                return Err("counts and sums cannot be negative".into());
            }
        }
        if self.cash_tiyn < 0 {
            return Err("the cash to hand over cannot be negative".into());
        }
        let states: Vec<ShiftState> = self.states.iter().map(|l| l.state).collect();
        if has_twice(&states) {
            return Err("a state is counted twice".into());
        }
        if self.providers.len() > SHIFT_MAX_PROVIDERS {
            return Err("too many providers in one report".into());
        }
        let providers: Vec<&str> = self.providers.iter().map(|l| l.provider.as_str()).collect();
        if has_twice(&providers) {
            return Err("a provider is counted twice".into());
        }
        for provider in providers {
            check_code(provider).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Whether a value comes twice in `values`. Compared pairwise: the lists are short (a report's
/// states, at most [`SHIFT_MAX_PROVIDERS`] providers), and a sort would put a sorting routine per
/// type into the phone's download.
fn has_twice<T: PartialEq>(values: &[T]) -> bool {
    values
        .iter()
        .enumerate()
        .any(|(i, value)| values[..i].contains(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ShiftReport {
        ShiftReport {
            opened_at_ms: 1_000,
            closed_at_ms: 2_000,
            states: vec![StateLine {
                state: ShiftState::Accepted,
                figures: Figures {
                    count: 1,
                    sum_tiyn: 100_00,
                },
            }],
            providers: vec![ProviderLine {
                provider: "kcell".into(),
                figures: Figures {
                    count: 1,
                    sum_tiyn: 100_00,
                },
            }],
            cash_tiyn: 100_00,
            waiting: Figures::default(),
        }
    }

    #[test]
    fn lines_travel_flat_and_read_back() {
        let json = serde_json::to_value(report()).unwrap();
        assert_eq!(
            json["states"],
            serde_json::json!([{"state": "accepted", "count": 1, "sum_tiyn": 100_00}])
        );
        assert_eq!(
            json["providers"],
            serde_json::json!([{"provider": "kcell", "count": 1, "sum_tiyn": 100_00}])
        );
        let read: ShiftReport = serde_json::from_value(json).unwrap();
        assert_eq!(read, report());
        // A line without its figures is no line.
        let line = r#"{"state": "accepted", "count": 1}"#;
        assert!(serde_json::from_str::<StateLine>(line).is_err());
    }

    #[test]
    fn a_report_that_cannot_be_true_is_refused() {
        assert_eq!(report().check(), Ok(()));
        let mut backwards = report();
        backwards.closed_at_ms = 500;
        assert!(backwards.check().is_err());
        let mut negative = report();
        negative.cash_tiyn = -1;
        assert!(negative.check().is_err());
        let mut twice = report();
        twice.states.push(twice.states[0].clone());
        assert_eq!(twice.check(), Err("a state is counted twice".into()));
        let mut twice = report();
        twice.providers.push(twice.providers[0].clone());
        assert_eq!(twice.check(), Err("a provider is counted twice".into()));
        for state in ShiftState::ALL {
            assert_eq!(ShiftState::from_name(state.name()), Some(state));
        }
    }
}
