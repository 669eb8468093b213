//! Amounts as the cashier types and reads them: tenge with up to two decimals, read from the
//! text into whole tiyn without ever passing through floating point, and written back for the
//! screen and the receipt.
//!
//! Accepted: `2000`, `2 000`, `2000,5`, `2000.50`, `1 000,50 ₸`, `2,020.00`. Spaces (including
//! the no-break and thin spaces a phone's keyboard or a copied amount may bring) group
//! thousands; a comma or a point starts the decimals. Commas also group thousands where a point
//! follows them, as the English screen writes amounts: a comma cannot start decimals that a
//! point starts again. A comma alone (`1,500`) stays decimals, so it is refused as three
//! decimals rather than read as either 1.5 or 1 500.

use crate::i18n::Locale;

/// The largest amount anyone may type: 10 billion tenge. Far beyond any payment, well within
/// what JavaScript's numbers (and IndexedDB's records) hold exactly.
pub const MAX_TIYN: i64 = 10_000_000_000_00;

/// Why a typed amount is not one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("the amount is empty")]
    Empty,
    #[error("not a number")]
    NotANumber,
    #[error("more than two decimals")]
    TooManyDecimals,
    #[error("the amount is too large")]
    TooLarge,
}

/// Reads an amount in tenge (`"1 000,50"`) as whole tiyn (`100050`). Zero is an amount here;
/// the form decides whether it is allowed.
pub fn parse_tenge(text: &str) -> Result<i64, AmountError> {
    parse_hundredths(text.trim().trim_end_matches('₸'), MAX_TIYN)
}

/// Reads a percentage with up to two decimals (`"1,5"`) as basis points (`150`).
pub fn parse_percent(text: &str) -> Result<i64, AmountError> {
    parse_hundredths(text.trim().trim_end_matches('%'), 100_000_00)
}

/// A decimal number with at most two decimals, in hundredths, at most `max`.
fn parse_hundredths(text: &str, max: i64) -> Result<i64, AmountError> {
    let compact: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}'))
        .collect();
    if compact.is_empty() {
        return Err(AmountError::Empty);
    }
    let compact = without_comma_groups(&compact)?;
    let (whole, decimals) = match compact.find([',', '.']) {
        Some(at) => (&compact[..at], &compact[at + 1..]),
        None => (compact.as_str(), ""),
    };
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(decimals) {
        return Err(AmountError::NotANumber);
    }
    if decimals.len() > 2 {
        return Err(AmountError::TooManyDecimals);
    }
    // Digits only, so the only way to fail is overflow.
    let whole: i64 = whole.parse().map_err(|_| AmountError::TooLarge)?;
    let fraction: i64 = format!("{decimals:0<2}")
        .parse()
        .map_err(|_| AmountError::NotANumber)?;
    let total = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(fraction))
        .ok_or(AmountError::TooLarge)?;
    if total > max {
        return Err(AmountError::TooLarge);
    }
    Ok(total)
}

/// `2,020.00` as `2020.00`: commas before the decimal point group thousands, as
/// [`format_tenge`] writes them in English (one to three digits not starting with 0, then
/// groups of exactly three). Text without both a comma and a later point is left as
/// it is; a comma after the point (`1.000,50`) is left for the caller to refuse.
fn without_comma_groups(compact: &str) -> Result<String, AmountError> {
    let (Some(comma), Some(point)) = (compact.find(','), compact.rfind('.')) else {
        return Ok(compact.to_owned());
    };
    if comma > point {
        return Ok(compact.to_owned());
    }
    let mut groups = compact[..point].split(',');
    let first = groups.next().unwrap_or_default();
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let first_ok = (1..=3).contains(&first.len()) && !first.starts_with('0') && digits(first);
    if !first_ok || !groups.all(|g| g.len() == 3 && digits(g)) {
        return Err(AmountError::NotANumber);
    }
    Ok(compact[..point].replace(',', "") + &compact[point..])
}

/// Tiyn as tenge for the screen: `2 020,00 ₸` in Russian and Kazakh, `2,020.00 ₸` in English
/// (no-break spaces keep an amount on one line).
pub fn format_tenge(tiyn: i64, locale: Locale) -> String {
    format!("{}\u{a0}₸", format_hundredths(tiyn, locale))
}

/// Tiyn as a number to type back into a field (`2000,50`), without grouping.
pub fn tenge_for_input(tiyn: i64, locale: Locale) -> String {
    let (whole, cents) = (tiyn / 100, tiyn % 100);
    let point = decimal_point(locale);
    if cents == 0 {
        whole.to_string()
    } else {
        format!("{whole}{point}{cents:02}")
    }
}

/// Basis points as a percentage to type back (`1,5`).
pub fn percent_for_input(basis_points: i64, locale: Locale) -> String {
    let text = tenge_for_input(basis_points, locale);
    // 150 → "1,50" → "1,5": a percentage reads better without a trailing zero.
    match text.find([',', '.']) {
        Some(_) => text.trim_end_matches('0').to_owned(),
        None => text,
    }
}

/// Basis points as a percentage for the screen (`1,5 %`).
pub fn format_percent(basis_points: i64, locale: Locale) -> String {
    format!("{}\u{a0}%", percent_for_input(basis_points, locale))
}

fn decimal_point(locale: Locale) -> char {
    match locale {
        Locale::en => '.',
        _ => ',',
    }
}

fn format_hundredths(value: i64, locale: Locale) -> String {
    let group = match locale {
        Locale::en => ',',
        _ => '\u{a0}',
    };
    let sign = if value < 0 { "-" } else { "" };
    let value = value.unsigned_abs();
    let digits = (value / 100).to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(group);
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}{}{:02}", decimal_point(locale), value % 100)
}
