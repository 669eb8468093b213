//! The provider catalogue as the operator keeps it: adding a provider, editing it, switching it
//! off and on, and a dealer's own commission rate for it.
//!
//! * What the operator types is read by [`ProviderInput::parse`] into a [`ProviderDraft`]:
//!   name, short label, category (`grp`: mobile, internet, utilities), account kind (phone or
//!   account), the account's digits (`10` or `6-12`) and prefixes (`701, 702`) — together the
//!   `account_rule` text the phone checks offline ([`tolem_protocol::account`]) — the format
//!   shown to the cashier (`7XX XXX XX XX`), the minimum and maximum in tenge (min > 0,
//!   max ≥ min) and the dealer commission in percent, up to two decimals (0–100 %).
//! * Two active providers of the same account kind may not claim the same numbers: digit
//!   ranges that intersect and a prefix of one that starts with a prefix of the other (or
//!   either without prefixes) are refused with [`ProviderError::OverlappingPrefixes`], naming
//!   each of them. An edit keeps the overlaps its provider already had (activ is Kcell's second
//!   brand and shares its prefixes on purpose); it may not make new ones.
//! * Every change sets `updated_at_ms`, which moves the catalogue's `updated_at_ms` and so
//!   the `ETag` phones revalidate with (`http/providers.rs`): they get the change on their
//!   next refresh. A switched-off provider leaves the phones' catalogue and refuses payments
//!   with 914 (`db::providers::payable_provider`).
//! * Each function writes its audit row in the caller's transaction: the caller commits both
//!   or neither.

use serde_json::json;
use sqlx::{AnyConnection, Row, any::AnyRow};
use tolem_protocol::account::{AccountKind, AccountRule};

use crate::audit::{self, Action, Actor, Event, change};

/// The most digits a rule allows (as [`AccountRule`]'s default).
const MAX_DIGITS: usize = 32;
/// The most tiyn a provider's maximum may be: 10 million tenge.
const MAX_TIYN: i64 = 1_000_000_000;

/// Why a change of the catalogue was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("bad provider code")]
    BadCode,
    #[error("provider code taken")]
    DuplicateCode,
    #[error("bad name")]
    BadName,
    #[error("bad short label")]
    BadShortLabel,
    #[error("bad category")]
    BadCategory,
    #[error("bad account kind")]
    BadAccountKind,
    #[error("bad digits")]
    BadDigits,
    #[error("phone numbers have 10 digits")]
    PhoneDigits,
    #[error("bad prefixes")]
    BadPrefixes,
    #[error("bad account format")]
    BadFormat,
    #[error("bad minimum")]
    BadMin,
    #[error("bad maximum")]
    BadMax,
    #[error("maximum below minimum")]
    MaxBelowMin,
    #[error("rate outside 0-100 %")]
    BadRate,
    /// The active providers (code, name) whose numbers the rule would share.
    #[error("account prefixes overlap with {others:?}")]
    OverlappingPrefixes { others: Vec<(String, String)> },
    #[error("no such provider")]
    NotFound,
    #[error("no such dealer")]
    UnknownDealer,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl ProviderError {
    /// The key of the message in the console's catalogues (`locales/*.yml`). The message of
    /// [`ProviderError::OverlappingPrefixes`] takes `%{other}`.
    pub fn message_key(&self) -> &'static str {
        match self {
            ProviderError::BadCode => "providers.bad_code",
            ProviderError::DuplicateCode => "providers.duplicate_code",
            ProviderError::BadName => "providers.bad_name",
            ProviderError::BadShortLabel => "providers.bad_short_label",
            ProviderError::BadCategory => "providers.bad_category",
            ProviderError::BadAccountKind => "providers.bad_account_kind",
            ProviderError::BadDigits => "providers.bad_digits",
            ProviderError::PhoneDigits => "providers.phone_digits",
            ProviderError::BadPrefixes => "providers.bad_prefixes",
            ProviderError::BadFormat => "providers.bad_format",
            ProviderError::BadMin => "providers.bad_min",
            ProviderError::BadMax => "providers.bad_max",
            ProviderError::MaxBelowMin => "providers.max_below_min",
            ProviderError::BadRate => "providers.bad_rate",
            ProviderError::OverlappingPrefixes { .. } => "providers.overlapping_prefixes",
            ProviderError::NotFound => "providers.not_found",
            ProviderError::UnknownDealer => "providers.unknown_dealer",
            ProviderError::Database(_) => "errors.internal",
        }
    }
}

/// The provider's fields as typed in the console (any text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderInput {
    pub name: String,
    pub short_label: String,
    pub category: String,
    pub account_kind: String,
    pub digits: String,
    pub prefixes: String,
    pub account_format: String,
    pub min: String,
    pub max: String,
    pub rate: String,
}

/// A provider's fields, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderDraft {
    pub name: String,
    pub short_label: String,
    /// `mobile`, `internet` or `utilities` (the column `grp`).
    pub category: &'static str,
    pub account_kind: AccountKind,
    pub digits_min: usize,
    pub digits_max: usize,
    pub prefixes: Vec<String>,
    pub account_format: String,
    pub min_tiyn: i64,
    pub max_tiyn: i64,
    pub rate_bp: i64,
}

impl ProviderInput {
    /// Checks every field; the first bad one is the error.
    pub fn parse(&self) -> Result<ProviderDraft, ProviderError> {
        let name = text(&self.name, 1, 100).ok_or(ProviderError::BadName)?;
        let short_label = text(&self.short_label, 1, 20).ok_or(ProviderError::BadShortLabel)?;
        let category = match self.category.trim() {
            "mobile" => "mobile",
            "internet" => "internet",
            "utilities" => "utilities",
            _ => return Err(ProviderError::BadCategory),
        };
        let account_kind = match self.account_kind.trim() {
            "phone" => AccountKind::Phone,
            "account" => AccountKind::Account,
            _ => return Err(ProviderError::BadAccountKind),
        };
        let (digits_min, digits_max) =
            parse_digits(&self.digits).ok_or(ProviderError::BadDigits)?;
        if account_kind == AccountKind::Phone && (digits_min, digits_max) != (10, 10) {
            return Err(ProviderError::PhoneDigits);
        }
        let prefixes =
            parse_prefixes(&self.prefixes, digits_min).ok_or(ProviderError::BadPrefixes)?;
        let account_format = text(&self.account_format, 0, 40).ok_or(ProviderError::BadFormat)?;
        let min_tiyn = parse_hundredths(&self.min)
            .filter(|tiyn| (1..=MAX_TIYN).contains(tiyn))
            .ok_or(ProviderError::BadMin)?;
        let max_tiyn = parse_hundredths(&self.max)
            .filter(|tiyn| (1..=MAX_TIYN).contains(tiyn))
            .ok_or(ProviderError::BadMax)?;
        if max_tiyn < min_tiyn {
            return Err(ProviderError::MaxBelowMin);
        }
        let rate_bp = parse_rate_bp(&self.rate).ok_or(ProviderError::BadRate)?;
        Ok(ProviderDraft {
            name,
            short_label,
            category,
            account_kind,
            digits_min,
            digits_max,
            prefixes,
            account_format,
            min_tiyn,
            max_tiyn,
            rate_bp,
        })
    }
}

impl ProviderDraft {
    /// The `account_rule` text: `digits=10;prefixes=701,702` or `digits=6-12`.
    pub fn account_rule(&self) -> String {
        let mut rule = if self.digits_min == self.digits_max {
            format!("digits={}", self.digits_min)
        } else {
            format!("digits={}-{}", self.digits_min, self.digits_max)
        };
        if !self.prefixes.is_empty() {
            rule.push_str(";prefixes=");
            rule.push_str(&self.prefixes.join(","));
        }
        rule
    }

    fn rule(&self) -> AccountRule {
        AccountRule {
            digits: self.digits_min..=self.digits_max,
            prefixes: self.prefixes.clone(),
        }
    }

    fn audit_json(&self) -> serde_json::Value {
        json!({
            "name": self.name,
            "short_label": self.short_label,
            "category": self.category,
            "account_kind": kind_text(self.account_kind),
            "account_rule": self.account_rule(),
            "account_format": self.account_format,
            "min_tiyn": self.min_tiyn,
            "max_tiyn": self.max_tiyn,
            "rate_bp": self.rate_bp,
        })
    }
}

/// A trimmed text of `min` to `max` characters without control characters.
fn text(typed: &str, min: usize, max: usize) -> Option<String> {
    let typed = typed.trim();
    let length = typed.chars().count();
    (length >= min && length <= max && !typed.chars().any(char::is_control))
        .then(|| typed.to_owned())
}

/// A provider code: 1 to 32 of `a-z`, `0-9` and `-`, starting with a letter or digit.
pub fn parse_code(typed: &str) -> Result<String, ProviderError> {
    let code = typed.trim();
    let good = !code.is_empty()
        && code.len() <= 32
        && !code.starts_with('-')
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if good {
        Ok(code.to_owned())
    } else {
        Err(ProviderError::BadCode)
    }
}

/// `10` or `6-12` (spaces allowed): 1 ≤ N ≤ M ≤ 32.
pub fn parse_digits(typed: &str) -> Option<(usize, usize)> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    let (min, max) = typed
        .split_once(['-', '–'])
        .unwrap_or((typed.as_str(), typed.as_str()));
    let number = |s: &str| -> Option<usize> {
        if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (min, max) = (number(min)?, number(max)?);
    (min >= 1 && min <= max && max <= MAX_DIGITS).then_some((min, max))
}

/// Comma-separated prefixes of digits, each shorter than or as long as the shortest number;
/// empty for none. Repeats are dropped.
pub fn parse_prefixes(typed: &str, digits_min: usize) -> Option<Vec<String>> {
    let mut prefixes: Vec<String> = Vec::new();
    for prefix in typed
        .split([',', ';', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        if prefix.len() > digits_min || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !prefixes.iter().any(|p| p == prefix) {
            prefixes.push(prefix.to_owned());
        }
    }
    (prefixes.len() <= 50).then_some(prefixes)
}

/// A non-negative number with up to two decimals (`.` or `,`), in hundredths: tenge → tiyn,
/// percent → basis points. `None` for a sign, letters, more decimals or an empty text.
fn parse_hundredths(typed: &str) -> Option<i64> {
    let typed: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
        .collect();
    let (whole, fraction) = typed.split_once(['.', ',']).unwrap_or((typed.as_str(), ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 12 || !digits(whole) || fraction.len() > 2 {
        return None;
    }
    if !digits(fraction) || (typed.len() > whole.len() && fraction.is_empty()) {
        return None;
    }
    let hundredths = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<i64>().ok()? * 10,
        _ => fraction.parse::<i64>().ok()?,
    };
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(hundredths)
}

/// A rate in percent (`1`, `1.5`, `0,25 %`), 0 to 100 with up to two decimals, in basis points.
pub fn parse_rate_bp(typed: &str) -> Option<i64> {
    let typed = typed.trim();
    let typed = typed.strip_suffix('%').unwrap_or(typed);
    parse_hundredths(typed).filter(|bp| (0..=10_000).contains(bp))
}

/// Basis points as percent, as typed back: `150` → `1.5`, `200` → `2`, `25` → `0.25`.
pub fn percent_text(bp: i64) -> String {
    let (whole, fraction) = (bp / 100, bp % 100);
    match fraction {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole}.{}", f / 10),
        f => format!("{whole}.{f:02}"),
    }
}

fn kind_text(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Phone => "phone",
        AccountKind::Account => "account",
    }
}

/// Whether two rules of the same account kind can accept the same number.
pub fn rules_overlap(a: &AccountRule, b: &AccountRule) -> bool {
    let lengths = a.digits.start().max(b.digits.start()) <= a.digits.end().min(b.digits.end());
    let prefixes = a.prefixes.is_empty()
        || b.prefixes.is_empty()
        || a.prefixes.iter().any(|p| {
            b.prefixes
                .iter()
                .any(|q| p.starts_with(q.as_str()) || q.starts_with(p.as_str()))
        });
    lengths && prefixes
}

/// A provider as the operator's pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub code: String,
    pub name: String,
    pub short_label: String,
    pub category: String,
    pub account_kind: String,
    pub account_rule: String,
    pub account_format: String,
    pub min_tiyn: i64,
    pub max_tiyn: i64,
    pub rate_bp: i64,
    pub active: bool,
}

impl Provider {
    /// What the edit form starts with.
    pub fn input(&self) -> ProviderInput {
        let rule: AccountRule = self.account_rule.parse().unwrap_or(AccountRule {
            digits: 1..=MAX_DIGITS,
            prefixes: Vec::new(),
        });
        let digits = if rule.digits.start() == rule.digits.end() {
            rule.digits.start().to_string()
        } else {
            format!("{}-{}", rule.digits.start(), rule.digits.end())
        };
        ProviderInput {
            name: self.name.clone(),
            short_label: self.short_label.clone(),
            category: self.category.clone(),
            account_kind: self.account_kind.clone(),
            digits,
            prefixes: rule.prefixes.join(", "),
            account_format: self.account_format.clone(),
            min: crate::display::tenge_plain(self.min_tiyn),
            max: crate::display::tenge_plain(self.max_tiyn),
            rate: percent_text(self.rate_bp),
        }
    }

    fn rule(&self) -> AccountRule {
        // A rule this gateway cannot read (its provider takes no payments: `db::providers`)
        // is compared as one that accepts any digits, so that the overlap check errs towards
        // refusing.
        self.account_rule.parse().unwrap_or(AccountRule {
            digits: 1..=MAX_DIGITS,
            prefixes: Vec::new(),
        })
    }

    fn audit_json(&self) -> serde_json::Value {
        json!({
            "name": self.name,
            "short_label": self.short_label,
            "category": self.category,
            "account_kind": self.account_kind,
            "account_rule": self.account_rule,
            "account_format": self.account_format,
            "min_tiyn": self.min_tiyn,
            "max_tiyn": self.max_tiyn,
            "rate_bp": self.rate_bp,
        })
    }
}

const COLUMNS: &str = "code, name, short_label, grp, account_kind, account_rule, account_format, \
     min_tiyn, max_tiyn, dealer_commission_bp, active";

fn from_row(row: &AnyRow) -> Result<Provider, sqlx::Error> {
    Ok(Provider {
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        short_label: row.try_get("short_label")?,
        category: row.try_get("grp")?,
        account_kind: row.try_get("account_kind")?,
        account_rule: row.try_get("account_rule")?,
        account_format: row.try_get("account_format")?,
        min_tiyn: row.try_get("min_tiyn")?,
        max_tiyn: row.try_get("max_tiyn")?,
        rate_bp: row.try_get("dealer_commission_bp")?,
        active: row.try_get::<i64, _>("active")? != 0,
    })
}

/// Every provider, active or not, by category and code.
pub async fn list(conn: &mut AnyConnection) -> Result<Vec<Provider>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM providers ORDER BY grp, code"
    ))
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The provider with this code, active or not.
pub async fn find(conn: &mut AnyConnection, code: &str) -> Result<Option<Provider>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM providers WHERE code = $1"))
        .bind(code)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Refuses a rule that shares numbers with an active provider other than `code` and not in
/// `allowed` (overlaps kept from before an edit), naming every such provider.
async fn refuse_overlaps(
    conn: &mut AnyConnection,
    code: &str,
    kind: AccountKind,
    rule: &AccountRule,
    allowed: &[String],
) -> Result<(), ProviderError> {
    let others: Vec<(String, String)> = list(conn)
        .await?
        .into_iter()
        .filter(|other| {
            other.active
                && other.code != code
                && other.account_kind == kind_text(kind)
                && !allowed.contains(&other.code)
                && rules_overlap(rule, &other.rule())
        })
        .map(|other| (other.code, other.name))
        .collect();
    if others.is_empty() {
        Ok(())
    } else {
        Err(ProviderError::OverlappingPrefixes { others })
    }
}

fn subject(code: &str) -> String {
    format!("provider:{code}")
}

/// Adds provider `code` (active at once) and its audit row.
pub async fn add(
    conn: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    draft: &ProviderDraft,
    now_ms: i64,
) -> Result<(), ProviderError> {
    let code = parse_code(code)?;
    if find(conn, &code).await?.is_some() {
        return Err(ProviderError::DuplicateCode);
    }
    refuse_overlaps(conn, &code, draft.account_kind, &draft.rule(), &[]).await?;
    sqlx::query(
        "INSERT INTO providers (code, name, short_label, grp, account_kind, account_rule, \
         account_format, min_tiyn, max_tiyn, dealer_commission_bp, active, updated_at_ms, \
         created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11)",
    )
    .bind(&code)
    .bind(&draft.name)
    .bind(&draft.short_label)
    .bind(draft.category)
    .bind(kind_text(draft.account_kind))
    .bind(draft.account_rule())
    .bind(&draft.account_format)
    .bind(draft.min_tiyn)
    .bind(draft.max_tiyn)
    .bind(draft.rate_bp)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let event = Event {
        action: Action::ProviderAdded,
        subject: subject(&code),
        details: json!({ "after": draft.audit_json() }),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    Ok(())
}

/// Replaces the fields of provider `code` with `draft`, and its audit row (before and after).
pub async fn edit(
    conn: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    draft: &ProviderDraft,
    now_ms: i64,
) -> Result<(), ProviderError> {
    let before = find(conn, code).await?.ok_or(ProviderError::NotFound)?;
    // The overlaps it already had are kept; only new ones are refused (checked for a
    // switched-off provider too: switching it on again does not check).
    let old_kind = match before.account_kind.as_str() {
        "phone" => AccountKind::Phone,
        _ => AccountKind::Account,
    };
    let had: Vec<String> = list(conn)
        .await?
        .into_iter()
        .filter(|other| {
            other.active
                && other.code != code
                && other.account_kind == kind_text(old_kind)
                && rules_overlap(&before.rule(), &other.rule())
        })
        .map(|other| other.code)
        .collect();
    refuse_overlaps(conn, code, draft.account_kind, &draft.rule(), &had).await?;
    sqlx::query(
        "UPDATE providers SET name = $2, short_label = $3, grp = $4, account_kind = $5, \
         account_rule = $6, account_format = $7, min_tiyn = $8, max_tiyn = $9, \
         dealer_commission_bp = $10, updated_at_ms = $11 WHERE code = $1",
    )
    .bind(code)
    .bind(&draft.name)
    .bind(&draft.short_label)
    .bind(draft.category)
    .bind(kind_text(draft.account_kind))
    .bind(draft.account_rule())
    .bind(&draft.account_format)
    .bind(draft.min_tiyn)
    .bind(draft.max_tiyn)
    .bind(draft.rate_bp)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let event = Event {
        action: Action::ProviderEdited,
        subject: subject(code),
        details: change(before.audit_json(), draft.audit_json()),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    Ok(())
}

/// Switches provider `code` off (`active = false`: phones stop offering it, payments get 914)
/// or on again. Returns whether it changed (switching off a provider that is off changes
/// nothing and writes no audit row).
///
/// Switching on does not check overlaps: the provider comes back as it was.
pub async fn set_active(
    conn: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    active: bool,
    now_ms: i64,
) -> Result<bool, ProviderError> {
    let changed = sqlx::query(
        "UPDATE providers SET active = $2, updated_at_ms = $3 WHERE code = $1 AND active <> $2",
    )
    .bind(code)
    .bind(i64::from(active))
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    if changed.rows_affected() == 0 {
        return match find(conn, code).await? {
            Some(_) => Ok(false),
            None => Err(ProviderError::NotFound),
        };
    }
    let event = Event {
        action: if active {
            Action::ProviderEnabled
        } else {
            Action::ProviderDisabled
        },
        subject: subject(code),
        details: change(json!({ "active": !active }), json!({ "active": active })),
    };
    audit::record_in(conn, actor, &event, now_ms).await?;
    Ok(true)
}

/// A dealer's own rate for a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealerRate {
    pub dealer_code: String,
    pub rate_bp: i64,
    pub updated_at_ms: i64,
}

/// The dealers with their own rate for `provider`, by dealer code.
pub async fn dealer_rates(
    conn: &mut AnyConnection,
    provider: &str,
) -> Result<Vec<DealerRate>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT dealer_code, rate_bp, updated_at_ms FROM dealer_rates WHERE provider = $1 \
         ORDER BY dealer_code",
    )
    .bind(provider)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DealerRate {
                dealer_code: row.try_get("dealer_code")?,
                rate_bp: row.try_get("rate_bp")?,
                updated_at_ms: row.try_get("updated_at_ms")?,
            })
        })
        .collect()
}

/// Sets dealer `dealer_code`'s own rate for `provider` (`Some` basis points) or clears it
/// (`None`: the provider's rate applies again), with its audit row. Dealer rates are not in
/// the phones' catalogue, so the catalogue does not change.
pub async fn set_dealer_rate(
    conn: &mut AnyConnection,
    actor: &Actor,
    provider: &str,
    dealer_code: &str,
    rate_bp: Option<i64>,
    now_ms: i64,
) -> Result<(), ProviderError> {
    if rate_bp.is_some_and(|bp| !(0..=10_000).contains(&bp)) {
        return Err(ProviderError::BadRate);
    }
    find(conn, provider).await?.ok_or(ProviderError::NotFound)?;
    let dealer: Option<String> = sqlx::query_scalar("SELECT code FROM dealers WHERE code = $1")
        .bind(dealer_code)
        .fetch_optional(&mut *conn)
        .await?;
    if dealer.is_none() {
        return Err(ProviderError::UnknownDealer);
    }
    let before: Option<i64> = sqlx::query_scalar(
        "SELECT rate_bp FROM dealer_rates WHERE dealer_code = $1 AND provider = $2",
    )
    .bind(dealer_code)
    .bind(provider)
    .fetch_optional(&mut *conn)
    .await?;
    match rate_bp {
        Some(bp) => {
            sqlx::query(
                "INSERT INTO dealer_rates (dealer_code, provider, rate_bp, updated_at_ms) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (dealer_code, provider) \
                 DO UPDATE SET rate_bp = $3, updated_at_ms = $4",
            )
            .bind(dealer_code)
            .bind(provider)
            .bind(bp)
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM dealer_rates WHERE dealer_code = $1 AND provider = $2")
                .bind(dealer_code)
                .bind(provider)
                .execute(&mut *conn)
                .await?;
        }
    }
    let event = Event {
        action: Action::DealerRate,
        subject: subject(provider),
        details: json!({
            "dealer": dealer_code,
            "before": { "rate_bp": before },
            "after": { "rate_bp": rate_bp },
        }),
    };
    // In the dealer's own trail too: the dealer sees what it will accrue change.
    let in_trail = Actor {
        dealer_code: Some(dealer_code.to_owned()),
        ..actor.clone()
    };
    audit::record_in(conn, &in_trail, &event, now_ms).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> AccountRule {
        text.parse().unwrap()
    }

    #[test]
    fn rates_in_percent_become_basis_points() {
        assert_eq!(parse_rate_bp("1"), Some(100));
        assert_eq!(parse_rate_bp("1.5"), Some(150));
        assert_eq!(parse_rate_bp("0,25 %"), Some(25));
        assert_eq!(parse_rate_bp("100"), Some(10_000));
        assert_eq!(parse_rate_bp("0"), Some(0));
        for bad in ["101", "-1", "100.01", "1.234", "", "abc", "1."] {
            assert_eq!(parse_rate_bp(bad), None, "{bad}");
        }
        for bp in [0, 25, 150, 200, 10_000, 105] {
            assert_eq!(parse_rate_bp(&percent_text(bp)), Some(bp));
        }
    }

    #[test]
    fn digits_and_prefixes_build_the_rule() {
        assert_eq!(parse_digits("10"), Some((10, 10)));
        assert_eq!(parse_digits(" 6 - 12 "), Some((6, 12)));
        for bad in ["0", "12-6", "x", "", "33", "1-"] {
            assert_eq!(parse_digits(bad), None, "{bad}");
        }
        assert_eq!(
            parse_prefixes("701, 702,701", 10),
            Some(vec!["701".to_owned(), "702".to_owned()])
        );
        assert_eq!(parse_prefixes("7a1", 10), None);
        assert_eq!(parse_prefixes("1234567", 6), None);
        let input = ProviderInput {
            name: "Izi".into(),
            short_label: "Izi".into(),
            category: "mobile".into(),
            account_kind: "phone".into(),
            digits: "10".into(),
            prefixes: "709, 706".into(),
            account_format: "7XX XXX XX XX".into(),
            min: "100".into(),
            max: "50 000".into(),
            rate: "1.5".into(),
        };
        let draft = input.parse().unwrap();
        assert_eq!(draft.account_rule(), "digits=10;prefixes=709,706");
        assert_eq!(
            (draft.min_tiyn, draft.max_tiyn, draft.rate_bp),
            (10_000, 5_000_000, 150)
        );
        let mut bad = input.clone();
        bad.max = "50".into();
        assert!(matches!(bad.parse(), Err(ProviderError::MaxBelowMin)));
        let mut bad = input;
        bad.digits = "6-12".into();
        assert!(matches!(bad.parse(), Err(ProviderError::PhoneDigits)));
    }

    #[test]
    fn codes_are_lowercase_letters_digits_and_dashes() {
        assert_eq!(parse_code(" izi-mobile2 ").unwrap(), "izi-mobile2");
        for bad in ["", "Kcell", "izi mobile", "-izi", "изи"] {
            assert!(parse_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overlaps_need_shared_lengths_and_prefixes() {
        let kcell = rule("digits=10;prefixes=701,702,775,778");
        assert!(rules_overlap(&kcell, &rule("digits=10;prefixes=7012")));
        assert!(rules_overlap(&rule("digits=10;prefixes=70"), &kcell));
        assert!(rules_overlap(&kcell, &rule("digits=10")));
        assert!(!rules_overlap(&kcell, &rule("digits=10;prefixes=705,771")));
        assert!(!rules_overlap(&rule("digits=6-9"), &rule("digits=10-12")));
        assert!(rules_overlap(&rule("digits=6-10"), &rule("digits=10-12")));
    }
}
