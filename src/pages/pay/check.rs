//! *Check the number* (manual §10): before taking the cash, the cashier may ask the gateway —
//! and through it the connected provider — whether the number exists and whose it is.
//!
//! The check is a `check` request signed by the point key under a fresh session, built from
//! the same draft a payment is ([`PaymentDraft::payment`]), so the number checked is the number
//! paid. Nothing is stored: a check moves no money and leaves no record. Without a connection
//! there is nothing to ask; the form says so, and deferring still works.

use std::time::Duration;

use leptos::prelude::*;
use tolem_outbox::record::PaymentDraft;
use tolem_protocol::codes::ResultCode;
use tolem_protocol::messages::{AccountCheck, Outcome, ProviderRefusal, Response, Step};

use crate::api::{ApiError, Unclear};
use crate::components::refusal_text;
use crate::i18n::*;
use crate::language::use_i18n;
use crate::messages::{Explain, with_value};
use crate::session::{KeySession, SignedStepError};

/// What a check found out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckAnswer {
    /// The gateway's rules pass and the provider knows the account (its holder and other
    /// fields, when it gave them).
    Known(AccountCheck),
    /// The gateway's rules pass, but the provider was not asked or did not answer: the payment
    /// may still be made.
    NotAsked,
    /// The provider refuses (code 8 for the account, 7 for the amount, 914 when it takes no
    /// payments now), and says why.
    Refused(ResultCode, ProviderRefusal),
    /// The gateway itself refuses (funds, limits, a duplicate…); after too many attempts it
    /// says how long to wait.
    Rejected(ResultCode, Option<Duration>),
    /// No connection: nothing was asked.
    Offline,
    /// Asked, but no trustworthy answer came back.
    Unclear,
}

impl CheckAnswer {
    /// Reads the gateway's (already verified) answer to a check, whatever its code.
    pub fn from_response(response: Response) -> CheckAnswer {
        let account = match response.outcome {
            Some(Outcome::Checked { account }) => account,
            // Any other outcome does not answer a check; a refusal may carry none.
            Some(_) if response.code == ResultCode::Ok => return CheckAnswer::Unclear,
            _ => None,
        };
        match (response.code, account) {
            (ResultCode::Ok, Some(account)) if account.exists => CheckAnswer::Known(account),
            (ResultCode::Ok, None) => CheckAnswer::NotAsked,
            (code, Some(account)) => {
                CheckAnswer::Refused(code, account.refusal.unwrap_or(ProviderRefusal::Other))
            }
            (code, None) => CheckAnswer::Rejected(
                code,
                response
                    .retry_after_s
                    .map(|s| Duration::from_secs(s.into())),
            ),
        }
    }

    /// Maps a failure to get an answer; `None` when the key is missing or locked (the form
    /// shows its own notices for those).
    fn from_error(error: SignedStepError) -> Option<CheckAnswer> {
        match error {
            SignedStepError::Locked | SignedStepError::NoKey => None,
            SignedStepError::Api(ApiError::Offline) => Some(CheckAnswer::Offline),
            SignedStepError::Api(ApiError::Unclear(_)) => Some(CheckAnswer::Unclear),
            SignedStepError::Api(ApiError::Rejected(code, wait)) => {
                Some(CheckAnswer::Rejected(code, wait))
            }
        }
    }

    /// For `data-code`: the result code's number, or `offline` / `unclear` when there was none.
    pub fn code_name(&self) -> String {
        match self {
            CheckAnswer::Known(_) | CheckAnswer::NotAsked => ResultCode::Ok.number().to_string(),
            CheckAnswer::Refused(code, _) | CheckAnswer::Rejected(code, _) => {
                code.number().to_string()
            }
            CheckAnswer::Offline => "offline".into(),
            CheckAnswer::Unclear => "unclear".into(),
        }
    }

    /// For `data-exists`: whether the provider knows the account, when it answered.
    pub fn exists(&self) -> Option<bool> {
        match self {
            CheckAnswer::Known(_) => Some(true),
            CheckAnswer::Refused(..) => Some(false),
            _ => None,
        }
    }

    /// Whether the cashier should stop and look: the number or the payment was refused.
    fn is_alert(&self) -> bool {
        matches!(self, CheckAnswer::Refused(..) | CheckAnswer::Rejected(..))
    }

    /// The answer in one sentence, in `locale`.
    pub fn text(&self, locale: Locale) -> String {
        match self {
            CheckAnswer::Known(account) => match &account.holder {
                Some(holder) => {
                    with_value(td_string!(locale, check_known_holder), "holder", holder)
                }
                None => td_string!(locale, check_known).to_owned(),
            },
            CheckAnswer::NotAsked => td_string!(locale, check_not_asked).to_owned(),
            CheckAnswer::Refused(_, refusal) => with_value(
                td_string!(locale, delivery_refused),
                "reason",
                refusal_text(locale, *refusal),
            ),
            CheckAnswer::Rejected(code, wait) => ApiError::Rejected(*code, *wait).explain(locale),
            CheckAnswer::Offline => td_string!(locale, check_offline).to_owned(),
            CheckAnswer::Unclear => ApiError::Unclear(Unclear::NotAnAnswer).explain(locale),
        }
    }
}

/// Asks the gateway about `draft`'s number and amount with the unlocked key. `None` when the
/// key is missing or locked: nothing was signed or sent.
pub async fn check_number(session: KeySession, draft: &PaymentDraft) -> Option<CheckAnswer> {
    match session.ask(Step::Check(draft.payment())).await {
        Ok(response) => Some(CheckAnswer::from_response(response)),
        Err(error) => CheckAnswer::from_error(error),
    }
}

/// Where a check is: on its way, or answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckState {
    Asking,
    Answered(CheckAnswer),
}

/// The check's answer under the form: a status, or an alert when the number will not do.
#[component]
pub fn CheckResult(state: CheckState) -> impl IntoView {
    let i18n = use_i18n();
    let answer = match state {
        CheckState::Asking => {
            return view! {
                <div id="pay-check-result" class="check-result" role="status" data-code="asking">
                    <span class="spinner" aria-hidden="true"></span>
                    {tr!(check_asking)}
                </div>
            }
            .into_any();
        }
        CheckState::Answered(answer) => answer,
    };
    let tone = match &answer {
        CheckAnswer::Known(_) | CheckAnswer::NotAsked => "check-result result ok",
        CheckAnswer::Refused(..) | CheckAnswer::Rejected(..) => "check-result result bad",
        CheckAnswer::Offline | CheckAnswer::Unclear => "check-result result warn",
    };
    let fields = match &answer {
        CheckAnswer::Known(account) => account.fields.clone(),
        _ => Vec::new(),
    };
    let role = if answer.is_alert() { "alert" } else { "status" };
    let code = answer.code_name();
    let exists = answer.exists().map(|e| e.to_string());
    view! {
        <div id="pay-check-result" class=tone role=role data-code=code data-exists=exists>
            <p id="pay-check-text">{move || answer.text(i18n.get_locale())}</p>
            {(!fields.is_empty()).then(|| view! {
                <dl id="pay-check-fields" class="figures">
                    {fields
                        .into_iter()
                        .map(|(name, value)| view! { <dt>{name}</dt><dd>{value}</dd> })
                        .collect_view()}
                </dl>
            })}
        </div>
    }
    .into_any()
}
