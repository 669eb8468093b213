//! The point's extra commission (§13 of the CyberplatMobile manual), in whole tiyn.
//!
//! A provider's commission settings: a percentage; a formula — the commission is added on top of
//! the provider amount, or included in the customer amount; an amount below which a fixed minimum
//! commission applies, and that minimum; an amount above which a fixed maximum applies, and that
//! maximum. The percentage is taken of the provider amount (on top) or of the customer amount
//! (included), rounded half up to a whole tiyn.
//!
//! The cashier may type either amount; the other and the commission follow. Typing the amount the
//! formula does not start from has to invert it, and in whole tiyn that is not always exact.
//! **The 1-tiyn rule:** the provider gets the largest amount (on top) or the customer pays the
//! smallest amount (included) that the formula allows, and any tiyn left over goes to the
//! commission — never more than one, given valid settings. So a split is always exact
//! (`customer = provider + commission`), and recomputing it from the provider amount gives the
//! same commission or one tiyn less.

use serde::{Deserialize, Serialize};

/// Percentages are in basis points: 150 = 1.50 %.
pub const BASIS_POINTS: i64 = 10_000;

/// Where the commission comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Formula {
    /// Customer pays the provider amount plus the commission.
    OnTop,
    /// The commission is taken out of what the customer pays.
    Included,
}

crate::read_by_name!(Formula {
    OnTop = "on_top",
    Included = "included",
});

/// A provider's extra-commission settings, set by the cashier in Settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommissionSettings {
    /// Percentage in basis points (0–10 000).
    pub percent_bp: i64,
    pub formula: Formula,
    /// Below this base amount the fixed minimum applies (0 = no minimum).
    pub min_below_tiyn: i64,
    pub min_fixed_tiyn: i64,
    /// Above this base amount the fixed maximum applies (0 = no maximum).
    pub max_above_tiyn: i64,
    pub max_fixed_tiyn: i64,
}

/// Why settings were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommissionError {
    #[error("the percentage must be from 0 to 100")]
    PercentOutOfRange,
    #[error("amounts cannot be negative")]
    Negative,
    #[error("the minimum commission must not be less than the percentage of its threshold")]
    MinimumBelowRate,
    #[error("the maximum commission must not be more than the percentage of its threshold")]
    MaximumAboveRate,
    #[error("the maximum threshold must be above the minimum threshold")]
    ThresholdsCrossed,
}

/// An amount split into what the provider gets and what the point keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub provider_tiyn: i64,
    pub commission_tiyn: i64,
    pub customer_tiyn: i64,
}

impl Default for CommissionSettings {
    /// No extra commission.
    fn default() -> Self {
        CommissionSettings {
            percent_bp: 0,
            formula: Formula::OnTop,
            min_below_tiyn: 0,
            min_fixed_tiyn: 0,
            max_above_tiyn: 0,
            max_fixed_tiyn: 0,
        }
    }
}

impl CommissionSettings {
    /// Refuses settings under which a minimum is not a minimum or a maximum not a maximum (they
    /// would make some customer amounts impossible to split within the 1-tiyn rule).
    pub fn validate(&self) -> Result<(), CommissionError> {
        if !(0..=BASIS_POINTS).contains(&self.percent_bp) {
            return Err(CommissionError::PercentOutOfRange);
        }
        let amounts = [
            self.min_below_tiyn,
            self.min_fixed_tiyn,
            self.max_above_tiyn,
            self.max_fixed_tiyn,
        ];
        if amounts.iter().any(|a| *a < 0) {
            return Err(CommissionError::Negative);
        }
        if self.min_below_tiyn > 0 && self.min_fixed_tiyn < self.percentage(self.min_below_tiyn) {
            return Err(CommissionError::MinimumBelowRate);
        }
        if self.max_above_tiyn > 0 {
            if self.max_fixed_tiyn > self.percentage(self.max_above_tiyn) {
                return Err(CommissionError::MaximumAboveRate);
            }
            if self.max_above_tiyn <= self.min_below_tiyn {
                return Err(CommissionError::ThresholdsCrossed);
            }
        }
        Ok(())
    }

    /// The percentage of `base`, rounded half up.
    fn percentage(&self, base: i64) -> i64 {
        ((i128::from(base) * i128::from(self.percent_bp) + i128::from(BASIS_POINTS / 2))
            / i128::from(BASIS_POINTS)) as i64
    }

    /// The commission on a base amount: fixed minimum below its threshold, fixed maximum above
    /// its threshold, the percentage in between.
    pub fn commission_on(&self, base: i64) -> i64 {
        if self.min_below_tiyn > 0 && base < self.min_below_tiyn {
            self.min_fixed_tiyn
        } else if self.max_above_tiyn > 0 && base > self.max_above_tiyn {
            self.max_fixed_tiyn
        } else {
            self.percentage(base)
        }
    }

    /// The split when the cashier typed what the provider should get.
    pub fn from_provider(&self, provider_tiyn: i64) -> Split {
        match self.formula {
            Formula::OnTop => {
                let commission = self.commission_on(provider_tiyn);
                split(provider_tiyn, commission)
            }
            Formula::Included => {
                let customer = self.smallest_customer_for(provider_tiyn);
                split(provider_tiyn, customer - provider_tiyn)
            }
        }
    }

    /// The split when the cashier typed what the customer hands over.
    pub fn from_customer(&self, customer_tiyn: i64) -> Split {
        match self.formula {
            Formula::Included => {
                let commission = self.commission_on(customer_tiyn).min(customer_tiyn);
                split(customer_tiyn - commission, commission)
            }
            Formula::OnTop => {
                let provider = self.largest_provider_for(customer_tiyn);
                split(provider, customer_tiyn - provider)
            }
        }
    }

    /// On top: the largest provider amount `a` with `a + commission(a) <= customer`. The function
    /// is piecewise (fixed minimum, percentage, fixed maximum), so each piece is solved on its own
    /// and the largest valid answer wins.
    fn largest_provider_for(&self, customer: i64) -> i64 {
        let fits = |a: i64| a >= 0 && a + self.commission_on(a) <= customer;
        let mut candidates = vec![
            customer - self.min_fixed_tiyn,
            customer - self.max_fixed_tiyn,
        ];
        // In the percentage piece a + a·p ≈ customer, so a ≈ customer / (1 + p); look around it.
        let guess = (i128::from(customer) * i128::from(BASIS_POINTS)
            / i128::from(BASIS_POINTS + self.percent_bp)) as i64;
        candidates.extend((guess - 2..=guess + 2).collect::<Vec<_>>());
        candidates
            .into_iter()
            .filter(|a| fits(*a))
            .max()
            .unwrap_or(0)
    }

    /// Included: the smallest customer amount `t` with `t - commission(t) >= provider`.
    fn smallest_customer_for(&self, provider: i64) -> i64 {
        let fits = |t: i64| t - self.commission_on(t).min(t) >= provider;
        let mut candidates = vec![
            provider + self.min_fixed_tiyn,
            provider + self.max_fixed_tiyn,
        ];
        if self.percent_bp < BASIS_POINTS {
            let guess = (i128::from(provider) * i128::from(BASIS_POINTS)
                / i128::from(BASIS_POINTS - self.percent_bp)) as i64;
            candidates.extend((guess - 2..=guess + 2).collect::<Vec<_>>());
        }
        candidates
            .into_iter()
            .filter(|t| fits(*t))
            .min()
            .unwrap_or(provider + self.commission_on(provider))
    }
}

fn split(provider_tiyn: i64, commission_tiyn: i64) -> Split {
    Split {
        provider_tiyn,
        commission_tiyn,
        customer_tiyn: provider_tiyn + commission_tiyn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(percent_bp: i64, formula: Formula) -> CommissionSettings {
        CommissionSettings {
            percent_bp,
            formula,
            ..Default::default()
        }
    }

    #[test]
    fn on_top_adds_the_percentage_rounded_half_up() {
        let s = settings(150, Formula::OnTop); // 1.5 %
        assert_eq!(
            s.from_provider(1_000_00),
            Split {
                provider_tiyn: 1_000_00,
                commission_tiyn: 1_500,
                customer_tiyn: 1_015_00
            }
        );
        assert_eq!(s.from_provider(33), split(33, 0)); // 0.495 → 0
        assert_eq!(s.from_provider(34), split(34, 1)); // 0.51 → 1
    }

    #[test]
    fn included_takes_the_percentage_out_of_the_customer_amount() {
        let s = settings(200, Formula::Included); // 2 %
        assert_eq!(s.from_customer(1_000_00), split(980_00, 20_00));
    }

    #[test]
    fn fixed_minimum_and_maximum_apply_beyond_their_thresholds() {
        let s = CommissionSettings {
            percent_bp: 100,
            formula: Formula::OnTop,
            min_below_tiyn: 500_00,
            min_fixed_tiyn: 10_00,
            max_above_tiyn: 50_000_00,
            max_fixed_tiyn: 400_00,
        };
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.from_provider(100_00).commission_tiyn, 10_00);
        assert_eq!(s.from_provider(1_000_00).commission_tiyn, 10_00);
        assert_eq!(s.from_provider(2_000_00).commission_tiyn, 20_00);
        assert_eq!(s.from_provider(100_000_00).commission_tiyn, 400_00);
    }

    #[test]
    fn settings_that_break_the_one_tiyn_rule_are_refused() {
        let mut s = settings(100, Formula::OnTop);
        s.min_below_tiyn = 1_000_00;
        s.min_fixed_tiyn = 5_00; // 1 % of 1000 tenge is 10 tenge: a "minimum" of 5 is not one
        assert_eq!(s.validate(), Err(CommissionError::MinimumBelowRate));
        assert_eq!(
            settings(10_001, Formula::OnTop).validate(),
            Err(CommissionError::PercentOutOfRange)
        );
    }
}
