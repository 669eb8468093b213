//! The emulated provider: its accounts, the payments it took, its faults, and how it answers a
//! request of the protocol. No HTTP here (that is [`super::http`]), so the rules read plainly.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::osmp::{Command, Response, ResultCode};

use super::accounts::{AccountBook, MalformedAccount};
use super::faults::{FaultState, Faults, FaultsError};
use super::ledger::{Conflict, Ledger, PayOutcome, Payment};
use super::options::Options;

/// Why the emulator cannot start as configured.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Account(#[from] MalformedAccount),
    #[error(transparent)]
    Faults(#[from] FaultsError),
    #[error("--min-sum is above --max-sum")]
    SumRange,
    /// The command-line arguments could not be read (in-process starts).
    #[error("{0}")]
    Arguments(String),
}

/// How to answer one request.
#[derive(Debug)]
pub enum Reply {
    /// HTTP 200 with this answer.
    Answer(Response),
    /// HTTP 200, this answer's start, then the connection breaks (the pay was committed).
    Cut(Response),
    /// HTTP 500, nothing done.
    Status500,
}

/// One emulated provider.
pub struct Provider {
    book: AccountBook,
    /// (username, password) requests must carry, if any.
    credentials: Option<(String, String)>,
    state: Mutex<State>,
}

struct State {
    faults: FaultState,
    ledger: Ledger,
    /// The answer to the last pay committed, for the wrong-answer fault.
    last_committed: Option<Response>,
}

impl Provider {
    pub fn new(options: &Options) -> Result<Provider, SetupError> {
        let book = AccountBook {
            named: options.accounts.iter().cloned().collect(),
            open: options.open,
            missing: options.missing.iter().cloned().collect(),
            inactive: options.inactive.iter().cloned().collect(),
            forbidden: options.forbidden.iter().cloned().collect(),
            min_sum_tiyn: options.min_sum,
            max_sum_tiyn: options.max_sum,
        };
        book.check()?;
        if book.min_sum_tiyn > book.max_sum_tiyn {
            return Err(SetupError::SumRange);
        }
        let faults = options.faults();
        faults.check()?;
        let credentials = match (&options.username, &options.password) {
            (Some(username), Some(password)) => Some((username.clone(), password.0.clone())),
            _ => None,
        };
        Ok(Provider {
            book,
            credentials,
            state: Mutex::new(State {
                faults: FaultState::new(faults),
                ledger: Ledger::default(),
                last_committed: None,
            }),
        })
    }

    /// The user name and password requests must carry, if any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves whole values behind (every change is one
        // assignment), so the state is still good to use.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long to wait before answering (the delay fault).
    pub fn delay(&self) -> Duration {
        self.state().faults.delay()
    }

    /// Whether the delay comes after the request is decided ([`Faults::delay_after_commit`]).
    pub fn delays_after_commit(&self) -> bool {
        self.state().faults.current().delay_after_commit
    }

    pub fn faults(&self) -> Faults {
        self.state().faults.current()
    }

    /// Sets the faults (from now; the generator restarts from their seed).
    pub fn set_faults(&self, faults: Faults) -> Result<Faults, FaultsError> {
        faults.check()?;
        let mut state = self.state();
        state.faults = FaultState::new(faults);
        Ok(state.faults.current())
    }

    pub fn payments(&self) -> Vec<Payment> {
        self.state().ledger.payments()
    }

    /// Answers a request: faults first, then the protocol's rules.
    pub fn answer(&self, command: &Command) -> Reply {
        let mut state = self.state();
        let state = &mut *state;
        let mut answer = Response {
            osmp_txn_id: Some(command.txn_id().to_string()),
            ..Response::default()
        };
        match command {
            Command::Check(check) => {
                if state.faults.status_500() {
                    return Reply::Status500;
                }
                match self.book.judge(&check.account, check.sum_tiyn) {
                    Ok(name) => {
                        answer.comment = Some("OK".into());
                        answer.fields =
                            name.map(|n| ("fio".into(), n.into())).into_iter().collect();
                    }
                    Err(code) => refuse(&mut answer, code.code()),
                }
                Reply::Answer(answer)
            }
            Command::Pay(pay) => {
                // Counted before any fault: the provider did see this pay.
                let received = state.ledger.receive(pay.txn_id, &pay.account, pay.sum_tiyn);
                if state.faults.status_500() {
                    return Reply::Status500;
                }
                if let Err(Conflict { account, sum_tiyn }) = received {
                    answer.result = ResultCode::Other.code();
                    answer.comment = Some(format!(
                        "txn_id {} was already used for account {account} and sum {}",
                        pay.txn_id,
                        crate::osmp::format_sum(sum_tiyn)
                    ));
                    return Reply::Answer(answer);
                }
                if let Some(result) = state.faults.temporary() {
                    refuse(&mut answer, result);
                    return Reply::Answer(answer);
                }
                if let Some(other) = &state.last_committed
                    && state.faults.wrong_answer()
                {
                    return Reply::Answer(other.clone());
                }
                let book = &self.book;
                let outcome = state.ledger.settle(pay.txn_id, || {
                    book.judge(&pay.account, pay.sum_tiyn)
                        .map(|_| ())
                        .map_err(ResultCode::code)
                });
                match outcome {
                    PayOutcome::Committed { prv_txn } => {
                        answer.prv_txn = Some(prv_txn.to_string());
                        answer.sum_tiyn = Some(pay.sum_tiyn);
                        answer.comment = Some("OK".into());
                        state.last_committed = Some(answer.clone());
                        if state.faults.no_provider_txn() {
                            answer.prv_txn = None;
                        }
                        if state.faults.cut_after_commit() {
                            return Reply::Cut(answer);
                        }
                    }
                    PayOutcome::Refused { result } => refuse(&mut answer, result),
                }
                Reply::Answer(answer)
            }
        }
    }
}

/// Fills in a non-zero result with the protocol's wording as the comment.
fn refuse(answer: &mut Response, result: u16) {
    answer.result = result;
    answer.comment = ResultCode::from_code(result).map(|code| code.description().to_owned());
}
