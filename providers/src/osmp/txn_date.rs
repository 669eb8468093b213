//! `txn_date`: when the aggregator took the payment, as `YYYYMMDDHHMMSS`.
//!
//! The protocol gives no zone; providers read it as local time. We write Kazakhstan time as a
//! fixed UTC+5 with no daylight saving: the whole country has been on UTC+5 since March 2024
//! and Kazakhstan has not observed DST since 2005, so a fixed offset is exact for new payments.

use time::{OffsetDateTime, UtcOffset};

/// Kazakhstan's offset from UTC, in seconds (UTC+5).
const KAZAKHSTAN_OFFSET_SECONDS: i32 = 5 * 3600;

/// Why a time could not be written or read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxnDateError {
    #[error("{0} ms is not a time that can be written as txn_date")]
    OutOfRange(i64),
    #[error("txn_date {0:?} is not 14 digits YYYYMMDDHHMMSS")]
    Malformed(String),
}

/// Writes a UTC time in milliseconds as Kazakhstan local `YYYYMMDDHHMMSS` (milliseconds dropped).
pub fn format_txn_date(utc_ms: i64) -> Result<String, TxnDateError> {
    let offset =
        UtcOffset::from_whole_seconds(KAZAKHSTAN_OFFSET_SECONDS).expect("UTC+5 is a valid offset");
    let nanos = i128::from(utc_ms) * 1_000_000;
    let local = OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|_| TxnDateError::OutOfRange(utc_ms))?
        .to_offset(offset);
    if !(0..=9999).contains(&local.year()) {
        return Err(TxnDateError::OutOfRange(utc_ms));
    }
    Ok(format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute(),
        local.second()
    ))
}

/// Checks that a received `txn_date` has the protocol's shape (the emulator keeps it as text).
pub fn check_txn_date(text: &str) -> Result<(), TxnDateError> {
    if text.len() == 14 && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(TxnDateError::Malformed(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_kazakhstan_time() {
        // 2024-03-01T19:30:05.999Z is 2024-03-02 00:30:05 in Almaty.
        assert_eq!(
            format_txn_date(1_709_321_405_999).unwrap(),
            "20240302003005"
        );
        assert_eq!(format_txn_date(0).unwrap(), "19700101050000");
    }

    #[test]
    fn checks_shape() {
        assert!(check_txn_date("20240302003005").is_ok());
        assert!(check_txn_date("2024030200300").is_err());
        assert!(check_txn_date("2024-03-02T00:30").is_err());
    }
}
