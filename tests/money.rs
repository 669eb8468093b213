//! Guards how the cashier's typing becomes money and numbers: tenge with up to two decimals,
//! grouped with spaces and a comma or a point, or with commas as the English screen writes
//! amounts (`2,020.00`), read into whole tiyn without floating point;
//! what is not an amount is refused with the reason; amounts and percentages written back for
//! the screen; phone numbers masked as `+7 (7xx) xxx-xx-xx` while typed.
#![cfg(target_arch = "wasm32")]

use tolem::format::{hours, phone_digits, phone_mask};
use tolem::i18n::Locale;
use tolem::money::{
    AmountError, format_percent, format_tenge, parse_percent, parse_tenge, percent_for_input,
    tenge_for_input,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn tenge_are_read_as_whole_tiyn() {
    for (typed, tiyn) in [
        ("1 000,50", 1_000_50),
        ("1000.5", 1_000_50),
        ("1000,05", 1_000_05),
        ("2000", 2_000_00),
        ("  2 000  ", 2_000_00),
        ("1\u{a0}500,75", 1_500_75),
        ("1\u{202f}500", 1_500_00),
        ("2 000 ₸", 2_000_00),
        ("0,01", 1),
        ("0", 0),
        ("100.", 100_00),
        ("0.1", 10),
        ("1 234 567,89", 1_234_567_89),
        // 0.1 + 0.2 is not 0.3 in floating point; here it is exact.
        ("0,30", 30),
    ] {
        assert_eq!(parse_tenge(typed), Ok(tiyn), "{typed:?}");
    }
}

#[wasm_bindgen_test]
fn amounts_grouped_as_the_english_screen_writes_them_are_read() {
    for (typed, tiyn) in [
        ("2,020.00", 2_020_00),
        ("2,020.00 ₸", 2_020_00),
        ("1,000.5", 1_000_50),
        ("1,000.", 1_000_00),
        ("12,345.67", 12_345_67),
        ("1,234,567.89", 1_234_567_89),
        ("10,000,000,000.00", tolem::money::MAX_TIYN),
    ] {
        assert_eq!(parse_tenge(typed), Ok(tiyn), "{typed:?}");
    }
    // Whatever the screen shows in any language is read back as the same amount.
    for locale in [Locale::ru, Locale::kk, Locale::en] {
        for tiyn in [
            0,
            1,
            99,
            100_000,
            1_000_50,
            123_456_78,
            1_234_567_89,
            9_999_999_999_99,
        ] {
            let shown = format_tenge(tiyn, locale);
            assert_eq!(parse_tenge(&shown), Ok(tiyn), "{locale:?}: {shown:?}");
        }
    }
}

#[wasm_bindgen_test]
fn a_comma_groups_only_where_a_point_follows_it_in_groups_of_three() {
    // Without a point after it a comma still starts the decimals, in every language: `1,5` is
    // one and a half, `1,500` is refused rather than read as 1.5 or 1 500.
    assert_eq!(parse_tenge("1,5"), Ok(1_50));
    assert_eq!(parse_tenge("1,500"), Err(AmountError::TooManyDecimals));
    assert_eq!(parse_tenge("1,000,000"), Err(AmountError::NotANumber));
    for (typed, error) in [
        ("12,34.50", AmountError::NotANumber),
        ("1,0000.50", AmountError::NotANumber),
        ("1234,567.00", AmountError::NotANumber),
        (",500.00", AmountError::NotANumber),
        ("0,500.00", AmountError::NotANumber),
        ("1,,000.00", AmountError::NotANumber),
        ("1,000.000,00", AmountError::NotANumber),
        ("1,000.50.5", AmountError::NotANumber),
        ("1.000,50", AmountError::NotANumber),
        ("1,000.505", AmountError::TooManyDecimals),
        ("10,000,000,000.01", AmountError::TooLarge),
    ] {
        assert_eq!(parse_tenge(typed), Err(error), "{typed:?}");
    }
}

#[wasm_bindgen_test]
fn what_is_not_an_amount_is_refused_with_the_reason() {
    for (typed, error) in [
        ("", AmountError::Empty),
        ("   ", AmountError::Empty),
        ("₸", AmountError::Empty),
        ("abc", AmountError::NotANumber),
        ("-5", AmountError::NotANumber),
        ("+5", AmountError::NotANumber),
        ("1.000,50", AmountError::NotANumber),
        (",5", AmountError::NotANumber),
        ("5 тг", AmountError::NotANumber),
        ("1e3", AmountError::NotANumber),
        ("12,345", AmountError::TooManyDecimals),
        ("0,001", AmountError::TooManyDecimals),
        ("99999999999999999999", AmountError::TooLarge),
        ("10000000001", AmountError::TooLarge),
    ] {
        assert_eq!(parse_tenge(typed), Err(error), "{typed:?}");
    }
}

/// The amounts a text gives as examples: runs of digits, with the spaces, commas and points
/// between them (`"2000 or 1 500,50."` gives `2000` and `1 500,50`).
fn examples_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut run = String::new();
    for c in text.chars() {
        let part_of_number = c.is_ascii_digit()
            || !run.is_empty() && matches!(c, ' ' | '\u{a0}' | '\u{202f}' | ',' | '.');
        if part_of_number {
            run.push(c);
        } else if !run.is_empty() {
            found.push(
                run.trim_end_matches(|c: char| !c.is_ascii_digit())
                    .to_owned(),
            );
            run.clear();
        }
    }
    if !run.is_empty() {
        found.push(
            run.trim_end_matches(|c: char| !c.is_ascii_digit())
                .to_owned(),
        );
    }
    found
}

#[wasm_bindgen_test]
fn the_examples_of_an_amount_the_cashier_is_shown_are_amounts() {
    use tolem::messages::Explain;
    // What the form says under a field that holds no number: each example must be one the
    // field takes (English once said "1,500.50" when the first comma always started decimals).
    for locale in [Locale::ru, Locale::kk, Locale::en] {
        let message = AmountError::NotANumber.explain(locale);
        let examples = examples_in(&message);
        assert!(
            examples.len() >= 2,
            "{locale:?}: no examples in {message:?}"
        );
        for example in examples {
            assert!(
                parse_tenge(&example).is_ok(),
                "{locale:?}: {example:?} from {message:?} is refused: {:?}",
                parse_tenge(&example)
            );
        }
    }
}

#[wasm_bindgen_test]
fn amounts_are_written_for_the_screen_and_for_typing_again() {
    assert_eq!(format_tenge(2_020_00, Locale::ru), "2\u{a0}020,00\u{a0}₸");
    assert_eq!(
        format_tenge(1_234_567_89, Locale::kk),
        "1\u{a0}234\u{a0}567,89\u{a0}₸"
    );
    assert_eq!(format_tenge(2_020_00, Locale::en), "2,020.00\u{a0}₸");
    assert_eq!(format_tenge(5, Locale::ru), "0,05\u{a0}₸");
    assert_eq!(
        format_tenge(100_000_00, Locale::ru),
        "100\u{a0}000,00\u{a0}₸"
    );
    assert_eq!(tenge_for_input(2_000_00, Locale::ru), "2000");
    assert_eq!(tenge_for_input(2_000_50, Locale::ru), "2000,50");
    assert_eq!(tenge_for_input(2_000_05, Locale::en), "2000.05");
    for tiyn in [1, 99, 100, 1_000_50, 123_456_78] {
        assert_eq!(parse_tenge(&format_tenge(tiyn, Locale::ru)), Ok(tiyn));
        assert_eq!(parse_tenge(&tenge_for_input(tiyn, Locale::en)), Ok(tiyn));
    }
}

#[wasm_bindgen_test]
fn percentages_are_basis_points() {
    assert_eq!(parse_percent("1,5"), Ok(150));
    assert_eq!(parse_percent("2 %"), Ok(200));
    assert_eq!(parse_percent("0.25"), Ok(25));
    assert_eq!(parse_percent("1,555"), Err(AmountError::TooManyDecimals));
    assert_eq!(percent_for_input(150, Locale::ru), "1,5");
    assert_eq!(percent_for_input(105, Locale::en), "1.05");
    assert_eq!(percent_for_input(200, Locale::ru), "2");
    assert_eq!(format_percent(150, Locale::ru), "1,5\u{a0}%");
}

#[wasm_bindgen_test]
fn phone_numbers_are_masked_as_typed() {
    assert_eq!(phone_mask(""), "");
    assert_eq!(phone_mask("7"), "+7 (7");
    assert_eq!(phone_mask("701"), "+7 (701");
    assert_eq!(phone_mask("7011"), "+7 (701) 1");
    assert_eq!(phone_mask("701123"), "+7 (701) 123");
    assert_eq!(phone_mask("7011234"), "+7 (701) 123-4");
    assert_eq!(phone_mask("7011234567"), "+7 (701) 123-45-67");
    // What the field holds after each keystroke turns back into the same digits.
    for typed in [
        "7011234567",
        "+7 (701) 123-45-67",
        "8 701 123 45 67",
        "+77011234567",
        "87011234567",
    ] {
        assert_eq!(phone_digits(typed), "7011234567", "{typed:?}");
    }
    // Deleting the last character deletes a digit, never sticks on a bracket or a dash.
    assert_eq!(phone_mask(&phone_digits("+7 (701) ")), "+7 (701");
    assert_eq!(phone_mask(&phone_digits("+7 (701) 123-")), "+7 (701) 123");
    // The habit of dialling 8 first is forgiven; more than ten digits are not kept.
    assert_eq!(phone_digits("8"), "");
    assert_eq!(phone_digits("+7 (701) 123-45-678"), "7011234567");
}

#[wasm_bindgen_test]
fn hours_are_whole_or_have_one_decimal() {
    const HOUR: i64 = 3_600_000;
    assert_eq!(hours(24 * HOUR), "24");
    assert_eq!(hours(HOUR + HOUR / 2), "1.5");
    assert_eq!(hours(HOUR / 4), "0.3");
    // 1 h 57 min is 1.95 h: rounded to a tenth it is two whole hours, not "2.0".
    assert_eq!(hours(HOUR + 57 * 60_000), "2");
    assert_eq!(hours(0), "0");
}
