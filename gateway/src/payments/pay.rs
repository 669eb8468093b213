//! The `pay` step: a payment is decided and recorded in ONE database transaction — the
//! idempotency look-up, the rules, the debit, its ledger entry, the payment row, the
//! dealer's commission accrual ([`crate::commission`]) and the delivery job that carries it to
//! the provider ([`crate::delivery`]) — so it is either all there or not at
//! all, and a session is paid at most once.
//!
//! ## Concurrency
//! * The transaction first locks the dealer's row (`SELECT … FOR NO KEY UPDATE`, the lock an
//!   update takes, see [`super::group_state`]), and moves its `transactions_issued` (the
//!   number in the new transaction id) and balance only at the end. That lock serialises the
//!   payments of one dealer on PostgreSQL: the idempotency look-up, the duplicate rule and the
//!   daily sums each see every payment committed before, and two of them can never both fit
//!   into the last of a limit. On SQLite [`begin_write`](crate::db::begin_write) has already
//!   taken the database's write lock (`BEGIN IMMEDIATE`, waiting up to the 5 s busy timeout),
//!   which serialises all payments; concurrent ones queue instead of failing with "database
//!   is locked".
//! * The balance moves only if it stays at or above zero (the group's figures, and again the
//!   conditional `UPDATE` that writes them): a debit it cannot cover is 21.
//! * Two identical requests of one session at once: the second waits for the first's lock (or
//!   comes after it in the same group, [`super::group`]) and then finds its row. Should an
//!   insert still hit the (point, session) primary key, the group is rolled back: never paid
//!   twice (a payment decided alone reads the stored outcome and returns it; one of a group is
//!   answered 999 and its phone finds the outcome by `status`).
//! * The sender's standing (key certified, dealer, point and cashier active) is checked by
//!   [`crate::sender::authorize`] before the transaction, and again inside it
//!   ([`crate::sender::still_authorized`]) once the lock is held: a request that waited for
//!   the lock while a dealer blocked the point or revoked the key must not pay.
//! * A caller that gives up (a phone that hangs up) must not cut a decision in half: a
//!   payment submitted to the [`super::group::GroupWriter`] belongs to the writer's task. (A
//!   dropped transaction would roll back cleanly, but finishing means the phone's status
//!   query finds the outcome it was about to be told.)
//! * Many payments share one transaction and one commit ([`super::group`]), decided in order
//!   on figures kept current in memory ([`super::group_state`]), so the rules above hold for
//!   each exactly as if it were alone.

use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool, error::ErrorKind};
use tolem_protocol::{
    PROTOCOL_VERSION,
    codes::ResultCode,
    messages::{
        Delivery, DeliveryState, Message, Outcome, Payment, PaymentMethod, PaymentReceipt,
        PaymentState, Response, Step,
    },
};

use super::{
    content_hash,
    group::decide_together,
    group_state::{Decision, GroupState, NotRead, WriteError},
    screen, transaction_id,
};
use crate::{
    db::{
        Ends,
        ledger::LedgerKind,
        payments::{self, StoredPayment},
        providers,
        retry::{Conflict, retry},
    },
    sender::Sender,
};

/// How a `pay` request ended.
#[derive(Debug)]
pub enum Paid {
    /// Decided now and stored: `answer` is the exact bytes to send.
    Decided {
        code: ResultCode,
        transaction_id: String,
        answer: Vec<u8>,
    },
    /// The session was decided before with the same content: its stored answer.
    Replayed(StoredPayment),
    /// The session was decided before with other content (code 1); nothing stored.
    SessionTaken,
    /// The sender may no longer pay, found inside the transaction (key no longer certified,
    /// dealer, point or cashier blocked since the request was authorised): refused with this
    /// code and nothing stored, exactly as [`crate::sender::authorize`] would have refused it a
    /// moment later — the phone keeps the payment and sends it again once the block is lifted.
    Refused(ResultCode),
}

/// Why a payment could not be decided (answered 999, nothing stored: the phone tries again).
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("not a payment: {0}")]
    NotAPayment(&'static str),
    #[error("inconsistent ledger: {0}")]
    Ledger(String),
    /// The group the payment was decided in failed as a whole (its commit, say): nothing of
    /// it is stored.
    #[error("the group of payments failed: {0}")]
    Group(Arc<PayError>),
    /// The payment writer stopped before it answered (it is shutting down, or a bug panicked
    /// its group).
    #[error("the payment writer stopped before answering")]
    WriterGone,
    /// A bug, or an inconsistent database: see [`NotRead`].
    #[error(transparent)]
    NotRead(NotRead),
    /// A bug: a group answered with fewer outcomes than it had payments.
    #[error("a group of payments gave no outcome for one of them")]
    NoOutcome,
    /// Another transaction held the dealer's row (a stuck console session, say) for longer
    /// than the payment writer waits ([`super::group`]): not decided, nothing stored.
    #[error("dealer {0}'s row stayed held by another transaction")]
    DealerHeld(String),
}

impl Conflict for PayError {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            PayError::Database(error) => Some(error),
            PayError::Group(error) => error.database_error(),
            _ => None,
        }
    }
}

/// What deciding a group does about a dealer whose row another transaction holds
/// (PostgreSQL; SQLite's write lock holds every dealer at once, and a group waits for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenHeld {
    /// Waits for the row, as long as the transaction's `lock_timeout` lets it.
    Wait,
    /// Leaves that dealer's payments undecided ([`PayError::DealerHeld`], nothing of them
    /// written) and decides the others: the payment writer's way once a row stayed held
    /// ([`super::group`]), so that one dealer's held row does not hold up every dealer.
    PutAside,
}

/// Who pays the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Funding {
    /// The dealer's balance: the cashier took cash.
    Balance,
    /// The customer's card paid a bill: the provider's amount of it is credited to the
    /// dealer's balance (`card_payment`) in the same transaction, just before the payment's
    /// debit, which it nets to zero. The rest, the point's fee, and the commission wait for the
    /// provider to take the payment ([`crate::card::earn`]): a refusal then gives the card its
    /// money back without touching anything the dealer may have spent.
    Card,
}

/// A payment to decide: the sender and what it pays. It is screened against the provider
/// catalogue ([`screen`]) where it is decided, under the write lock
/// ([`GroupState::read`] reads the group's providers in one statement), so the decision is
/// taken on the catalogue it commits on, and a request costs no catalogue look-up of its own.
pub struct Candidate<'a> {
    pub sender: &'a Sender,
    pub payment: &'a Payment,
    /// Its idempotency fingerprint ([`content_hash`]).
    pub hash: String,
}

impl<'a> Candidate<'a> {
    pub fn new(sender: &'a Sender, payment: &'a Payment) -> Self {
        Candidate {
            sender,
            payment,
            hash: content_hash(payment),
        }
    }

    /// The account as the provider's rule normalises it, or the first rule the content breaks,
    /// against the catalogue as it is now, received at `now_ms`: for a card bill, opened and
    /// paid long before its payment is decided (which screens it again).
    pub async fn screen_now(
        &self,
        pool: &AnyPool,
        now_ms: i64,
    ) -> Result<Result<String, ResultCode>, sqlx::Error> {
        let provider = {
            let mut conn = pool.acquire().await?;
            providers::payable_provider(&mut conn, &self.payment.provider).await?
        };
        Ok(screen(
            self.payment,
            provider.as_ref().map_err(|code| *code),
            self.sender.request.created_at_ms,
            now_ms,
            self.sender.point.offline.max_age_ms,
        ))
    }
}

/// Decides the payment of an authorised `pay` request received at `now_ms`, alone: a group
/// of one ([`super::group`]; a serving gateway sends its payments through its
/// [`super::group::GroupWriter`] instead). The caller has already refused a creation time in
/// the future (910), which is not stored.
pub async fn pay(pool: &AnyPool, sender: &Sender, now_ms: i64) -> Result<Paid, PayError> {
    let Step::Pay(payment) = &sender.request.step else {
        return Err(PayError::NotAPayment(sender.request.step.name()));
    };
    let candidates = [(Candidate::new(sender, payment), now_ms)];
    let candidates = &candidates;
    // A deadlock or serialization failure (PostgreSQL) rolled everything back: deciding again
    // looks the session up again under the dealer's lock, so the retry cannot pay twice.
    let decided = retry("pay", move || decide_together(pool, None, candidates, None)).await;
    // Alone, not a writer's group: its steps' times are not the groups' (`/metrics`).
    let decided =
        decided.and_then(|(mut outcomes, _steps)| outcomes.pop().ok_or(PayError::NoOutcome)?);
    settle_race(pool, sender, &candidates[0].0.hash, decided).await
}

/// The outcome of a payment as its caller answers it: a unique violation of its session means
/// another gateway decided the same session at the same moment (the dealer's lock does not
/// reach across an insert that raced it), so the stored outcome is read and returned — never
/// paid twice.
pub(super) async fn settle_race(
    pool: &AnyPool,
    sender: &Sender,
    hash: &str,
    decided: Result<Paid, PayError>,
) -> Result<Paid, PayError> {
    match decided {
        Err(PayError::Database(sqlx::Error::Database(error)))
            if error.kind() == ErrorKind::UniqueViolation =>
        {
            let mut conn = pool.acquire().await?;
            let session = sender.request.session.as_str();
            tracing::info!(point = %sender.point.code, %session,
                "payment raced with the same session; answering with the stored outcome");
            match payments::find(&mut conn, &sender.point.code, session).await? {
                Some(stored) => Ok(replay(stored, hash)),
                None => Err(PayError::Database(sqlx::Error::Database(error))),
            }
        }
        other => other,
    }
}

fn replay(stored: StoredPayment, hash: &str) -> Paid {
    if stored.content_hash == hash {
        Paid::Replayed(stored)
    } else {
        Paid::SessionTaken
    }
}

/// Decides one payment inside the caller's write transaction (begun with
/// [`begin_write`](crate::db::begin_write)): a group of one ([`decide_all_in`]). A bill's
/// settlement calls it with [`Funding::Card`] in the transaction that also marks the bill paid,
/// and commits when the answer is [`Paid::Decided`]; anything else wrote nothing.
pub async fn decide_in(
    tx: &mut AnyConnection,
    candidate: Candidate<'_>,
    funding: Funding,
    now_ms: i64,
) -> Result<Paid, PayError> {
    let payments = [(candidate, now_ms)];
    let mut outcomes =
        decide_all_in(tx, &payments, funding, Ends::default(), WhenHeld::Wait).await?;
    outcomes.pop().unwrap_or(Err(PayError::NoOutcome))
}

/// The transaction itself (see the module docs) for a group of payments (each with its
/// received time), in order, inside the caller's write transaction: the group's figures are
/// read once ([`GroupState::read`]), each payment is decided on them as if it were alone
/// after the ones before it, and what was decided is written at the end. `Err` is an error of
/// the group as a whole — nothing of it may be committed; `Ok` holds one outcome per payment.
/// In an [`InlineTx`](crate::db::InlineTx), `ends` begins the transaction with the first read
/// and commits it with the writes. `held` says what to do about a dealer's row another
/// transaction holds.
pub async fn decide_all_in(
    tx: &mut AnyConnection,
    payments: &[(Candidate<'_>, i64)],
    funding: Funding,
    ends: Ends,
    held: WhenHeld,
) -> Result<Vec<Result<Paid, PayError>>, PayError> {
    let mut state = GroupState::read(tx, payments, ends.begin, held).await?;
    let mut outcomes = Vec::with_capacity(payments.len());
    for (index, (candidate, now_ms)) in payments.iter().enumerate() {
        let dealer = &candidate.sender.point.dealer_code;
        outcomes.push(if state.is_held(dealer) {
            Err(PayError::DealerHeld(dealer.clone()))
        } else {
            decide_one(&mut state, index, candidate, funding, *now_ms)?
        });
    }
    state
        .write(tx, payments, ends.commit)
        .await
        .map_err(|error| match error {
            WriteError::Database(error) => PayError::Database(error),
            other => PayError::Ledger(other.to_string()),
        })?;
    Ok(outcomes)
}

/// The payment `index` of a group, on the group's figures. The outer `Err` is a database
/// error, which fails the whole group (on PostgreSQL it has aborted the transaction).
fn decide_one<'s>(
    state: &mut GroupState<'s>,
    index: usize,
    candidate: &'s Candidate<'s>,
    funding: Funding,
    now_ms: i64,
) -> Result<Result<Paid, PayError>, sqlx::Error> {
    let (sender, payment, hash) = (candidate.sender, candidate.payment, candidate.hash.as_str());
    let request = &sender.request;
    let dealer = sender.point.dealer_code.as_str();
    // Taken only when the payment is recorded below.
    let Some(number) = state.next_number(dealer) else {
        return Ok(Err(PayError::Ledger(format!("dealer {dealer} is gone"))));
    };
    // Under the lock now: what was authorised before may have changed while we waited.
    if let Err(code) = state.still_authorized(candidate)? {
        return Ok(Ok(Paid::Refused(code)));
    }
    if let Some(stored) = state.stored(candidate) {
        return Ok(Ok(replay(stored.clone(), hash)));
    }
    let transaction_id = transaction_id(dealer, number);

    let screened_account = state.account(index).clone();
    let mut code = match &screened_account {
        Err(code) => *code,
        Ok(account) => {
            let standing = match state.standing(candidate, account, now_ms) {
                Ok(standing) => standing,
                Err(error) => return Ok(Err(PayError::NotRead(error))),
            };
            match super::judge(payment.amount_tiyn, &standing) {
                // A card pays the bill, not the dealer's balance (its credit comes first below).
                Err(ResultCode::InsufficientFunds) if funding == Funding::Card => ResultCode::Ok,
                verdict => verdict.err().unwrap_or(ResultCode::Ok),
            }
        }
    };
    let mut entries = Vec::new();
    if code == ResultCode::Ok && funding == Funding::Card {
        // The card's money first, so the debit below is always covered.
        let credit = payment.amount_tiyn;
        match state.move_balance(dealer, credit) {
            Some(after) => entries.push((LedgerKind::CardPayment, credit, after)),
            None => {
                return Ok(Err(PayError::Ledger(format!(
                    "{transaction_id}: card credit"
                ))));
            }
        }
    }
    if code == ResultCode::Ok {
        let debit = -payment.amount_tiyn;
        match state.move_balance(dealer, debit) {
            Some(after) => entries.push((LedgerKind::Payment, debit, after)),
            None => code = ResultCode::InsufficientFunds,
        }
    }

    let accepted = code == ResultCode::Ok;
    let method = match funding {
        Funding::Balance => PaymentMethod::Cash,
        Funding::Card => PaymentMethod::Card,
    };
    let response = Response {
        v: PROTOCOL_VERSION,
        session: Some(request.session.clone()),
        code,
        outcome: Some(Outcome::Payment(PaymentReceipt {
            method,
            transaction_id: transaction_id.clone(),
            state: if accepted {
                PaymentState::Accepted
            } else {
                PaymentState::Rejected
            },
            amount_tiyn: payment.amount_tiyn,
            customer_amount_tiyn: payment.customer_amount_tiyn,
            // For a rejected payment: when it was decided.
            accepted_at_ms: now_ms,
            // Queued with the payment, in the same transaction (`GroupState::write`).
            delivery: accepted.then_some(Delivery {
                state: DeliveryState::Queued,
                provider_txn: None,
                refusal: None,
                delayed: false,
                updated_at_ms: now_ms,
            }),
        })),
        gateway_time_ms: now_ms,
        retry_after_s: None,
    };
    let answer = response.encode();
    let account = screened_account
        .as_deref()
        .unwrap_or(payment.account.as_str());
    let recorded = state.record(Decision {
        candidate,
        transaction_id: transaction_id.clone(),
        account: account.to_owned(),
        code,
        answer: answer.clone(),
        signature: sender.signature.to_string(),
        method,
        received_at_ms: now_ms,
        entries,
    });
    if let Err(error) = recorded {
        return Ok(Err(PayError::NotRead(error)));
    }
    Ok(Ok(Paid::Decided {
        code,
        transaction_id,
        answer,
    }))
}
