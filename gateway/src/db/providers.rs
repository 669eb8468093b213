//! The provider catalogue as stored: what `GET /api/v1/providers` serves and what a payment is
//! checked against.

use std::collections::HashMap;

use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};
use tolem_protocol::{
    account::{AccountKind, AccountRule},
    codes::ResultCode,
    providers::{ProviderGroup, ProviderInfo},
};

use super::{
    batch::{Batch, Done, Slot},
    lists::rows_in_into,
};

const PROVIDER_COLUMNS: &str =
    "code, name, short_label, grp, account_kind, account_rule, min_tiyn, max_tiyn";

fn decode_error(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {what} {value:?}").into())
}

fn provider_from_row(row: &AnyRow) -> Result<ProviderInfo, sqlx::Error> {
    let group: String = row.try_get("grp")?;
    let kind: String = row.try_get("account_kind")?;
    Ok(ProviderInfo {
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        short_label: row.try_get("short_label")?,
        group: match group.as_str() {
            "mobile" => ProviderGroup::Mobile,
            "internet" => ProviderGroup::Internet,
            "utilities" => ProviderGroup::Utilities,
            other => return Err(decode_error("provider group", other)),
        },
        account_kind: match kind.as_str() {
            "phone" => AccountKind::Phone,
            "account" => AccountKind::Account,
            other => return Err(decode_error("account kind", other)),
        },
        account_rule: row.try_get("account_rule")?,
        min_tiyn: row.try_get("min_tiyn")?,
        max_tiyn: row.try_get("max_tiyn")?,
    })
}

/// Whether `provider`'s stored account rule can be read. One that cannot (typed into the
/// database by hand, or written by a later version) would let any digits through, the phone's
/// check and the gateway's alike: such a provider is treated as switched off — out of the
/// phones' catalogue, its payments refused with 914 — and the operator is told in the log.
fn rule_readable(provider: &ProviderInfo) -> bool {
    match provider.account_rule.parse::<AccountRule>() {
        Ok(_) => true,
        Err(error) => {
            tracing::error!(
                provider = %provider.code,
                %error,
                "the provider's account rule cannot be read: it takes no payments until the \
                 operator saves it again"
            );
            false
        }
    }
}

/// The active providers, by group and code (the phone sorts by name itself, in its language's
/// order, which differs between SQLite and PostgreSQL collations), and when the
/// catalogue last changed (the latest change of any provider, active or not, so deactivating
/// one counts too).
pub async fn catalogue(pool: &AnyPool) -> Result<(Vec<ProviderInfo>, i64), sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {PROVIDER_COLUMNS} FROM providers WHERE active = 1 ORDER BY grp, code"
    ))
    .fetch_all(pool)
    .await?;
    let mut providers = rows
        .iter()
        .map(provider_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    providers.retain(rule_readable);
    let updated_at_ms: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(MAX(updated_at_ms), 0) AS BIGINT) FROM providers")
            .fetch_one(pool)
            .await?;
    Ok((providers, updated_at_ms))
}

/// The provider a payment may be made to: `Err(UnknownProvider)` (908) when there is no such
/// provider, `Err(ProviderDisabled)` (914) when the operator switched it off.
pub async fn payable_provider(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Result<ProviderInfo, ResultCode>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {PROVIDER_COLUMNS}, active FROM providers WHERE code = $1"
    ))
    .bind(code)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => payable_from_row(&row),
        None => Ok(Err(ResultCode::UnknownProvider)),
    }
}

/// [`payable_provider`] for each of `codes` (at least one), in one statement of `batch` (a
/// group of payments screens against them all under the write lock). Read the answer with
/// [`payable_found`].
pub fn payable_into<'q>(batch: &mut Batch<'q>, codes: &[&'q str]) -> Slot {
    let select = format!("SELECT {PROVIDER_COLUMNS}, active FROM providers WHERE code");
    rows_in_into(batch, &select, codes)
}

/// What [`payable_into`]'s statement found. A code without a provider is not in the map: 908.
pub fn payable_found(
    done: &mut [Done],
    slot: Slot,
) -> Result<HashMap<String, Result<ProviderInfo, ResultCode>>, sqlx::Error> {
    let mut payable = HashMap::new();
    for row in slot.take(done).rows {
        payable.insert(row.try_get("code")?, payable_from_row(&row)?);
    }
    Ok(payable)
}

/// A provider's row with its `active` column: the provider, or 914 when switched off or its
/// account rule cannot be read ([`rule_readable`]).
fn payable_from_row(row: &AnyRow) -> Result<Result<ProviderInfo, ResultCode>, sqlx::Error> {
    let active: i64 = row.try_get("active")?;
    if active == 0 {
        return Ok(Err(ResultCode::ProviderDisabled));
    }
    let provider = provider_from_row(row)?;
    Ok(if rule_readable(&provider) {
        Ok(provider)
    } else {
        Err(ResultCode::ProviderDisabled)
    })
}
