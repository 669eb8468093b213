//! How stored values are shown to people, on every face (console pages, public pages, e-mail):
//! times in Kazakhstan's local time with the offset written out, instants in ISO 8601 UTC, and
//! tiyn as tenge. Integer arithmetic only for money.

/// The offset the console shows times in: Kazakhstan, UTC+5 all year since 1 March 2024.
const LOCAL_OFFSET_MS: i64 = crate::payments::BUSINESS_DAY_OFFSET_MS;

fn date_time(ms: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// A stored time (unix milliseconds, UTC) as the console shows it: in Kazakhstan's time, with
/// the offset written out — `2025-03-01 14:15:07 UTC+5`. Stored times are UTC; the dealer
/// reads local time, and the label leaves no doubt which (Kazakhstan had two zones until 2024;
/// a point may be abroad).
pub fn local_time(ms: i64) -> String {
    match date_time(ms.saturating_add(LOCAL_OFFSET_MS)) {
        Some(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC+5",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        None => "—".to_owned(),
    }
}

/// A stored time as ISO 8601 in UTC with milliseconds, `2025-03-01T09:15:07.000Z`: for CSV
/// files and machine-readable attributes.
pub fn utc_iso(ms: i64) -> String {
    match date_time(ms) {
        Some(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        None => String::new(),
    }
}

/// Tiyn as tenge with two decimals and thousands apart: `-1 234 567.89`. Integer arithmetic
/// only.
pub fn tenge(tiyn: i64) -> String {
    let sign = if tiyn < 0 { "-" } else { "" };
    let abs = tiyn.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            // A no-break space: an amount never wraps across lines.
            grouped.push('\u{a0}');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}.{:02}", abs % 100)
}

/// Tiyn as tenge with two decimals and nothing else (`-1234567.89`): for CSV and form fields.
pub fn tenge_plain(tiyn: i64) -> String {
    let sign = if tiyn < 0 { "-" } else { "" };
    let abs = tiyn.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// A date written `YYYY-MM-DD` (a form's `<input type="date">`, a command's `--day`).
pub fn parse_date(text: &str) -> Option<time::Date> {
    let mut parts = text.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_local_and_labelled() {
        assert_eq!(local_time(0), "1970-01-01 05:00:00 UTC+5");
        assert_eq!(local_time(1_740_820_507_000), "2025-03-01 14:15:07 UTC+5");
        // 21:30 UTC is already the next day in Kazakhstan.
        assert_eq!(local_time(1_740_864_600_000), "2025-03-02 02:30:00 UTC+5");
        assert_eq!(utc_iso(1_740_820_507_042), "2025-03-01T09:15:07.042Z");
    }

    #[test]
    fn money_is_shown_in_tenge() {
        assert_eq!(tenge(0), "0.00");
        assert_eq!(tenge(5), "0.05");
        assert_eq!(tenge(123_456_789), "1\u{a0}234\u{a0}567.89");
        assert_eq!(tenge(-100_000), "-1\u{a0}000.00");
        assert_eq!(tenge_plain(-123_456_789), "-1234567.89");
        assert_eq!(tenge_plain(50), "0.50");
    }
}
