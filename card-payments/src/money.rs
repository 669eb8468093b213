//! Money on the wire: our tiyn (`i64`, 1 tenge = 100 tiyn) to the services' decimal text and
//! back, exactly.
//!
//! Both services write amounts as decimal numbers with a dot ("1500.00"). Nothing here goes
//! through a float: an amount is parsed as text, digit by digit, and a fraction of a tiyn is
//! refused rather than rounded, because a signed amount that changed in a rounding is a
//! different payment.

/// Why an amount cannot be written or read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("the amount {0:?} is not a decimal number of tenge (digits, a dot, digits)")]
    NotDecimal(String),
    #[error("the amount {0:?} has a fraction of a tiyn")]
    FractionOfTiyn(String),
    #[error("the amount {0:?} is too large")]
    TooLarge(String),
    #[error("the amount is negative: {0} tiyn")]
    Negative(i64),
}

/// `tiyn` as tenge with exactly two decimals, e.g. `150000` → `"1500.00"`, `1` → `"0.01"`.
/// TipTop Pay's notifications use this form ("dot as separator, two digits after dot",
/// developers.cloudpayments.ru, Notifications); Robokassa's OutSum is hashed exactly as sent,
/// so one fixed form keeps the signature and the link in step.
pub fn tenge_text(tiyn: i64) -> Result<String, AmountError> {
    if tiyn < 0 {
        return Err(AmountError::Negative(tiyn));
    }
    Ok(format!("{}.{:02}", tiyn / 100, tiyn % 100))
}

/// Reads a decimal amount of tenge: `"1500"`, `"1500.5"`, `"1500.50"`. Digits past the second
/// decimal must be zeros (`"10.000000"` is 10 tenge; `"10.005"` is refused): services pad
/// amounts with zeros (TipTop Pay's API answers show `10.00000`), never with real fractions of
/// a tiyn. No sign, exponent, spaces or comma.
pub fn parse_tenge(text: &str) -> Result<i64, AmountError> {
    let not_decimal = || AmountError::NotDecimal(text.to_owned());
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_decimal());
    }
    let mut tiyn: i64 = 0;
    let too_large = || AmountError::TooLarge(text.to_owned());
    for digit in whole.bytes() {
        tiyn = tiyn
            .checked_mul(10)
            .and_then(|t| t.checked_add(i64::from(digit - b'0')))
            .ok_or_else(too_large)?;
    }
    tiyn = tiyn.checked_mul(100).ok_or_else(too_large)?;
    if let Some(fraction) = fraction {
        if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_decimal());
        }
        let digits = fraction.as_bytes();
        if digits.iter().skip(2).any(|&b| b != b'0') {
            return Err(AmountError::FractionOfTiyn(text.to_owned()));
        }
        let tens = digits.first().map_or(0, |b| i64::from(b - b'0'));
        let ones = digits.get(1).map_or(0, |b| i64::from(b - b'0'));
        tiyn = tiyn.checked_add(tens * 10 + ones).ok_or_else(too_large)?;
    }
    Ok(tiyn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_two_decimals() {
        assert_eq!(tenge_text(1).unwrap(), "0.01");
        assert_eq!(tenge_text(150_000).unwrap(), "1500.00");
        assert_eq!(tenge_text(100_000_000).unwrap(), "1000000.00");
        assert_eq!(tenge_text(0).unwrap(), "0.00");
        assert_eq!(tenge_text(-1), Err(AmountError::Negative(-1)));
        assert_eq!(
            tenge_text(i64::MAX).unwrap(),
            "92233720368547758.07",
            "the largest amount still reads back"
        );
    }

    #[test]
    fn reads_exactly() {
        assert_eq!(parse_tenge("0.01"), Ok(1));
        assert_eq!(parse_tenge("1500"), Ok(150_000));
        assert_eq!(parse_tenge("1500.5"), Ok(150_050));
        assert_eq!(parse_tenge("1500.50"), Ok(150_050));
        assert_eq!(parse_tenge("10.00000"), Ok(1000));
        assert_eq!(parse_tenge("1000000.00"), Ok(100_000_000));
        assert_eq!(parse_tenge("92233720368547758.07"), Ok(i64::MAX));
        for tiyn in [0, 1, 9, 10, 99, 100, 101, 123_456_789, i64::MAX] {
            assert_eq!(parse_tenge(&tenge_text(tiyn).unwrap()), Ok(tiyn));
        }
    }

    #[test]
    fn refuses_what_is_not_an_exact_amount() {
        assert!(matches!(
            parse_tenge("10.005"),
            Err(AmountError::FractionOfTiyn(_))
        ));
        assert!(matches!(
            parse_tenge("92233720368547758.08"),
            Err(AmountError::TooLarge(_))
        ));
        for bad in [
            "", ".5", "5.", "1,50", "-1.00", "+1", "1e3", " 1", "1 ", "1.0.0", "١٢",
        ] {
            assert!(
                matches!(parse_tenge(bad), Err(AmountError::NotDecimal(_))),
                "{bad:?}"
            );
        }
    }
}
