//! *Check the number* (CyberplatMobile manual §10): before the cashier presses Execute, the
//! gateway asks the provider whether the account exists and may be paid (OSMP `command=check`)
//! and passes on what it shows — the holder's name, a debt. Nothing is stored and no money
//! moves. A provider that is not connected, does not answer in time or answers "later" leaves
//! the check to the gateway's own rules: the payment may still go, and its delivery will tell.

use std::time::Duration;

use sqlx::AnyPool;
use tolem_protocol::{
    codes::ResultCode,
    messages::{AccountCheck, ProviderRefusal},
};
use tolem_providers::adapter::{Answer, CheckOrder};

use super::connections::Adapters;

/// The longest a phone waits for the provider's answer to a check.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The most display fields passed on, and the longest name and value of each (in characters):
/// a check answer shows a name and a debt or two, and the phone reads answers of at most
/// 16 KiB — a provider's answer may be 64 KiB.
const FIELDS_MAX: usize = 8;
const FIELD_NAME_MAX_CHARS: usize = 32;
const FIELD_VALUE_MAX_CHARS: usize = 128;

/// What the provider said: the code to answer the phone with, and the account's details.
/// `None`: the provider was not asked or gave no final answer.
pub async fn ask(
    pool: &AnyPool,
    adapters: &Adapters,
    provider: &str,
    account: &str,
    amount_tiyn: i64,
) -> Option<(ResultCode, AccountCheck)> {
    let adapter = match adapters.of(pool, provider).await {
        Ok(Some(adapter)) => adapter,
        Ok(None) => return None,
        Err(error) => {
            tracing::warn!(%provider, %error, "check: the provider's connection is not usable");
            return None;
        }
    };
    // A check moves nothing at the provider; its txn_id is not the idempotency key of any
    // payment, and providers take 0 for it (as the OSMP reference clients send).
    let order = CheckOrder {
        txn_id: 0,
        account: account.to_owned(),
        amount_tiyn,
    };
    let exchange = tokio::time::timeout(CHECK_TIMEOUT, adapter.check(&order))
        .await
        .ok()?;
    match exchange.result {
        Ok(Answer::Accepted { fields, .. }) => Some((ResultCode::Ok, shown(fields))),
        Ok(Answer::Refused {
            refusal, result, ..
        }) => {
            let code = match refusal {
                ProviderRefusal::AccountNotFound
                | ProviderRefusal::BadAccountFormat
                | ProviderRefusal::AccountInactive => ResultCode::BadAccount,
                ProviderRefusal::AmountTooSmall | ProviderRefusal::AmountTooLarge => {
                    ResultCode::BadAmount
                }
                ProviderRefusal::PaymentForbidden => ResultCode::ProviderDisabled,
                // "Another error" says nothing about this account: the gateway's rules decide.
                ProviderRefusal::Other => {
                    tracing::info!(%provider, result, "check: the provider answered an error");
                    return None;
                }
            };
            Some((
                code,
                AccountCheck {
                    exists: false,
                    holder: None,
                    fields: Vec::new(),
                    refusal: Some(refusal),
                },
            ))
        }
        Ok(Answer::Later { .. }) | Err(_) => None,
    }
}

/// An account the provider knows, with its display fields as the phone shows them: the holder's
/// name apart, at most [`FIELDS_MAX`] others, each cut to its length.
fn shown(fields: Vec<(String, String)>) -> AccountCheck {
    let (holder, fields): (Vec<_>, Vec<_>) = fields
        .into_iter()
        .map(|(name, value)| {
            (
                cut(&name, FIELD_NAME_MAX_CHARS),
                cut(&value, FIELD_VALUE_MAX_CHARS),
            )
        })
        .partition(|(name, _)| matches!(name.as_str(), "fio" | "name" | "holder"));
    AccountCheck {
        exists: true,
        holder: holder.into_iter().next().map(|(_, value)| value),
        fields: fields.into_iter().take(FIELDS_MAX).collect(),
        refusal: None,
    }
}

/// `text` cut to `most` characters, an ellipsis saying so.
fn cut(text: &str, most: usize) -> String {
    if text.chars().count() <= most {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(most - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_providers_display_fields_are_passed_on_within_bounds() {
        let mut fields = vec![("fio".to_owned(), "Ж".repeat(10_000))];
        fields.extend((0..100).map(|i| (format!("debt{i}").repeat(20), "1".repeat(10_000))));
        let check = shown(fields);
        let holder = check.holder.unwrap();
        assert_eq!(holder.chars().count(), FIELD_VALUE_MAX_CHARS);
        assert!(holder.ends_with('…'));
        assert_eq!(check.fields.len(), FIELDS_MAX);
        assert!(check.fields.iter().all(|(name, value)| {
            name.chars().count() == FIELD_NAME_MAX_CHARS
                && value.chars().count() == FIELD_VALUE_MAX_CHARS
        }));
        let short = shown(vec![
            ("name".into(), "Иванов И.".into()),
            ("debt".into(), "1500.00".into()),
        ]);
        assert_eq!(short.holder.as_deref(), Some("Иванов И."));
        assert_eq!(
            short.fields,
            vec![("debt".to_owned(), "1500.00".to_owned())]
        );
    }
}
