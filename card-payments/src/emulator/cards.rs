//! The emulator's test cards: what a card number does on the hosted page.
//!
//! The first eight are TipTop Pay's (CloudPayments') documented test cards
//! (<https://developers.cloudpayments.ru/en/#testing>, "Testing"; «Тестирование» in the
//! Russian and the TipTop Pay Kazakhstan documents), with their documented results. Robokassa publishes no test card numbers (its test mode lets the
//! shop pick an outcome), so its emulated page takes the same list. The last four are the
//! emulator's own, for refusals the documented list lacks; their ReasonCodes are from the
//! documented error codes (<https://developers.cloudpayments.ru/en/#error-codes>).
//!
//! Any other number that passes the Luhn check pays with 3-D Secure; one that fails it is
//! refused by the form. An expiry date in the past is refused as an expired card (5054)
//! whatever the number.

use time::OffsetDateTime;

/// What authorizing the card gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    /// Refused with this ReasonCode.
    Declined(u32),
}

/// A test card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestCard {
    pub number: &'static str,
    pub three_ds: bool,
    pub outcome: Outcome,
    /// Documented by the service (`true`) or the emulator's own.
    pub documented: bool,
}

const fn card(
    number: &'static str,
    three_ds: bool,
    outcome: Outcome,
    documented: bool,
) -> TestCard {
    TestCard {
        number,
        three_ds,
        outcome,
        documented,
    }
}

/// Insufficient Funds.
const NO_FUNDS: Outcome = Outcome::Declined(5051);

pub const TEST_CARDS: [TestCard; 12] = [
    card("4242424242424242", true, Outcome::Approved, true),
    card("5555555555554444", true, Outcome::Approved, true),
    card("4012888888881881", true, NO_FUNDS, true),
    card("5105105105105100", true, NO_FUNDS, true),
    card("4111111111111111", false, Outcome::Approved, true),
    card("5200828282828210", false, Outcome::Approved, true),
    card("4000056655665556", false, NO_FUNDS, true),
    card("5404000000000043", false, NO_FUNDS, true),
    // Transaction Not Permitted: "card is not allowed for online payments".
    card("4000000000000051", false, Outcome::Declined(5057), false),
    // Expired Card.
    card("4000000000000069", false, Outcome::Declined(5054), false),
    // Exceed Withdrawal Frequency: "card transactions limit is exceeded".
    card("4000000000000077", false, Outcome::Declined(5065), false),
    // Incorrect CVV.
    card("4000000000000085", false, Outcome::Declined(5082), false),
];

/// What a (Luhn-valid) number does: a test card's behaviour, or approval with 3-D Secure.
pub fn lookup(number: &str) -> TestCard {
    TEST_CARDS
        .iter()
        .copied()
        .find(|card| card.number == number)
        .unwrap_or(TestCard {
            number: "",
            three_ds: true,
            outcome: Outcome::Approved,
            documented: false,
        })
}

/// The digits of a typed card number (spaces and dashes dropped), if it is 13–19 digits and
/// passes the Luhn check.
pub fn card_number(typed: &str) -> Option<String> {
    let digits: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if !(13..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            match (i % 2, d * 2) {
                (1, doubled) if doubled > 9 => doubled - 9,
                (1, doubled) => doubled,
                _ => d,
            }
        })
        .sum();
    sum.is_multiple_of(10).then_some(digits)
}

/// A typed expiry `MM/YY` (or `MMYY`, `MM/YYYY`) as (month, full year).
pub fn expiry(typed: &str) -> Option<(u8, i32)> {
    let digits: String = typed.chars().filter(|c| c.is_ascii_digit()).collect();
    let (month, year) = match digits.len() {
        4 => (&digits[..2], format!("20{}", &digits[2..])),
        6 => (&digits[..2], digits[2..].to_owned()),
        _ => return None,
    };
    let month: u8 = month.parse().ok().filter(|m| (1..=12).contains(m))?;
    Some((month, year.parse().ok()?))
}

/// Whether a card valid through `(month, year)` has expired by `now` (valid to the end of
/// its month).
pub fn expired(month: u8, year: i32, now: OffsetDateTime) -> bool {
    (year, month) < (now.year(), u8::from(now.month()))
}

/// The payment system, as notifications name it ("Visa, MasterCard, Maestro or MIR").
pub fn card_type(number: &str) -> &'static str {
    match number.as_bytes().first() {
        Some(b'4') => "Visa",
        Some(b'5') => "MasterCard",
        Some(b'2') if number.starts_with("220") => "MIR",
        Some(b'2') => "MasterCard",
        Some(b'6') => "Maestro",
        _ => "Unknown",
    }
}

/// A number grouped by four for reading: `4242 4242 4242 4242`.
pub fn grouped(number: &str) -> String {
    number
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_test_card_passes_luhn() {
        for card in TEST_CARDS {
            assert_eq!(card_number(card.number).as_deref(), Some(card.number));
        }
        assert_eq!(
            card_number("4242 4242-4242 4242").as_deref(),
            Some("4242424242424242")
        );
        assert_eq!(card_number("4242424242424241"), None);
        assert_eq!(card_number("4242"), None);
        assert_eq!(card_number("4242x42424242424"), None);
    }

    #[test]
    fn looks_up_behaviour() {
        assert_eq!(lookup("4012888888881881").outcome, Outcome::Declined(5051));
        assert!(lookup("4012888888881881").three_ds);
        assert!(!lookup("4111111111111111").three_ds);
        let other = lookup("4000000000000010");
        assert!(other.three_ds && other.outcome == Outcome::Approved);
    }

    #[test]
    fn reads_expiry_and_knows_the_past() {
        assert_eq!(expiry("12/30"), Some((12, 2030)));
        assert_eq!(expiry("0931"), Some((9, 2031)));
        assert_eq!(expiry("09/2031"), Some((9, 2031)));
        assert_eq!(expiry("13/30"), None);
        assert_eq!(expiry("1/30"), None);
        let now = time::Date::from_calendar_date(2026, time::Month::March, 15)
            .unwrap()
            .midnight()
            .assume_utc();
        assert!(expired(2, 2026, now));
        assert!(!expired(3, 2026, now));
        assert!(expired(12, 2025, now));
        assert!(!expired(1, 2027, now));
    }

    #[test]
    fn names_and_groups() {
        assert_eq!(card_type("4242"), "Visa");
        assert_eq!(card_type("5555"), "MasterCard");
        assert_eq!(card_type("2200"), "MIR");
        assert_eq!(grouped("4242424242424242"), "4242 4242 4242 4242");
    }
}
