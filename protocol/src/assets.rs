//! The naming contract between the app's build and whoever serves or caches its files.
//!
//! Trunk names every built asset `<stem>-<16 hex digits><rest>` (`tolem-1a2b…_bg.wasm`): the hash
//! is of the content, so such a file never changes under its name and may be cached forever.
//! Everything else (index.html, sw.js, the manifest, icons) keeps its name across versions.

/// Length of the content hash Trunk puts into a file name.
const HASH_LEN: usize = 16;

/// Whether `path` (a URL path or a file name) names a content-hashed, never-changing file.
pub fn is_content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.match_indices('-').any(|(dash, _)| {
        let hash = &name[dash + 1..];
        hash.len() > HASH_LEN
            && hash.as_bytes()[..HASH_LEN].iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            && matches!(hash.as_bytes()[HASH_LEN], b'.' | b'_')
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
    }

    #[test]
    fn stable_names_are_not_hashed() {
        for name in ["index.html", "sw.js", "manifest.webmanifest", "icons/icon-192.png", "/", "tolem-sw.js"] {
            assert!(!is_content_hashed(name), "{name}");
        }
        // Too short, upper case, or not followed by an extension: not Trunk's hash.
        assert!(!is_content_hashed("tolem-1a2b3c4d.js"));
        assert!(!is_content_hashed("tolem-1A2B3C4D5E6F7A8B.js"));
        assert!(!is_content_hashed("tolem-1a2b3c4d5e6f7a8b"));
    }
}
