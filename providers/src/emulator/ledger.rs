//! The payments the emulator was asked to make, by txn_id: what a real provider keeps so that
//! a repeated `pay` gets the first outcome, never a second payment.

use std::collections::BTreeMap;

use serde::Serialize;

/// One txn_id seen in a pay, as `GET /control/payments` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Payment {
    pub txn_id: u64,
    pub account: String,
    pub sum_tiyn: i64,
    /// The provider's number, once committed; `None` if it never was.
    pub prv_txn: Option<u64>,
    /// The outcome every repeat gets: 0 (committed) or a refusal. `None` while only faults and
    /// temporary answers were given.
    pub result: Option<u16>,
    /// How many `pay` requests came with this txn_id (faulted ones and repeats included).
    pub pays_received: u32,
}

/// What to answer a pay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayOutcome {
    /// Committed now or before: result 0 with this prv_txn.
    Committed { prv_txn: u64 },
    /// Refused now or before, with this result.
    Refused { result: u16 },
}

/// The txn_id was first used for this other account or sum (answered 300, nothing stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub account: String,
    pub sum_tiyn: i64,
}

/// Every pay's txn_id and its outcome.
#[derive(Debug, Default)]
pub struct Ledger {
    payments: BTreeMap<u64, Payment>,
    last_prv_txn: u64,
}

impl Ledger {
    /// Counts a pay request, creating its record on first sight. A request that names another
    /// account or sum than the first one with this txn_id is a [`Conflict`].
    pub fn receive(&mut self, txn_id: u64, account: &str, sum_tiyn: i64) -> Result<(), Conflict> {
        let payment = self.payments.entry(txn_id).or_insert_with(|| Payment {
            txn_id,
            account: account.to_owned(),
            sum_tiyn,
            prv_txn: None,
            result: None,
            pays_received: 0,
        });
        payment.pays_received += 1;
        if payment.account != account || payment.sum_tiyn != sum_tiyn {
            return Err(Conflict {
                account: payment.account.clone(),
                sum_tiyn: payment.sum_tiyn,
            });
        }
        Ok(())
    }

    /// The outcome of a received pay: the stored one if decided, else `decide`'s, stored now.
    /// `decide` gives `Ok` to commit or `Err(result)` to refuse.
    pub fn settle(&mut self, txn_id: u64, decide: impl FnOnce() -> Result<(), u16>) -> PayOutcome {
        let payment = self
            .payments
            .get_mut(&txn_id)
            .expect("settle follows receive");
        match (payment.result, payment.prv_txn) {
            (Some(0), Some(prv_txn)) => return PayOutcome::Committed { prv_txn },
            (Some(result), _) => return PayOutcome::Refused { result },
            (None, _) => {}
        }
        match decide() {
            Ok(()) => {
                self.last_prv_txn += 1;
                payment.prv_txn = Some(self.last_prv_txn);
                payment.result = Some(0);
                PayOutcome::Committed {
                    prv_txn: self.last_prv_txn,
                }
            }
            Err(result) => {
                payment.result = Some(result);
                PayOutcome::Refused { result }
            }
        }
    }

    /// Every payment, by txn_id.
    pub fn payments(&self) -> Vec<Payment> {
        self.payments.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_get_the_first_outcome() {
        let mut ledger = Ledger::default();
        ledger.receive(7, "7011111111", 100).unwrap();
        assert_eq!(
            ledger.settle(7, || Ok(())),
            PayOutcome::Committed { prv_txn: 1 }
        );
        ledger.receive(7, "7011111111", 100).unwrap();
        assert_eq!(
            ledger.settle(7, || Err(5)),
            PayOutcome::Committed { prv_txn: 1 }
        );
        assert!(matches!(
            ledger.receive(7, "7011111111", 200),
            Err(Conflict { .. })
        ));
        ledger.receive(8, "7011111111", 100).unwrap();
        assert_eq!(
            ledger.settle(8, || Err(79)),
            PayOutcome::Refused { result: 79 }
        );
        ledger.receive(8, "7011111111", 100).unwrap();
        assert_eq!(
            ledger.settle(8, || Ok(())),
            PayOutcome::Refused { result: 79 }
        );
        let payments = ledger.payments();
        assert_eq!(payments[0].pays_received, 3);
        assert_eq!(payments[1].prv_txn, None);
    }
}
