//! The naming contract between the app's build and whoever serves or caches its files.
//!
//! Trunk names every built asset `<stem>-<16 hex digits><rest>` (`tolem-1a2b…_bg.wasm`): the hash
//! is of the content, so such a file never changes under its name and may be cached forever.
//! Everything else (index.html, sw.js, the manifest, icons) keeps its name across versions.

/// Lengths of the content hash in a name: 16 hex digits, or fewer when a hash is printed
/// without its leading zeros (down to 12, which rules out words and sizes like `icon-192`).
const HASH_LEN: std::ops::RangeInclusive<usize> = 12..=16;

/// Whether `path` (a URL path or a file name, also with a `.br`/`.gz` suffix) names a
/// content-hashed, never-changing file.
pub fn is_content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(base, hash)| {
        !base.is_empty()
            && HASH_LEN.contains(&hash.len())
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::is_content_hashed;

    #[test]
    fn trunk_output_names_are_hashed() {
        assert!(is_content_hashed("tolem-1a2b3c4d5e6f7a8b.js"));
        assert!(is_content_hashed("/tolem-1a2b3c4d5e6f7a8b_bg.wasm"));
        assert!(is_content_hashed("style-0123456789abcdef.css"));
        assert!(is_content_hashed("tolem-sw-0123456789abcdef_bg.wasm"));
        assert!(is_content_hashed("tolem-1a2b3c4d5e6f7a8b_bg.wasm.br"));
        assert!(
            is_content_hashed("tolem-a2b3c4d5e6f7a8b.js"),
            "a hash without its leading zero"
        );
    }

    #[test]
    fn stable_names_are_not_hashed() {
        for name in [
            "index.html",
            "sw.js",
            "manifest.webmanifest",
            "icons/icon-192.png",
            "/",
            "tolem-sw.js",
            "apple-touch-icon.png",
            "a-xyz4567890abcdef.js",
        ] {
            assert!(!is_content_hashed(name), "{name}");
        }
        // Too short or upper case: not Trunk's hash.
        assert!(!is_content_hashed("tolem-1a2b3c4d.js"));
        assert!(!is_content_hashed("tolem-1A2B3C4D5E6F7A8B.js"));
    }
}
