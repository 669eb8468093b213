//! The point's offline limits, checked on the phone before a payment is deferred.
//!
//! The dealer sets them per point and the gateway hands them over with the key card
//! ([`OfflineLimits`]): the largest single payment that may wait, the most that may wait at once,
//! and how long a payment may wait before the gateway refuses it (909). Square caps each
//! offline payment and counts down to an upload deadline; Stripe caps the stored total. Here:
//!
//! - a payment larger than `max_payment_tiyn` is not deferred;
//! - a payment that would bring the waiting total above `max_total_tiyn` is not deferred;
//! - while a waiting payment is past its deadline (created more than `max_age_ms` ago) nothing
//!   more is deferred: the phone has been offline too long, and the gateway will refuse that
//!   payment anyway — the cashier must get the phone online first.
//!
//! Amounts are what the provider is credited (`amount_tiyn`): the money the dealer's account
//! stands behind, which is what the gateway's own limits count too.
//!
//! Pure functions of the limits and what waits, so the page can check synchronously with what
//! it shows in the header, and tests need no browser.

use tolem_protocol::messages::OfflineLimits;

use crate::record::PaymentRecord;

/// What waits on the phone, in the terms the limits and the header need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Waiting {
    /// Payments not final yet.
    pub count: usize,
    /// Their provider amounts together.
    pub total_tiyn: i64,
    /// When the oldest of them was created (signed), if any waits.
    pub oldest_created_ms: Option<i64>,
    /// Bills waiting for the customer's card: counted apart, in none of the above (no cash was
    /// taken for them, so they are outside the offline limits).
    pub bills: usize,
}

impl Waiting {
    /// Sums up the waiting payments (any order; final ones are left out, bills only counted).
    pub fn of(records: &[PaymentRecord]) -> Waiting {
        records
            .iter()
            .filter(|r| !r.state.is_final())
            .fold(Waiting::default(), |w, r| {
                if r.payment.is_bill() {
                    return Waiting {
                        bills: w.bills + 1,
                        ..w
                    };
                }
                Waiting {
                    count: w.count + 1,
                    total_tiyn: w.total_tiyn.saturating_add(r.payment.amount_tiyn),
                    oldest_created_ms: Some(
                        w.oldest_created_ms
                            .map_or(r.payment.created_at_ms, |o| o.min(r.payment.created_at_ms)),
                    ),
                    bills: w.bills,
                }
            })
    }

    /// When the oldest waiting payment must have reached the gateway: after this it is
    /// refused as too old (909). In the gateway's time, as the payment was signed with: compare
    /// it with [`crate::clock::now_ms`], not the phone's own clock, which may be hours off.
    pub fn deadline_ms(&self, limits: &OfflineLimits) -> Option<i64> {
        self.oldest_created_ms
            .map(|created| created.saturating_add(limits.max_age_ms))
    }
}

/// Why a payment may not be deferred.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// The payment is larger than one offline payment may be.
    #[error("one offline payment may be at most {max_tiyn} tiyn")]
    PaymentTooLarge { max_tiyn: i64 },
    /// With this payment more than the allowed total would wait; `room_tiyn` may still be deferred.
    #[error("at most {max_tiyn} tiyn may wait on the phone; {room_tiyn} tiyn more fit")]
    TotalTooLarge { max_tiyn: i64, room_tiyn: i64 },
    /// A waiting payment passed its deadline at `deadline_ms`: connect before deferring more.
    #[error("a waiting payment is past its deadline")]
    Overdue { deadline_ms: i64 },
}

/// [`check_defer`] at the gateway's time as this phone knows it ([`crate::clock::now_ms`]).
pub fn check_defer_now(
    limits: &OfflineLimits,
    waiting: &Waiting,
    amount_tiyn: i64,
) -> Result<(), LimitError> {
    check_defer(limits, waiting, amount_tiyn, crate::clock::now_ms())
}

/// Whether a payment of `amount_tiyn` may be deferred at `now_ms` (the gateway's time: see
/// [`Waiting::deadline_ms`]), with `waiting` already on the phone.
pub fn check_defer(
    limits: &OfflineLimits,
    waiting: &Waiting,
    amount_tiyn: i64,
    now_ms: i64,
) -> Result<(), LimitError> {
    if let Some(deadline_ms) = waiting.deadline_ms(limits)
        && deadline_ms <= now_ms
    {
        return Err(LimitError::Overdue { deadline_ms });
    }
    if amount_tiyn > limits.max_payment_tiyn {
        return Err(LimitError::PaymentTooLarge {
            max_tiyn: limits.max_payment_tiyn,
        });
    }
    if waiting.total_tiyn.saturating_add(amount_tiyn) > limits.max_total_tiyn {
        return Err(LimitError::TotalTooLarge {
            max_tiyn: limits.max_total_tiyn,
            room_tiyn: (limits.max_total_tiyn - waiting.total_tiyn).max(0),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn limits() -> OfflineLimits {
        OfflineLimits {
            max_payment_tiyn: 50_000_00,
            max_total_tiyn: 200_000_00,
            max_age_ms: 72 * HOUR,
        }
    }

    fn waiting(count: usize, total_tiyn: i64, oldest: Option<i64>) -> Waiting {
        Waiting {
            count,
            total_tiyn,
            oldest_created_ms: oldest,
            bills: 0,
        }
    }

    #[test]
    fn a_payment_within_every_limit_may_wait() {
        let now = 1_000 * HOUR;
        assert_eq!(
            check_defer(&limits(), &Waiting::default(), 50_000_00, now),
            Ok(())
        );
        let some = waiting(3, 150_000_00, Some(now - 71 * HOUR));
        assert_eq!(check_defer(&limits(), &some, 50_000_00, now), Ok(()));
    }

    #[test]
    fn one_tiyn_over_the_single_payment_cap_is_refused() {
        assert_eq!(
            check_defer(&limits(), &Waiting::default(), 50_000_01, 0),
            Err(LimitError::PaymentTooLarge {
                max_tiyn: 50_000_00
            })
        );
    }

    #[test]
    fn the_waiting_total_is_capped_and_says_what_still_fits() {
        let some = waiting(4, 180_000_00, Some(0));
        assert_eq!(
            check_defer(&limits(), &some, 20_000_01, 1),
            Err(LimitError::TotalTooLarge {
                max_tiyn: 200_000_00,
                room_tiyn: 20_000_00
            })
        );
        assert_eq!(check_defer(&limits(), &some, 20_000_00, 1), Ok(()));
    }

    #[test]
    fn nothing_more_waits_once_a_waiting_payment_is_past_its_deadline() {
        let now = 1_000 * HOUR;
        let old = waiting(1, 1_000_00, Some(now - 72 * HOUR));
        assert_eq!(
            check_defer(&limits(), &old, 1_00, now),
            Err(LimitError::Overdue { deadline_ms: now })
        );
    }

    #[test]
    fn the_deadline_is_the_oldest_waiting_payment_plus_the_maximum_age() {
        let records: Vec<PaymentRecord> = Vec::new();
        assert_eq!(Waiting::of(&records).deadline_ms(&limits()), None);
        assert_eq!(
            waiting(2, 1, Some(5 * HOUR)).deadline_ms(&limits()),
            Some(77 * HOUR)
        );
    }
}
