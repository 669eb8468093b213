//! The payment form's rules, apart from its looks: what each field must hold, the live split of
//! the typed amount into provider amount, commission and customer amount, and the draft that is
//! signed once every field is right. Nothing is sent while a field is wrong.

use tolem_outbox::record::PaymentDraft;
use tolem_protocol::account::AccountError;
use tolem_protocol::commission::{CommissionSettings, Split};
use tolem_protocol::messages::COMMENT_MAX_CHARS;
use tolem_protocol::providers::ProviderInfo;

use crate::money::{AmountError, parse_tenge};

/// Which amount the cashier types; the other one follows from the commission.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AmountSide {
    /// The cash taken from the customer (the commission comes out of it or on top of what the
    /// provider gets, as the formula says).
    #[default]
    Customer,
    /// What the provider is credited.
    Provider,
}

/// What is wrong with the typed amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmountProblem {
    /// Not an amount at all.
    Unreadable(AmountError),
    /// Zero, or so small that nothing is left for the provider.
    Zero,
    /// The provider takes amounts from `min` to `max` (tiyn, credited to the provider).
    OutOfRange { min: i64, max: i64 },
}

/// The fields that are wrong, each with its reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors {
    pub account: Option<AccountError>,
    pub amount: Option<AmountProblem>,
    /// The comment has this many characters, more than allowed.
    pub comment_chars: Option<usize>,
}

/// The split of `amount_tiyn` typed on `side`, under the provider's commission settings.
pub fn split_for(settings: &CommissionSettings, side: AmountSide, amount_tiyn: i64) -> Split {
    match side {
        AmountSide::Customer => settings.from_customer(amount_tiyn),
        AmountSide::Provider => settings.from_provider(amount_tiyn),
    }
}

/// The live split for what is typed now, if it reads as an amount.
pub fn live_split(settings: &CommissionSettings, side: AmountSide, typed: &str) -> Option<Split> {
    parse_tenge(typed)
        .ok()
        .filter(|tiyn| *tiyn > 0)
        .map(|tiyn| split_for(settings, side, tiyn))
}

fn check_amount(
    provider: &ProviderInfo,
    settings: &CommissionSettings,
    side: AmountSide,
    typed: &str,
) -> Result<Split, AmountProblem> {
    let tiyn = parse_tenge(typed).map_err(AmountProblem::Unreadable)?;
    if tiyn == 0 {
        return Err(AmountProblem::Zero);
    }
    let split = split_for(settings, side, tiyn);
    if split.provider_tiyn <= 0 {
        return Err(AmountProblem::Zero);
    }
    if !provider.accepts_amount(split.provider_tiyn) {
        return Err(AmountProblem::OutOfRange {
            min: provider.min_tiyn,
            max: provider.max_tiyn,
        });
    }
    Ok(split)
}

/// Checks every field; the draft to sign, or what is wrong with each field.
pub fn check_form(
    provider: &ProviderInfo,
    settings: &CommissionSettings,
    account: &str,
    side: AmountSide,
    amount: &str,
    comment: &str,
) -> Result<PaymentDraft, FieldErrors> {
    let account = provider.check_account(account);
    let split = check_amount(provider, settings, side, amount);
    let comment = comment.trim();
    let comment_chars = comment.chars().count();
    let comment_ok = comment_chars <= COMMENT_MAX_CHARS;
    match (account, split) {
        (Ok(account), Ok(split)) if comment_ok => Ok(PaymentDraft {
            provider: provider.code.clone(),
            provider_name: provider.name.clone(),
            account,
            split,
            comment: (!comment.is_empty()).then(|| comment.to_owned()),
        }),
        (account, split) => Err(FieldErrors {
            account: account.err(),
            amount: split.err(),
            comment_chars: (!comment_ok).then_some(comment_chars),
        }),
    }
}
