//! Sums on the wire: tenge with two decimals and a dot ("10.45"), integer tiyn everywhere else.
//!
//! No floats anywhere: 0.1 + 0.2 is not 0.3 in binary, and a tiyn lost in conversion is a
//! reconciliation difference with the provider.

/// Why a sum's text was not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SumError {
    #[error("the sum is empty")]
    Empty,
    #[error("the sum {0:?} is not tenge with at most two decimals after a dot, like 10.45")]
    NotASum(String),
    #[error("the sum {0:?} is too large")]
    TooLarge(String),
}

/// Writes tiyn as the protocol's text: always two decimals, a dot, no grouping (1045 → "10.45").
pub fn format_sum(tiyn: i64) -> String {
    let sign = if tiyn < 0 { "-" } else { "" };
    let abs = tiyn.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Reads the protocol's text as tiyn, strictly: digits, then optionally a dot and one or two
/// digits ("10", "10.4", "10.45"). Signs, commas, spaces, exponents and a third decimal are
/// refused rather than guessed at, since a misread sum moves the wrong money.
pub fn parse_sum(text: &str) -> Result<i64, SumError> {
    if text.is_empty() {
        return Err(SumError::Empty);
    }
    let not_a_sum = || SumError::NotASum(text.to_owned());
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > 2 {
        return Err(not_a_sum());
    }
    if text.contains('.') && fraction.is_empty() {
        return Err(not_a_sum());
    }
    let too_large = || SumError::TooLarge(text.to_owned());
    let tenge: i64 = whole.parse().map_err(|_| too_large())?;
    let tiyn: i64 = match fraction.len() {
        0 => 0,
        1 => i64::from(fraction.as_bytes()[0] - b'0') * 10,
        _ => fraction.parse().map_err(|_| not_a_sum())?,
    };
    tenge
        .checked_mul(100)
        .and_then(|t| t.checked_add(tiyn))
        .ok_or_else(too_large)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_two_decimals() {
        assert_eq!(format_sum(1045), "10.45");
        assert_eq!(format_sum(5), "0.05");
        assert_eq!(format_sum(0), "0.00");
        assert_eq!(format_sum(500_000_00), "500000.00");
        assert_eq!(format_sum(-150), "-1.50");
    }

    #[test]
    fn parses_what_it_formats() {
        for tiyn in [0, 1, 9, 10, 99, 100, 1045, 123_456_789_01, i64::MAX] {
            assert_eq!(parse_sum(&format_sum(tiyn)), Ok(tiyn), "{tiyn}");
        }
    }

    #[test]
    fn parses_short_forms() {
        assert_eq!(parse_sum("10"), Ok(1000));
        assert_eq!(parse_sum("10.4"), Ok(1040));
        assert_eq!(parse_sum("0.05"), Ok(5));
        assert_eq!(parse_sum("007.00"), Ok(700));
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "", ".5", "10.", "10.456", "-1.00", "+1.00", "1,00", " 1.00", "1.00 ", "1e3", "1.0.0",
            "NaN", "１.00",
        ] {
            assert!(parse_sum(bad).is_err(), "{bad:?} was read");
        }
        assert_eq!(
            parse_sum("92233720368547758.08"),
            Err(SumError::TooLarge("92233720368547758.08".into()))
        );
        assert!(matches!(
            parse_sum("99999999999999999999999"),
            Err(SumError::TooLarge(_))
        ));
    }
}
