//! Switchable faults: the ways a real provider misbehaves, on demand.
//!
//! Random faults draw from a seeded generator, so a failing test run can be replayed with the
//! same seed.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The faults, as `POST /control/faults` takes them and `GET /control/faults` shows them.
/// Missing fields are 0 (no fault).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Every answer waits this long...
    pub delay_ms: u64,
    /// ...plus up to this much more, at random.
    pub delay_jitter_ms: u64,
    /// The wait comes after the request is decided (a pay committed) instead of before: a
    /// provider that takes the payment and answers late, so a client that gives up waiting
    /// leaves it committed — what a retry with a new number would pay twice.
    pub delay_after_commit: bool,
    /// Share of requests (0.0–1.0) answered HTTP 500, nothing committed.
    pub status_500_rate: f64,
    /// Share of pays answered `temporary_result`, nothing committed.
    pub temporary_rate: f64,
    /// 1 or 90: the temporary result to answer.
    pub temporary_result: u16,
    /// Every pay within this many ms of setting it is answered `temporary_result`. Shown by
    /// `GET` as what is left of the window.
    pub temporary_for_ms: u64,
    /// Share of pays answered 0 whose answer is broken off after the commit is stored.
    pub cut_after_commit_rate: f64,
    /// Share of pays answered with the answer of the last pay committed before them — another
    /// transaction's number, sum and provider number —, as a front cache that mixes answers up
    /// does; the pay itself is not committed. Nothing changes before a first commit.
    pub wrong_answer_rate: f64,
    /// Share of pays answered 0, committed, without the provider's number (`<prv_txn>`), which
    /// the protocol requires in a pay's answer: a provider whose software leaves it out.
    pub no_provider_txn_rate: f64,
    /// The random generator's seed, applied when the faults are set.
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            delay_ms: 0,
            delay_jitter_ms: 0,
            delay_after_commit: false,
            status_500_rate: 0.0,
            temporary_rate: 0.0,
            temporary_result: 90,
            temporary_for_ms: 0,
            cut_after_commit_rate: 0.0,
            wrong_answer_rate: 0.0,
            no_provider_txn_rate: 0.0,
            seed: 1,
        }
    }
}

/// Faults that make no sense.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FaultsError {
    #[error("{name} is {value}: a rate is between 0.0 and 1.0")]
    BadRate { name: &'static str, value: f64 },
    #[error("temporary_result is {0}: the protocol's temporary results are 1 and 90")]
    NotTemporary(u16),
}

impl Faults {
    pub fn check(&self) -> Result<(), FaultsError> {
        let rates = [
            ("status_500_rate", self.status_500_rate),
            ("temporary_rate", self.temporary_rate),
            ("cut_after_commit_rate", self.cut_after_commit_rate),
            ("wrong_answer_rate", self.wrong_answer_rate),
            ("no_provider_txn_rate", self.no_provider_txn_rate),
        ];
        for (name, value) in rates {
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultsError::BadRate { name, value });
            }
        }
        if self.temporary_result != 1 && self.temporary_result != 90 {
            return Err(FaultsError::NotTemporary(self.temporary_result));
        }
        Ok(())
    }
}

/// The faults in force, their random generator, and the temporary window's end.
#[derive(Debug)]
pub struct FaultState {
    faults: Faults,
    random: SplitMix64,
    temporary_until: Option<Instant>,
}

impl FaultState {
    /// Faults that have passed [`Faults::check`], starting now.
    pub fn new(faults: Faults) -> FaultState {
        let temporary_until = (faults.temporary_for_ms > 0)
            .then(|| Instant::now() + Duration::from_millis(faults.temporary_for_ms));
        FaultState {
            random: SplitMix64(faults.seed),
            faults,
            temporary_until,
        }
    }

    /// The faults as set, with what is left of the temporary window.
    pub fn current(&self) -> Faults {
        let left = self
            .temporary_until
            .map(|until| until.saturating_duration_since(Instant::now()).as_millis());
        Faults {
            temporary_for_ms: left.map_or(0, |ms| u64::try_from(ms).unwrap_or(u64::MAX)),
            ..self.faults.clone()
        }
    }

    /// How long to wait before answering.
    pub fn delay(&mut self) -> Duration {
        let jitter = match self.faults.delay_jitter_ms {
            0 => 0,
            max => self.random.next() % (max + 1),
        };
        Duration::from_millis(self.faults.delay_ms.saturating_add(jitter))
    }

    /// Whether to answer HTTP 500.
    pub fn status_500(&mut self) -> bool {
        self.chance(self.faults.status_500_rate)
    }

    /// The temporary result to answer a pay with, if any.
    pub fn temporary(&mut self) -> Option<u16> {
        let in_window = self
            .temporary_until
            .is_some_and(|until| Instant::now() < until);
        (in_window || self.chance(self.faults.temporary_rate))
            .then_some(self.faults.temporary_result)
    }

    /// Whether to break a committed pay's answer.
    pub fn cut_after_commit(&mut self) -> bool {
        self.chance(self.faults.cut_after_commit_rate)
    }

    /// Whether to answer a pay with another transaction's answer.
    pub fn wrong_answer(&mut self) -> bool {
        self.chance(self.faults.wrong_answer_rate)
    }

    /// Whether to leave the provider's number out of a committed pay's answer.
    pub fn no_provider_txn(&mut self) -> bool {
        self.chance(self.faults.no_provider_txn_rate)
    }

    fn chance(&mut self, rate: f64) -> bool {
        // Rates of 0 and 1 draw nothing, so switching one fault on does not shift the others'
        // random sequence.
        if rate <= 0.0 {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        self.random.unit() < rate
    }
}

/// SplitMix64: tiny, seedable, good enough to pick faults (not for anything secret).
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_rates_and_results() {
        assert!(Faults::default().check().is_ok());
        let bad_rate = Faults {
            status_500_rate: 1.5,
            ..Faults::default()
        };
        assert!(matches!(bad_rate.check(), Err(FaultsError::BadRate { .. })));
        let bad_result = Faults {
            temporary_result: 5,
            ..Faults::default()
        };
        assert_eq!(bad_result.check(), Err(FaultsError::NotTemporary(5)));
    }

    #[test]
    fn rates_are_roughly_kept_and_seeded() {
        let faults = Faults {
            status_500_rate: 0.25,
            seed: 42,
            ..Faults::default()
        };
        let draw = |faults: &Faults| {
            let mut state = FaultState::new(faults.clone());
            (0..4000).map(|_| state.status_500()).collect::<Vec<_>>()
        };
        let first = draw(&faults);
        assert_eq!(first, draw(&faults));
        let hits = first.iter().filter(|hit| **hit).count();
        assert!((800..1200).contains(&hits), "{hits}");
    }

    #[test]
    fn window_answers_temporary() {
        let mut state = FaultState::new(Faults {
            temporary_for_ms: 60_000,
            ..Faults::default()
        });
        assert_eq!(state.temporary(), Some(90));
        assert!(state.current().temporary_for_ms > 0);
        let mut none = FaultState::new(Faults::default());
        assert_eq!(none.temporary(), None);
        assert_eq!(none.current().temporary_for_ms, 0);
    }
}
