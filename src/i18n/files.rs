//! The catalogues as files: read from `src/i18n/locales/*.json`, and — for the languages a release
//! build fetches on choice — written as the file the app downloads.
//!
//! Shared, by `#[path]`, between the app's `build.rs` (which compiles the keys and the Russian
//! texts in and names the other files) and `xtask finish-dist` (which writes those files into
//! `dist/`): one function decides a file's name and bytes, so the two cannot disagree.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

/// One catalogue: every text by its key, keys in sorted order (the order of `Key` and of the
/// fetched file's array).
pub type Texts = BTreeMap<String, String>;

/// The three catalogues, as [`read`] finds them.
pub struct Catalogues {
    pub russian: Texts,
    pub kazakh: Texts,
    pub english: Texts,
}

/// Reads `ru.json`, `kk.json` and `en.json` from `dir` and checks that Kazakh and English have
/// exactly Russian's keys: the app finds a text by its key's place among them.
pub fn read(dir: &Path) -> Result<Catalogues, String> {
    let read_one = |locale: &str| {
        let path = dir.join(format!("{locale}.json"));
        let json = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        parse(&path.display().to_string(), &json)
    };
    let catalogues = Catalogues {
        russian: read_one("ru")?,
        kazakh: read_one("kk")?,
        english: read_one("en")?,
    };
    same_keys(&catalogues.russian, "kk.json", &catalogues.kazakh)?;
    same_keys(&catalogues.russian, "en.json", &catalogues.english)?;
    Ok(catalogues)
}

/// Reads a catalogue: a flat JSON object of texts. `name` says which file in an error.
pub fn parse(name: &str, json: &str) -> Result<Texts, String> {
    serde_json::from_str(json).map_err(|e| {
        format!("{name}: not a flat JSON object of texts ({e}); nesting and plurals are not used")
    })
}

/// Checks that `other` has exactly the keys of the Russian catalogue, naming what differs.
pub fn same_keys(russian: &Texts, name: &str, other: &Texts) -> Result<(), String> {
    let missing: Vec<&str> = russian
        .keys()
        .filter(|k| !other.contains_key(*k))
        .map(String::as_str)
        .collect();
    let extra: Vec<&str> = other
        .keys()
        .filter(|k| !russian.contains_key(*k))
        .map(String::as_str)
        .collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{name} differs from ru.json: missing {missing:?}, not in ru.json {extra:?}"
    ))
}

/// The file the app fetches for a catalogue: its address (content-hashed, so the service worker
/// caches it as immutable and no build ever reads another build's texts) and its bytes, a JSON
/// array of the texts in key order.
pub fn fetched(locale: &str, texts: &Texts) -> (String, Vec<u8>) {
    let values: Vec<&String> = texts.values().collect();
    let bytes = serde_json::to_vec(&values).expect("strings serialise");
    let hash: String = Sha256::digest(&bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    (format!("/i18n/{locale}-{hash}.json"), bytes)
}
