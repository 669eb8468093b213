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
        Ok(Answer::Accepted { fields, .. }) => {
            let (holder, fields): (Vec<_>, Vec<_>) = fields
                .into_iter()
                .partition(|(name, _)| matches!(name.as_str(), "fio" | "name" | "holder"));
            Some((
                ResultCode::Ok,
                AccountCheck {
                    exists: true,
                    holder: holder.into_iter().next().map(|(_, value)| value),
                    fields,
                    refusal: None,
                },
            ))
        }
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
