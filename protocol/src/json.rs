//! Reading JSON bytes as text.
//!
//! serde_json has one reader for bytes and another for text, and every type is compiled once per
//! reader it is read with. The app reads its stored records (IndexedDB) as text, so reading the
//! gateway's answers as text too keeps one copy of each reader in the app's module (issue 14).

use serde::de::{DeserializeOwned, Error as _};

/// Reads `bytes` as JSON text, the way `serde_json::from_slice` would.
pub fn from_bytes<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    serde_json::from_str(as_text(bytes)?)
}

/// The type-independent part of [`from_bytes`], compiled once.
#[inline(never)]
fn as_text(bytes: &[u8]) -> serde_json::Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| serde_json::Error::custom("the JSON is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_from_slice_reads_and_refuses_what_is_not_text() {
        let read: Vec<String> = from_bytes(r#"["тиын", "a\u00e9"]"#.as_bytes()).unwrap();
        assert_eq!(read, ["тиын", "aé"]);
        assert!(from_bytes::<Vec<String>>(b"[\"\xff\"]").is_err());
        assert!(from_bytes::<Vec<String>>(b"[1,").is_err());
    }
}
