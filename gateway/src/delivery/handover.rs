//! Deliveries handed to the worker at birth: a payment group stores the delivery of an
//! accepted payment already claimed — sent, attempt 1, its provider number, the lease's end as
//! its next attempt time — when the worker has lent it a place for that provider, and hands
//! the job to the worker in memory once the group is committed.
//!
//! ## Why
//! Otherwise every delivery is stored queued, read back as due, claimed (a second version of
//! its row, a new entry in each of three indexes) and only then sent. Under the gateway
//! benchmark on PostgreSQL the claim was the server's single largest statement, 37.5 µs a
//! payment, 14 % of its statements' time (issue 14, thirty-third pass); on SQLite the claims
//! ride in the payment writer's turn. A job born claimed skips the read and the claim.
//!
//! ## What keeps it safe
//! * **A place before a birth.** The worker lends places of its own (counted against each
//!   provider's and its overall places, [`super::worker`]); a group takes one for each payment
//!   it would hand over, and a group that fails gives its places back ([`Births`] does on
//!   drop): no job waits in memory for a place the worker does not have.
//! * **Handed over only after the commit**, so the worker never sends a payment that is not
//!   stored. A job waiting longer than half its lease before the worker takes it is not sent
//!   from memory: by the lease's end it is due like any other, and a worker's read finds it
//!   (no two attempts at once, as with a claim a worker did not finish).
//! * **Births keep half the places while a backlog waits.** Jobs a read finds due (queued when
//!   no place was free, or retried) take lent places back, oldest first as ever, but never the
//!   last half of a provider's: otherwise, once deliveries fall behind, every new payment finds
//!   its provider's places taken by the backlog and joins it, and births never take over
//!   (measured: 4–14 % of the deliveries born under the gateway benchmark, 38–49 % with it).
//! * **Provider numbers in blocks.** A claim numbers its jobs in its own statement; a birth
//!   takes its number from a block the worker took from the same counter beforehand
//!   ([`crate::db::deliveries::number_block`]), so numbers stay unique across gateways and
//!   claims. A block's numbers not used when the gateway stops are never used: OSMP asks for a
//!   unique `txn_id`, not for consecutive ones.
//! * **A gateway stopped after the commit** leaves its born jobs' claims to run out, as a
//!   worker killed mid-attempt does: they are sent again then, with the same number.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    ops::Range,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Instant,
};

use super::DeliveryQueue;
use crate::db::deliveries::Claimed;

/// What the worker lent and the payment groups hand over. One per gateway, in its
/// [`DeliveryQueue`].
#[derive(Default)]
pub struct Handover {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// How long a birth's claim holds the job (the worker's lease); none while no worker lends.
    lease_ms: Option<i64>,
    /// Places the worker lent that no group holds now, by provider.
    free: HashMap<String, usize>,
    /// Providers whose accepted payments found no free place since the worker last looked.
    wanted: HashSet<String>,
    /// Provider numbers taken from the counter for births and not given yet, oldest first.
    numbers: VecDeque<Range<i64>>,
    /// Jobs committed and waiting for the worker.
    born: Vec<Born>,
}

/// A job handed over: committed, claimed, waiting for the worker to send it.
#[derive(Debug)]
pub struct Born {
    pub job: Claimed,
    /// When it was handed over: one that waited longer than half its lease is not sent.
    pub at: Instant,
}

impl Handover {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Every change below leaves the figures whole: a panic elsewhere cannot split one.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ---- The worker's side.

    /// The worker begins lending, its claims holding a job `lease_ms`. Places lent by a worker
    /// before it (one that panicked and was started again) are forgotten; jobs it was handed
    /// and had not taken stay, for this one. One worker lends through a queue at a time: the
    /// worker keeps its own count of what it lent.
    pub fn open(&self, lease_ms: i64) {
        let mut inner = self.inner();
        inner.lease_ms = Some(lease_ms);
        inner.free.clear();
    }

    /// Lends `count` more places of `provider`.
    pub fn lend(&self, provider: &str, count: usize) {
        if count > 0 {
            *self.inner().free.entry(provider.to_owned()).or_default() += count;
        }
    }

    /// Takes back at most `most` of `provider`'s lent places no group holds now; returns how
    /// many.
    pub fn take_back(&self, provider: &str, most: usize) -> usize {
        let mut inner = self.inner();
        let Some(free) = inner.free.get_mut(provider) else {
            return 0;
        };
        let back = (*free).min(most);
        *free -= back;
        back
    }

    /// How many places lent are free now (no group holds them), all providers together.
    pub fn places_free(&self) -> usize {
        self.inner().free.values().sum()
    }

    /// The providers whose payments found no free place since the last call.
    pub fn wanted(&self) -> HashSet<String> {
        std::mem::take(&mut self.inner().wanted)
    }

    /// How many provider numbers are left for births.
    pub fn numbers_left(&self) -> i64 {
        self.inner()
            .numbers
            .iter()
            .map(|range| range.end - range.start)
            .sum()
    }

    /// Adds numbers taken from the counter for births.
    pub fn add_numbers(&self, numbers: Range<i64>) {
        if !numbers.is_empty() {
            self.inner().numbers.push_back(numbers);
        }
    }

    /// The jobs handed over since the last call, oldest first.
    pub fn take_born(&self) -> Vec<Born> {
        std::mem::take(&mut self.inner().born)
    }

    // ---- The payment groups' side.

    /// Births for the accepted payments of a group about to be written, each given by its
    /// provider: the index of each payment that takes a place (and a number), its number, and
    /// the claim's end. A payment left without (no place lent for its provider, no number left,
    /// no worker) is queued as before, and its provider marked wanted.
    pub(super) fn reserve<'p>(
        &self,
        queue: Arc<DeliveryQueue>,
        providers: impl Iterator<Item = &'p str>,
        now_ms: i64,
    ) -> Births {
        let mut guard = self.inner();
        let inner = &mut *guard;
        let mut births = Births {
            queue: Some(queue),
            numbers: Vec::new(),
            places: Vec::new(),
            lease_until_ms: 0,
            jobs: Vec::new(),
        };
        let Some(lease_ms) = inner.lease_ms else {
            births.numbers = providers.map(|_| None).collect();
            return births;
        };
        births.lease_until_ms = now_ms.saturating_add(lease_ms);
        for provider in providers {
            let mut number = None;
            match inner.free.get_mut(provider) {
                Some(free) if *free > 0 => {
                    number = next_number(&mut inner.numbers);
                    if number.is_some() {
                        *free -= 1;
                        births.places.push(provider.to_owned());
                    }
                }
                _ => {
                    inner.wanted.insert(provider.to_owned());
                }
            }
            births.numbers.push(number);
        }
        births
    }

    fn give_back(&self, places: &[String]) {
        let mut inner = self.inner();
        for provider in places {
            *inner.free.entry(provider.clone()).or_default() += 1;
        }
    }

    fn hand_over(&self, jobs: Vec<Claimed>) {
        let at = Instant::now();
        self.inner()
            .born
            .extend(jobs.into_iter().map(|job| Born { job, at }));
    }
}

/// The first number left, taken.
fn next_number(numbers: &mut VecDeque<Range<i64>>) -> Option<i64> {
    loop {
        let range = numbers.front_mut()?;
        if let Some(number) = range.next() {
            return Some(number);
        }
        numbers.pop_front();
    }
}

/// The places and numbers a group took for its births, given back when it is dropped unless
/// the group was committed and its jobs handed over ([`Self::hand_over`]).
#[derive(Default)]
pub struct Births {
    queue: Option<Arc<DeliveryQueue>>,
    /// For each payment given to [`Handover::reserve`], in order, its provider number if it is
    /// born claimed.
    pub numbers: Vec<Option<i64>>,
    /// The provider of each place taken.
    places: Vec<String>,
    /// When a birth's claim ends: its next attempt time as stored.
    pub lease_until_ms: i64,
    /// The jobs born claimed, once the group has written them ([`Self::written`]).
    jobs: Vec<Claimed>,
}

impl Births {
    /// The jobs the group writes born claimed, with what sending each needs: handed over when
    /// the group is committed.
    pub fn written(&mut self, jobs: Vec<Claimed>) {
        self.jobs = jobs;
    }

    /// The group is committed: its born jobs go to the worker, told of them, and the places
    /// they took are the worker's again (counted as in flight from when it takes them). If
    /// some of its deliveries were queued instead, the worker is woken to read them. Returns
    /// how many were born and how many queued.
    pub fn hand_over(mut self) -> (usize, usize) {
        self.places.clear();
        let jobs = std::mem::take(&mut self.jobs);
        let (born, queued) = (jobs.len(), self.numbers.len() - jobs.len());
        let Some(queue) = self.queue.take() else {
            return (born, queued);
        };
        if queued > 0 {
            queue.wake();
        }
        if born > 0 {
            queue.handover.hand_over(jobs);
            queue.handed_over();
        }
        (born, queued)
    }
}

impl Drop for Births {
    fn drop(&mut self) {
        if let Some(queue) = &self.queue
            && !self.places.is_empty()
        {
            queue.handover.give_back(&self.places);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(transaction_id: &str, provider: &str, txn_id: i64) -> Claimed {
        Claimed {
            transaction_id: transaction_id.to_owned(),
            provider: provider.to_owned(),
            txn_id,
            attempt: 1,
            account: "7011234567".to_owned(),
            amount_tiyn: 100_000,
            accepted_at_ms: 0,
            dealer_code: "D1".to_owned(),
            point_code: "P1001".to_owned(),
        }
    }

    #[test]
    fn no_payment_is_born_claimed_without_a_worker_that_lent_it_a_place() {
        let queue = Arc::new(DeliveryQueue::default());
        let handover = &queue.handover;
        // No worker yet: every delivery is queued.
        let births = queue.reserve_births(["kcell"].into_iter(), 1_000);
        assert_eq!(births.numbers, [None]);
        drop(births);

        handover.open(300_000);
        handover.add_numbers(11..13);
        handover.lend("kcell", 2);
        // Two of Kcell's are born claimed, with the block's numbers; the third, and Beeline's,
        // for which nothing was lent, are queued, and their providers are wanted.
        let births =
            queue.reserve_births(["kcell", "beeline", "kcell", "kcell"].into_iter(), 1_000);
        assert_eq!(births.numbers, [Some(11), None, Some(12), None]);
        assert_eq!(births.lease_until_ms, 301_000);
        assert_eq!(
            handover.wanted(),
            HashSet::from(["kcell".to_owned(), "beeline".to_owned()])
        );
        // The group failed: its places are lent again (its numbers are not used again).
        drop(births);
        assert_eq!(handover.places_free(), 2);
        assert_eq!(handover.take_back("kcell", 5), 2);
        assert_eq!(handover.places_free(), 0);
        assert_eq!(handover.numbers_left(), 0);
    }

    #[test]
    fn a_committed_groups_jobs_reach_the_worker_and_keep_their_places() {
        let queue = Arc::new(DeliveryQueue::default());
        let handover = &queue.handover;
        handover.open(300_000);
        handover.add_numbers(1..3);
        handover.add_numbers(100..200);
        handover.lend("kcell", 3);
        let mut births = queue.reserve_births(["kcell", "kcell", "kcell"].into_iter(), 0);
        // A block used up, the next one follows.
        assert_eq!(births.numbers, [Some(1), Some(2), Some(100)]);
        births.written(vec![
            job("D1-1", "kcell", 1),
            job("D1-2", "kcell", 2),
            job("D1-3", "kcell", 100),
        ]);
        assert_eq!(births.hand_over(), (3, 0));
        // Nothing is given back: the places are the jobs'.
        assert_eq!(handover.places_free(), 0);
        let born: Vec<i64> = handover.take_born().iter().map(|b| b.job.txn_id).collect();
        assert_eq!(born, [1, 2, 100]);
        assert!(handover.take_born().is_empty());
        assert_eq!(handover.numbers_left(), 99);
    }

    #[test]
    fn a_worker_started_again_forgets_the_places_lent_before_it() {
        let queue = Arc::new(DeliveryQueue::default());
        let handover = &queue.handover;
        handover.open(300_000);
        handover.add_numbers(1..10);
        handover.lend("kcell", 4);
        handover.open(300_000);
        assert_eq!(handover.places_free(), 0);
        let births = queue.reserve_births(["kcell"].into_iter(), 0);
        assert_eq!(births.numbers, [None]);
    }
}
