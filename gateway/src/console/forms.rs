//! Reading console forms: the posted fields as text, amounts in tenge, dates, and where to go
//! back to.
//!
//! Every form struct has only `String` fields with `#[serde(default)]`, so decoding never fails
//! on a missing field; a body that cannot be decoded at all reads as an empty form, whose
//! missing CSRF token then refuses it with 403 like any forged post.

use axum::{Form, extract::rejection::FormRejection};
use serde::de::DeserializeOwned;

/// The most tiyn an amount field takes: 10 billion tenge, far above any real top-up or limit,
/// far below overflow.
const MAX_TIYN: i64 = 1_000_000_000_000;

/// The posted form, or an empty one when it could not be decoded.
pub fn read<T: Default + DeserializeOwned>(form: Result<Form<T>, FormRejection>) -> T {
    form.map(|Form(form)| form).unwrap_or_default()
}

/// Tenge as people type them — `1000`, `1 000`, `1000.5`, `1 000,50` — in tiyn. `None` for
/// anything else: a sign, letters, more than two decimals, zero is allowed (the caller decides).
pub fn parse_tenge(text: &str) -> Option<i64> {
    let text: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
        .collect();
    let (whole, fraction) = match text.split_once(['.', ',']) {
        Some((whole, fraction)) => (whole, fraction),
        None => (text.as_str(), ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 13 || !digits(whole) {
        return None;
    }
    if fraction.len() > 2 || !digits(fraction) || (text.len() > whole.len() && fraction.is_empty())
    {
        return None;
    }
    let cents = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<i64>().ok()? * 10,
        _ => fraction.parse::<i64>().ok()?,
    };
    let tiyn = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)?;
    (tiyn <= MAX_TIYN).then_some(tiyn)
}

/// An optional limit: empty = no limit (`Ok(None)`); otherwise more than zero tenge.
pub fn parse_limit(text: &str) -> Result<Option<i64>, ()> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match parse_tenge(text) {
        Some(tiyn) if tiyn > 0 => Ok(Some(tiyn)),
        _ => Err(()),
    }
}

/// A trimmed text of 1 to `max` characters, without control characters.
pub fn required_text(text: &str, max: usize) -> Option<String> {
    let text = text.trim();
    let length = text.chars().count();
    (length > 0 && length <= max && !text.chars().any(char::is_control)).then(|| text.to_owned())
}

/// A trimmed text of at most `max` characters (possibly empty), without control characters.
pub fn optional_text(text: &str, max: usize) -> Option<String> {
    let text = text.trim();
    (text.chars().count() <= max && !text.chars().any(char::is_control)).then(|| text.to_owned())
}

/// A date typed as `YYYY-MM-DD` (what `<input type="date">` sends).
pub use crate::display::parse_date;

/// Where a form asks to go back to after it is done: one of the console's own pages only,
/// never another site (an open redirect would help phishing).
pub fn back_to(asked: &str, default: &str) -> String {
    let safe = asked.starts_with("/console/")
        && !asked.contains("//")
        && !asked.contains('\\')
        && asked.bytes().all(|b| b.is_ascii_graphic());
    if safe { asked } else { default }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenge_as_people_type_them() {
        for (text, tiyn) in [
            ("1000", 100_000),
            ("1 000", 100_000),
            ("1\u{a0}000,5", 100_050),
            ("1000.05", 100_005),
            (" 0.99 ", 99),
            ("0", 0),
        ] {
            assert_eq!(parse_tenge(text), Some(tiyn), "{text}");
        }
        for text in [
            "",
            "-5",
            "1.234",
            "1e3",
            "1,",
            ".5",
            "abc",
            "99999999999999",
        ] {
            assert_eq!(parse_tenge(text), None, "{text}");
        }
        assert_eq!(parse_limit(""), Ok(None));
        assert_eq!(parse_limit("0"), Err(()));
        assert_eq!(parse_limit("5"), Ok(Some(500)));
    }

    #[test]
    fn texts_dates_and_ways_back() {
        assert_eq!(required_text("  Киоск  ", 10).as_deref(), Some("Киоск"));
        assert_eq!(required_text("   ", 10), None);
        assert_eq!(required_text("a\nb", 10), None);
        assert_eq!(required_text("abcdef", 5), None);
        assert_eq!(optional_text("", 5).as_deref(), Some(""));
        assert_eq!(parse_date("2025-03-01").unwrap().to_string(), "2025-03-01");
        assert_eq!(parse_date("2025-02-30"), None);
        assert_eq!(back_to("/console/keys", "/x"), "/console/keys");
        for evil in [
            "https://evil.example/",
            "//evil.example",
            "/console//evil",
            "/api",
        ] {
            assert_eq!(
                back_to(evil, "/console/points"),
                "/console/points",
                "{evil}"
            );
        }
    }
}
