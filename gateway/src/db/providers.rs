//! The provider catalogue as stored: what `GET /api/v1/providers` serves and what a payment is
//! checked against.

use sqlx::{AnyConnection, AnyPool, Row, any::AnyRow};
use tolem_protocol::{
    account::AccountKind,
    providers::{ProviderGroup, ProviderInfo},
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
    let providers = rows
        .iter()
        .map(provider_from_row)
        .collect::<Result<_, _>>()?;
    let updated_at_ms: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(MAX(updated_at_ms), 0) AS BIGINT) FROM providers")
            .fetch_one(pool)
            .await?;
    Ok((providers, updated_at_ms))
}

/// The active provider with this code: an inactive one cannot be paid, as if it did not exist.
pub async fn active_provider(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<ProviderInfo>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {PROVIDER_COLUMNS} FROM providers WHERE code = $1 AND active = 1"
    ))
    .bind(code)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(provider_from_row).transpose()
}
