//! Numbers and times as the cashier reads them: phone numbers in the `+7 (7xx) xxx-xx-xx` mask
//! while they are typed, and times in the phone's own time zone (storage keeps UTC).

use tolem_protocol::account::AccountKind;

use crate::i18n::Locale;

/// The national digits of a phone number as typed so far (at most ten): what follows `+7` when
/// the mask is there, or the digits of a typed or pasted `8 701 …` / `7 701 …` number without
/// their trunk prefix.
pub fn phone_digits(typed: &str) -> String {
    let (rest, masked) = match typed.trim_start().strip_prefix("+7") {
        Some(rest) => (rest, true),
        None => (typed, false),
    };
    let mut digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    // Kazakh numbers start with 7: a leading 8 is the old trunk prefix, typed out of habit,
    // and an unmasked 11-digit number carries a trunk prefix of 7 or 8.
    if digits.starts_with('8') || (!masked && digits.len() == 11 && digits.starts_with('7')) {
        digits.remove(0);
    }
    digits.truncate(10);
    digits
}

/// The mask `+7 (701) 123-45-67`, filled as far as `digits` go and no further, so deleting at
/// the end always deletes a digit rather than getting stuck on a bracket or a dash.
pub fn phone_mask(digits: &str) -> String {
    if digits.is_empty() {
        return String::new();
    }
    let mut masked = String::from("+7 (");
    for (i, digit) in digits.chars().take(10).enumerate() {
        match i {
            3 => masked.push_str(") "),
            6 | 8 => masked.push('-'),
            _ => {}
        }
        masked.push(digit);
    }
    masked
}

/// A stored number as the cashier reads it: phones in the mask, account numbers as they are.
pub fn account_for_display(kind: AccountKind, number: &str) -> String {
    match kind {
        AccountKind::Phone => phone_mask(&phone_digits(number)),
        AccountKind::Account => number.to_owned(),
    }
}

/// A stored account for display when its kind is no longer known (a provider gone from the
/// catalogue): ten digits starting with 7 are a phone.
pub fn account_guess(number: &str) -> String {
    if number.len() == 10 && number.starts_with('7') && number.bytes().all(|b| b.is_ascii_digit()) {
        phone_mask(number)
    } else {
        number.to_owned()
    }
}

/// Milliseconds as hours with at most one decimal, rounded to the nearest tenth: `24`, `1.5`.
/// Computed in whole numbers: formatting a float brings core's float printing (~8 KiB brotli)
/// into the download, and this was its only user.
pub fn hours(ms: i64) -> String {
    let tenths = (ms.max(0) + 180_000) / 360_000;
    if tenths % 10 == 0 {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

/// The language tag the browser formats dates with.
fn date_locale(locale: Locale) -> &'static str {
    match locale {
        Locale::ru => "ru-RU",
        Locale::kk => "kk-KZ",
        Locale::en => "en-GB",
    }
}

/// A UTC time (milliseconds) as a date and time in the phone's time zone: `05.11.2026, 14:03:12`.
pub fn local_date_time(ms: i64, locale: Locale) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    let options = js_sys::Object::new();
    for (key, value) in [
        ("year", "numeric"),
        ("month", "2-digit"),
        ("day", "2-digit"),
        ("hour", "2-digit"),
        ("minute", "2-digit"),
        ("second", "2-digit"),
    ] {
        let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
    }
    let _ = js_sys::Reflect::set(&options, &"hour12".into(), &false.into());
    date.to_locale_string(date_locale(locale), &options)
        .as_string()
        .unwrap_or_default()
}
