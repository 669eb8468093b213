//! What the decisions of one group of payments read and write, under the write lock: read
//! **once** for the whole group in a handful of statements, kept current in memory as each
//! payment is decided ([`super::pay::decide_all_in`]), and written at the end in a handful
//! more — instead of a dozen statements per payment. The statements go in three batches
//! ([`Batch`]): what every decision needs, then what the screened payments are judged on, then
//! the writes; on SQLite each batch is one hand-off to the connection's thread.
//!
//! ## Why
//! On SQLite every statement is a hand-off to the driver's own thread and back; profiled under
//! the gateway benchmark, those hand-offs (thread switches and futexes in the kernel), not
//! SQLite's work, were most of a payment's time, and all of it under the write lock (issue 14).
//!
//! ## Why the decisions are those of one payment at a time
//! Each payment sees exactly what it saw when every payment ran its own statements inside the
//! group's transaction:
//! * the dealers' rows are locked first, in dealer order, and nothing but this group writes
//!   them until it commits (SQLite's write lock; on PostgreSQL the row locks): their counter
//!   and balance are read once and moved in memory. On PostgreSQL a group may instead skip the
//!   rows another transaction holds ([`WhenHeld::PutAside`]): those dealers' payments are not
//!   decided in it at all;
//! * keys, points and cashiers are read once after the dealers' locks: the old per-payment
//!   re-check read them at the same point of the same transaction, and no payment changes them;
//! * so are the providers of the group's payments, and each payment is screened against them
//!   there ([`super::screen`]): decided on the catalogue it commits on;
//! * a session decided earlier in the group, a payment accepted earlier in the group (the
//!   duplicate rule, the day's sums) are added in memory to what the database held, exactly
//!   as the database would have shown them after that payment's inserts;
//! * the day's sums (where a daily limit counts them) and the commission rates are read once
//!   for every payment that passed screening, before the first decision: nothing writes them
//!   before the group's end, so a payment reads the same value as it would have read alone.
//!
//! Nothing is written before the end, so a payment that is not decided (a replay, a session
//! taken, a sender refused) leaves nothing behind and takes no transaction number.

use std::collections::{BTreeSet, HashMap};

use sqlx::{AnyConnection, Row};
use tolem_protocol::{
    codes::ResultCode,
    messages::{PaymentMethod, PaymentState},
};

use super::{
    BUSINESS_DAY_MS, DUPLICATE_WINDOW_MS, Standing, business_day_start,
    pay::{Candidate, WhenHeld},
    screen,
};
use crate::{
    commission::{self, Accrual},
    db::{
        batch::Batch,
        day_sums::{self, Scope},
        ledger::{self, LedgerKind, NewEntry},
        lists::{Placeholders, rows_in_into},
        payments::{self, AcceptedLike, NewPayment, Sameness, StoredPayment},
        providers, sequence,
    },
    delivery,
    sender::{self, SenderRows},
};

/// A dealer's row, locked for the group, as it stands after the payments decided so far.
#[derive(Debug, Clone)]
struct DealerNow {
    active: bool,
    payment_limit_tiyn: Option<i64>,
    daily_limit_tiyn: Option<i64>,
    issued: i64,
    balance_tiyn: i64,
    /// As read: the difference is what the group writes back.
    issued_at_read: i64,
    balance_at_read_tiyn: i64,
}

#[derive(Debug, Clone)]
struct PointNow {
    active: bool,
    payment_limit_tiyn: Option<i64>,
    daily_limit_tiyn: Option<i64>,
    /// How long a deferred payment may wait: read here too, because the sender's own copy may
    /// be a remembered one ([`crate::sender::recent`]).
    offline_max_age_ms: i64,
}

/// An accepted payment of this group, as the day's sums count it.
#[derive(Debug, Clone)]
struct AcceptedNow {
    point_code: String,
    dealer_code: String,
    amount_tiyn: i64,
    received_at_ms: i64,
}

/// A payment decided in this group, to write at the end.
pub(super) struct Decision<'s> {
    pub candidate: &'s Candidate<'s>,
    pub transaction_id: String,
    /// As stored: normalised by the provider's rule where it passed.
    pub account: String,
    pub code: ResultCode,
    pub answer: Vec<u8>,
    pub signature: String,
    pub method: PaymentMethod,
    pub received_at_ms: i64,
    /// The ledger entries of its money (none for a rejected payment), each with the balance
    /// after it.
    pub entries: Vec<(LedgerKind, i64, i64)>,
}

/// See the module docs.
pub(super) struct GroupState<'s> {
    /// Each payment's account as its provider's rule normalised it, or the first rule its
    /// content breaks ([`screen`]), in the group's order.
    accounts: Vec<Result<String, ResultCode>>,
    dealers: HashMap<String, DealerNow>,
    /// Whether the dealers' rows another transaction held were skipped: then a dealer of the
    /// group missing from `dealers` is one of them.
    held: WhenHeld,
    points: HashMap<String, PointNow>,
    keys: HashMap<String, String>,
    cashiers: HashMap<(String, String), bool>,
    sessions: HashMap<(String, String), StoredPayment>,
    /// Accepted payments the duplicate rule may find: those of the database near the group's
    /// payments, then the group's own.
    like: Vec<AcceptedLike>,
    /// The database's accepted sum of a point (`true`) or dealer (`false`) on the business
    /// day that starts at the key's time (UTC milliseconds), read for every screened payment
    /// whose point or dealer has a daily limit ([`daily_limited`]).
    day_sums: HashMap<(bool, String, i64), i64>,
    accepted: Vec<AcceptedNow>,
    /// Commission rates by (dealer, provider), read for every screened payment.
    rates: HashMap<(String, String), i64>,
    decided: Vec<Decision<'s>>,
}

impl<'s> GroupState<'s> {
    /// Locks the dealers of `payments` (in code order, so groups on one PostgreSQL never
    /// deadlock each other) and reads what their decisions need. With `held` at
    /// [`WhenHeld::PutAside`], a dealer whose row another transaction holds is skipped
    /// ([`Self::is_held`]) instead of waited for. With `begin`, the transaction begins in the
    /// same trip, first ([`crate::db::InlineTx`]).
    pub async fn read(
        conn: &mut AnyConnection,
        payments: &'s [(Candidate<'s>, i64)],
        begin: Option<&str>,
        held: WhenHeld,
    ) -> Result<Self, sqlx::Error> {
        let senders = || payments.iter().map(|(candidate, _)| candidate.sender);
        // What every decision needs, in one batch: on SQLite one hand-off to the connection's
        // thread for all of it ([`Batch`]).
        let mut batch = Batch::new(conn);
        if let Some(begin) = begin {
            batch.push(begin.to_owned());
        }
        let dealer_codes: BTreeSet<&str> =
            senders().map(|s| s.point.dealer_code.as_str()).collect();
        // The group's dealers, read and locked in one statement. On PostgreSQL the rows are
        // locked as the sort hands them over, in code order (the module docs say why): "ORDER
        // BY is applied first. The command sorts the result, but might then block trying to
        // obtain a lock" (PostgreSQL's manual, SELECT, The Locking Clause:
        // https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE).
        // The lock is the one an update takes, so rows that refer to a dealer (a console's
        // ledger entry) may still be written meanwhile. SQLite locks no rows: the group's
        // write transaction holds the whole file. One statement for any number of dealers,
        // where each dealer's was a round trip of its own (a no-op `UPDATE … RETURNING`) with
        // the dealers before it locked. (Gateway benchmark, PostgreSQL, `DEALERS=4`, five
        // alternating pairs: payments/s the same within the noise, issue 14.)
        // Skipping the rows another transaction holds ("SKIP LOCKED", the same section) never
        // waits, so the order does not matter there; a dealer left out is one whose row is
        // held, since dealers are never deleted.
        let lock = match (batch.placeholders(), held) {
            (Placeholders::Numbered, WhenHeld::Wait) => " ORDER BY code FOR NO KEY UPDATE",
            (Placeholders::Numbered, WhenHeld::PutAside) => " FOR NO KEY UPDATE SKIP LOCKED",
            (Placeholders::Anonymous, _) => "",
        };
        let (dealers_slot, mut binder) = batch.push(format!(
            "SELECT code, transactions_issued, balance_tiyn, CAST(active AS BIGINT) AS active, \
             payment_limit_tiyn, daily_limit_tiyn FROM dealers WHERE code IN ({}){lock}",
            batch.placeholders().list_from(1, dealer_codes.len())
        ));
        for code in &dealer_codes {
            binder.bind(*code);
        }
        let point_codes: BTreeSet<&str> = senders().map(|s| s.point.code.as_str()).collect();
        let point_codes: Vec<&str> = point_codes.into_iter().collect();
        // The points with their cashiers, in one statement: on PostgreSQL each statement of
        // a batch is a round trip, with the dealers' rows locked.
        let points_slot = rows_in_into(
            &mut batch,
            "SELECT p.code, CAST(p.active AS BIGINT) AS active, p.payment_limit_tiyn, \
             p.daily_limit_tiyn, p.offline_max_age_ms, c.code AS cashier_code, \
             CAST(c.active AS BIGINT) AS cashier_active \
             FROM points p LEFT JOIN cashiers c ON c.point_code = p.code WHERE p.code",
            &point_codes,
        );
        let serials: BTreeSet<&str> = senders().map(|s| s.key.serial.as_str()).collect();
        let serials: Vec<&str> = serials.into_iter().collect();
        let keys_slot = rows_in_into(
            &mut batch,
            "SELECT serial, state FROM keys WHERE serial",
            &serials,
        );
        let wanted: Vec<(&str, &str)> = senders()
            .map(|s| (s.point.code.as_str(), s.request.session.as_str()))
            .collect();
        let session_slots = payments::find_all_into(&mut batch, &wanted);
        // Screened against the catalogue as it is under the lock: one statement for the
        // group's providers.
        let codes: BTreeSet<&str> = payments
            .iter()
            .map(|(candidate, _)| candidate.payment.provider.as_str())
            .collect();
        let codes: Vec<&str> = codes.into_iter().collect();
        let providers_slot = providers::payable_into(&mut batch, &codes);
        let mut done = batch.run(conn).await?;

        let mut dealers = HashMap::new();
        for row in dealers_slot.take(&mut done).rows {
            let code: String = row.try_get("code")?;
            let issued: i64 = row.try_get("transactions_issued")?;
            let balance: i64 = row.try_get("balance_tiyn")?;
            dealers.insert(
                code,
                DealerNow {
                    active: row.try_get::<i64, _>("active")? != 0,
                    payment_limit_tiyn: row.try_get("payment_limit_tiyn")?,
                    daily_limit_tiyn: row.try_get("daily_limit_tiyn")?,
                    issued,
                    balance_tiyn: balance,
                    issued_at_read: issued,
                    balance_at_read_tiyn: balance,
                },
            );
        }
        let mut points = HashMap::new();
        let mut cashiers = HashMap::new();
        // A row per cashier of a point, or one with no cashier.
        for row in points_slot.take(&mut done).rows {
            let code: String = row.try_get("code")?;
            if let Some(cashier) = row.try_get::<Option<String>, _>("cashier_code")? {
                let active = row
                    .try_get::<Option<i64>, _>("cashier_active")?
                    .is_some_and(|a| a != 0);
                cashiers.insert((code.clone(), cashier), active);
            }
            let point = PointNow {
                active: row.try_get::<i64, _>("active")? != 0,
                payment_limit_tiyn: row.try_get("payment_limit_tiyn")?,
                daily_limit_tiyn: row.try_get("daily_limit_tiyn")?,
                offline_max_age_ms: row.try_get("offline_max_age_ms")?,
            };
            points.insert(code, point);
        }
        let mut keys = HashMap::new();
        for row in keys_slot.take(&mut done).rows {
            keys.insert(row.try_get("serial")?, row.try_get("state")?);
        }
        let sessions = payments::found_all(&mut done, &session_slots)?;
        let payable = providers::payable_found(&mut done, providers_slot)?;
        let accounts: Vec<Result<String, ResultCode>> = payments
            .iter()
            .map(|(candidate, now_ms)| {
                let provider = match payable.get(&candidate.payment.provider) {
                    Some(provider) => provider.as_ref().map_err(|code| *code),
                    None => Err(ResultCode::UnknownProvider),
                };
                let sender = candidate.sender;
                // A point that is gone is refused by the checks repeated under the lock.
                let max_age_ms = points
                    .get(&sender.point.code)
                    .map_or(sender.point.offline.max_age_ms, |point| {
                        point.offline_max_age_ms
                    });
                screen(
                    candidate.payment,
                    provider,
                    sender.request.created_at_ms,
                    *now_ms,
                    max_age_ms,
                )
            })
            .collect();

        // Then, in a second batch, what the screened payments are judged and accrued on: the
        // accepted payments the duplicate rule may find, the day's sums where a daily limit
        // counts them, and the commission rates — read here for every payment that may be
        // accepted, rather than one statement each as the decisions first need them.
        let mut batch = Batch::new(conn);
        let like_wanted: Vec<(Sameness<'_>, i64, i64)> = payments
            .iter()
            .zip(&accounts)
            .filter_map(|((candidate, _), account)| {
                let account = account.as_ref().ok()?;
                let created = candidate.sender.request.created_at_ms;
                Some((
                    sameness(candidate, account),
                    created.saturating_sub(DUPLICATE_WINDOW_MS),
                    created.saturating_add(DUPLICATE_WINDOW_MS),
                ))
            })
            .collect();
        let like_slots = payments::accepted_like_into(&mut batch, &like_wanted);
        let mut sum_keys = BTreeSet::new();
        let mut rate_pairs = BTreeSet::new();
        for ((candidate, now_ms), account) in payments.iter().zip(&accounts) {
            if account.is_err() {
                continue;
            }
            let s = candidate.sender;
            let (point, dealer) = (s.point.code.as_str(), s.point.dealer_code.as_str());
            let day_start = business_day_start(*now_ms);
            if let (Some(point_now), Some(dealer_now)) = (points.get(point), dealers.get(dealer)) {
                for scope in daily_limited(point, point_now, dealer, dealer_now) {
                    sum_keys.insert((scope, day_start));
                }
            }
            rate_pairs.insert((dealer, candidate.payment.provider.as_str()));
        }
        // One statement each for the group's day sums and its rates, whatever their count.
        let sum_keys: Vec<(Scope<'_>, i64)> = sum_keys.into_iter().collect();
        let sums_slot =
            (!sum_keys.is_empty()).then(|| day_sums::of_all_into(&mut batch, &sum_keys));
        let rate_pairs: Vec<(&str, &str)> = rate_pairs.into_iter().collect();
        let rates_slot =
            (!rate_pairs.is_empty()).then(|| commission::rates_into(&mut batch, &rate_pairs));
        let mut done = if batch.is_empty() {
            Vec::new()
        } else {
            batch.run(conn).await?
        };
        let like = payments::accepted_like_found(&mut done, &like_slots)?;
        let mut day_sums = HashMap::with_capacity(sum_keys.len());
        if let Some(slot) = sums_slot {
            let sums = day_sums::of_all_found(&mut done, slot, &sum_keys)?;
            for ((scope, day_start), sum) in sum_keys.iter().zip(sums) {
                day_sums.insert(sum_key(*scope, *day_start), sum);
            }
        }
        let rates = match rates_slot {
            Some(slot) => commission::rates_found(&mut done, slot)?,
            None => HashMap::new(),
        };

        Ok(GroupState {
            accounts,
            dealers,
            held,
            points,
            keys,
            cashiers,
            sessions,
            like,
            day_sums,
            accepted: Vec::new(),
            rates,
            decided: Vec::with_capacity(payments.len()),
        })
    }

    /// The screening of the group's payment `index` against the catalogue.
    pub fn account(&self, index: usize) -> &Result<String, ResultCode> {
        &self.accounts[index]
    }

    /// Checks 6–9 of [`crate::sender`] again on the rows as they are now.
    pub fn still_authorized(
        &self,
        candidate: &Candidate<'_>,
    ) -> Result<Result<(), ResultCode>, sqlx::Error> {
        let s = candidate.sender;
        let rows = SenderRows {
            key_state: self.keys.get(&s.key.serial).map(String::as_str),
            dealer_active: self
                .dealers
                .get(&s.point.dealer_code)
                .is_some_and(|d| d.active),
            point_active: self.points.get(&s.point.code).is_some_and(|p| p.active),
            cashier_active: self
                .cashiers
                .get(&(s.point.code.clone(), s.cashier.code.clone()))
                .copied()
                .unwrap_or(false),
        };
        sender::still_authorized(s, rows)
    }

    /// Whether `dealer`'s row was held by another transaction, so that its payments are not
    /// decided in this group ([`WhenHeld::PutAside`]).
    pub fn is_held(&self, dealer: &str) -> bool {
        self.held == WhenHeld::PutAside && !self.dealers.contains_key(dealer)
    }

    /// The payment stored for the sender's session, by the database or earlier in the group.
    pub fn stored(&self, candidate: &Candidate<'_>) -> Option<&StoredPayment> {
        let s = candidate.sender;
        let key = (s.point.code.clone(), s.request.session.as_str().to_owned());
        self.sessions.get(&key)
    }

    /// The number of the dealer's next transaction; `None` when the dealer's row is gone (a
    /// dealer is never deleted: an inconsistent database).
    pub fn next_number(&self, dealer_code: &str) -> Option<i64> {
        self.dealers.get(dealer_code).map(|d| d.issued + 1)
    }

    /// The figures a screened payment with the normalised `account`, received at `now_ms`, is
    /// judged against ([`super::judge`]), as [`super::read_standing`] would read them at this
    /// point of the group.
    pub fn standing(
        &self,
        candidate: &Candidate<'_>,
        account: &str,
        now_ms: i64,
    ) -> Result<Standing, NotRead> {
        let s = candidate.sender;
        let (point_code, dealer_code) = (s.point.code.as_str(), s.point.dealer_code.as_str());
        let point =
            (self.points.get(point_code)).ok_or_else(|| NotRead::Point(point_code.into()))?;
        let dealer =
            (self.dealers.get(dealer_code)).ok_or_else(|| NotRead::Dealer(dealer_code.into()))?;
        let day_start = business_day_start(now_ms);
        // A day's sum only where there is a daily limit to hold it against, as before.
        let (mut point_today_tiyn, mut dealer_today_tiyn) = (0, 0);
        for scope in daily_limited(point_code, point, dealer_code, dealer) {
            let today = self.today(scope, day_start)?;
            match scope {
                Scope::Point(_) => point_today_tiyn = today,
                Scope::Dealer(_) => dealer_today_tiyn = today,
            }
        }
        let created = s.request.created_at_ms;
        let (from_ms, to_ms) = (
            created.saturating_sub(DUPLICATE_WINDOW_MS),
            created.saturating_add(DUPLICATE_WINDOW_MS),
        );
        let same = sameness(candidate, account);
        let duplicate_of = self
            .like
            .iter()
            .find(|like| like.is_same(&same, from_ms, to_ms))
            .map(|like| like.transaction_id.clone());
        Ok(Standing {
            balance_tiyn: dealer.balance_tiyn,
            point_payment_limit_tiyn: point.payment_limit_tiyn,
            point_daily_limit_tiyn: point.daily_limit_tiyn,
            point_today_tiyn,
            dealer_payment_limit_tiyn: dealer.payment_limit_tiyn,
            dealer_daily_limit_tiyn: dealer.daily_limit_tiyn,
            dealer_today_tiyn,
            duplicate_of,
        })
    }

    /// The accepted sum of `scope` on the day that starts at `day_start`: the database's, read
    /// with the group's figures, plus this group's accepted payments received since then.
    fn today(&self, scope: Scope<'_>, day_start: i64) -> Result<i64, NotRead> {
        let stored = *(self.day_sums.get(&sum_key(scope, day_start))).ok_or(NotRead::DaySum)?;
        Ok(stored.saturating_add(accepted_on(&self.accepted, scope, day_start)))
    }

    /// Moves the dealer's balance by `amount_tiyn`: the balance after, or `None` (nothing
    /// moved) when it would go below zero.
    pub fn move_balance(&mut self, dealer_code: &str, amount_tiyn: i64) -> Option<i64> {
        let dealer = self.dealers.get_mut(dealer_code)?;
        let after = dealer.balance_tiyn.checked_add(amount_tiyn)?;
        if after < 0 {
            return None;
        }
        dealer.balance_tiyn = after;
        Some(after)
    }

    /// Records a decided payment: its number is taken, and every later payment of the group
    /// sees it (its session, and if accepted its amount in the day's sums and the duplicate
    /// rule). An accepted payment must have its commission rate read ([`Self::write`] accrues
    /// at it).
    pub fn record(&mut self, decision: Decision<'s>) -> Result<(), NotRead> {
        let s = decision.candidate.sender;
        let payment = decision.candidate.payment;
        let dealer_code = s.point.dealer_code.as_str();
        let accepted = decision.code == ResultCode::Ok;
        if accepted
            && !(self.rates).contains_key(&(dealer_code.to_owned(), payment.provider.clone()))
        {
            return Err(NotRead::Rate);
        }
        if let Some(dealer) = self.dealers.get_mut(dealer_code) {
            dealer.issued += 1;
        }
        if accepted {
            self.accepted.push(AcceptedNow {
                point_code: s.point.code.clone(),
                dealer_code: dealer_code.to_owned(),
                amount_tiyn: payment.amount_tiyn,
                received_at_ms: decision.received_at_ms,
            });
            self.like.push(AcceptedLike {
                transaction_id: decision.transaction_id.clone(),
                point_code: s.point.code.clone(),
                provider: payment.provider.clone(),
                account: decision.account.clone(),
                amount_tiyn: payment.amount_tiyn,
                created_at_ms: s.request.created_at_ms,
            });
        }
        self.sessions.insert(
            (s.point.code.clone(), s.request.session.as_str().to_owned()),
            StoredPayment {
                transaction_id: decision.transaction_id.clone(),
                content_hash: decision.candidate.hash.clone(),
                state: if accepted {
                    PaymentState::Accepted
                } else {
                    PaymentState::Rejected
                },
                code: decision.code,
                response_body: decision.answer.clone(),
            },
        );
        self.decided.push(decision);
        Ok(())
    }

    /// Writes what the group decided: each dealer's counter and balance moved once, then the
    /// ledger entries, the payments, their delivery jobs, the day's sums and commission
    /// accruals, each table in one statement — and the sequence numbers of all its payments,
    /// decided or not: each arrived ([`crate::sender::note_refused_pay`] records those refused
    /// before the group). All of it in one [`Batch::writes`]: on SQLite one hand-off to the
    /// connection's thread instead of one per statement, on PostgreSQL one statement (one
    /// round trip) — no two of these writes touch the same row.
    ///
    /// With `commit`, the transaction is committed in the same trip, last
    /// ([`crate::db::InlineTx`]): a statement that fails stops the batch before it, so nothing
    /// of a failed write is committed. A dealer's balance that would fall below zero is such a
    /// failure (the table's check); a dealer's row not found is reported after the commit, but
    /// it was found and locked by this transaction's first read: only a bug could lose it.
    pub async fn write(
        self,
        conn: &mut AnyConnection,
        payments: &[(Candidate<'_>, i64)],
        commit: Option<&str>,
    ) -> Result<(), WriteError> {
        let arrived: Vec<(&str, i64, &str, i64)> = payments
            .iter()
            .filter_map(|(candidate, now_ms)| {
                let s = candidate.sender;
                let seq = sender::pay_number(&s.request)?;
                Some((
                    s.key.serial.as_str(),
                    seq,
                    s.request.session.as_str(),
                    *now_ms,
                ))
            })
            .collect();
        let moved: Vec<(&str, i64, i64)> = self
            .dealers
            .iter()
            .map(|(code, dealer)| {
                let issued = dealer.issued - dealer.issued_at_read;
                let moved = dealer.balance_tiyn - dealer.balance_at_read_tiyn;
                (code.as_str(), issued, moved)
            })
            .filter(|(_, issued, moved)| *issued != 0 || *moved != 0)
            .collect();
        let decided = &self.decided;
        let entries: Vec<(NewEntry<'_>, i64)> = decided
            .iter()
            .flat_map(|d| {
                let s = d.candidate.sender;
                d.entries.iter().map(move |(kind, amount_tiyn, after)| {
                    let entry = NewEntry {
                        dealer_code: &s.point.dealer_code,
                        kind: *kind,
                        amount_tiyn: *amount_tiyn,
                        reference: &d.transaction_id,
                        point_code: Some(&s.point.code),
                        created_at_ms: d.received_at_ms,
                    };
                    (entry, *after)
                })
            })
            .collect();
        let rows: Vec<NewPayment<'_>> = decided.iter().map(Decision::row).collect();
        let accepted: Vec<&Decision<'_>> = decided
            .iter()
            .filter(|d| d.code == ResultCode::Ok)
            .collect();
        let jobs: Vec<(&str, &str, i64)> = accepted
            .iter()
            .map(|d| {
                let provider = d.candidate.payment.provider.as_str();
                (d.transaction_id.as_str(), provider, d.received_at_ms)
            })
            .collect();
        let counted = accepted.iter().flat_map(|d| {
            let s = d.candidate.sender;
            let amount_tiyn = d.candidate.payment.amount_tiyn;
            [
                (Scope::Point(&s.point.code), d.received_at_ms, amount_tiyn),
                (
                    Scope::Dealer(&s.point.dealer_code),
                    d.received_at_ms,
                    amount_tiyn,
                ),
            ]
        });
        // A card payment's commission waits for the provider to take it (`crate::card::earn`).
        let accruals: Vec<Accrual<'_>> = accepted
            .iter()
            .filter(|d| d.method == PaymentMethod::Cash)
            .map(|d| {
                let (s, payment) = (d.candidate.sender, d.candidate.payment);
                let key = (s.point.dealer_code.clone(), payment.provider.clone());
                Accrual {
                    transaction_id: &d.transaction_id,
                    dealer_code: &s.point.dealer_code,
                    provider: &payment.provider,
                    amount_tiyn: payment.amount_tiyn,
                    // Present: `record` refuses an accepted payment without it.
                    rate_bp: self.rates.get(&key).copied().unwrap_or(0),
                    accrued_at_ms: d.received_at_ms,
                }
            })
            .collect();

        let mut batch = Batch::writes(conn);
        sequence::record_all_into(&mut batch, &arrived);
        let mut dealer_slots = Vec::with_capacity(moved.len());
        for (code, issued, moved) in &moved {
            // A balance below zero breaks the table's check, which fails the batch.
            let (slot, mut binder) = batch.push_fixed(
                "UPDATE dealers SET transactions_issued = transactions_issued + $1, \
                 balance_tiyn = balance_tiyn + $2 WHERE code = $3",
            );
            binder.bind(*issued).bind(*moved).bind(*code);
            dealer_slots.push((slot, *code));
        }
        ledger::insert_moved_into(&mut batch, &entries);
        payments::insert_all_into(&mut batch, &rows);
        // After the payments: the delivery jobs and the accruals refer to them.
        delivery::enqueue_all_into(&mut batch, &jobs);
        day_sums::add_all_into(&mut batch, counted);
        commission::accrue_all_into(&mut batch, &accruals);
        if let Some(commit) = commit {
            batch.push(commit.to_owned());
        }

        let mut done = batch.run(conn).await?;
        for (slot, code) in dealer_slots {
            if slot.take(&mut done).rows_affected != 1 {
                // The row is locked for the group: this is a bug, never a race.
                return Err(WriteError::DealerGone(code.to_owned()));
            }
        }
        Ok(())
    }
}

impl Decision<'_> {
    /// Its row in `payments`.
    fn row(&self) -> NewPayment<'_> {
        let (s, payment) = (self.candidate.sender, self.candidate.payment);
        NewPayment {
            point_code: &s.point.code,
            session: s.request.session.as_str(),
            transaction_id: &self.transaction_id,
            dealer_code: &s.point.dealer_code,
            cashier_code: &s.cashier.code,
            key_serial: &s.key.serial,
            provider: &payment.provider,
            account: &self.account,
            amount_tiyn: payment.amount_tiyn,
            customer_amount_tiyn: payment.customer_amount_tiyn,
            comment: payment.comment.as_deref(),
            content_hash: &self.candidate.hash,
            code: self.code,
            created_at_ms: s.request.created_at_ms,
            received_at_ms: self.received_at_ms,
            request_body: &s.body,
            request_signature: &self.signature,
            response_body: &self.answer,
            method: self.method,
        }
    }
}

/// A figure a decision needs that the group did not read ([`GroupState::read`] reads every one
/// a screened payment can need, so this is a bug or an inconsistent database, never a race).
/// The payment is answered 999 and nothing of it is stored.
#[derive(Debug, thiserror::Error)]
pub enum NotRead {
    /// A point is never deleted.
    #[error("point {0} is gone")]
    Point(String),
    /// A dealer is never deleted.
    #[error("dealer {0} is gone")]
    Dealer(String),
    #[error("the group did not read a day's sum the payment is limited by")]
    DaySum,
    #[error("the group did not read the payment's commission rate")]
    Rate,
}

/// Why a group's decisions could not be written: nothing of the group is stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("dealer {0}'s row was not found, although the group had locked it")]
    DealerGone(String),
}

/// Whose day's sums a payment of `point` (of `dealer`) is judged on: those with a daily limit.
/// The group reads these, and the decision looks up these.
fn daily_limited<'a>(
    point_code: &'a str,
    point: &PointNow,
    dealer_code: &'a str,
    dealer: &DealerNow,
) -> impl Iterator<Item = Scope<'a>> {
    let point = point.daily_limit_tiyn.map(|_| Scope::Point(point_code));
    let dealer = dealer.daily_limit_tiyn.map(|_| Scope::Dealer(dealer_code));
    point.into_iter().chain(dealer)
}

/// Where [`GroupState`] keeps the database's sum of `scope` on the day that starts at
/// `day_start`.
/// The sum of the payments of `scope` in `accepted` received on the business day that starts
/// at `day_start` — on it, not since: a group decides in its callers' order, which around
/// midnight may put a payment received after it before one received just before it, and the
/// later one belongs to the next day's sum.
fn accepted_on(accepted: &[AcceptedNow], scope: Scope<'_>, day_start: i64) -> i64 {
    let day = day_start..day_start.saturating_add(BUSINESS_DAY_MS);
    accepted
        .iter()
        .filter(|a| day.contains(&a.received_at_ms))
        .filter(|a| match scope {
            Scope::Point(code) => a.point_code == code,
            Scope::Dealer(code) => a.dealer_code == code,
        })
        .map(|a| a.amount_tiyn)
        .sum()
}

fn sum_key(scope: Scope<'_>, day_start: i64) -> (bool, String, i64) {
    match scope {
        Scope::Point(code) => (true, code.to_owned(), day_start),
        Scope::Dealer(code) => (false, code.to_owned(), day_start),
    }
}

fn sameness<'a>(candidate: &'a Candidate<'_>, account: &'a str) -> Sameness<'a> {
    let (s, payment) = (candidate.sender, candidate.payment);
    Sameness {
        point_code: &s.point.code,
        provider: &payment.provider,
        account,
        amount_tiyn: payment.amount_tiyn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(point: &str, amount_tiyn: i64, received_at_ms: i64) -> AcceptedNow {
        AcceptedNow {
            point_code: point.to_owned(),
            dealer_code: "D001".to_owned(),
            amount_tiyn,
            received_at_ms,
        }
    }

    /// Around midnight a group may decide a payment received just after it before one
    /// received just before it: the earlier one's day counts only the day's own payments, so
    /// it is not refused (82) for the next day's.
    #[test]
    fn a_groups_day_sum_holds_only_that_days_payments() {
        let midnight = 10 * BUSINESS_DAY_MS;
        let group = [
            accepted("P1", 100_000, midnight + 10),
            accepted("P1", 7, midnight - 10),
            accepted("P2", 5, midnight - 20),
        ];
        let yesterday = midnight - BUSINESS_DAY_MS;
        assert_eq!(accepted_on(&group, Scope::Point("P1"), yesterday), 7);
        assert_eq!(accepted_on(&group, Scope::Point("P1"), midnight), 100_000);
        assert_eq!(accepted_on(&group, Scope::Dealer("D001"), yesterday), 12);
    }
}
