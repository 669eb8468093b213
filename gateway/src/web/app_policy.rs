//! The Content-Security-Policy of the cashier app's page (issue 13, item 16).
//!
//! The app runs a signing key in the page; the policy makes sure nothing but the app's own
//! files ever runs there, even if some text (a provider's name, a comment) were one day
//! rendered as markup: scripts only from this origin or the inline loader Trunk writes into
//! `index.html` (allowed by its SHA-256, computed from the file being served, so a rebuild
//! needs no configuration), WebAssembly compiled from those, no plugins, no framing, no
//! connections anywhere but the gateway.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The policy for a page whose HTML is `index_html`.
pub fn policy(index_html: &str) -> String {
    let inline: String = inline_scripts(index_html)
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{inline}; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The bodies of the `<script>` elements without a `src`, exactly as written (a browser hashes
/// the text between the tags).
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find("<script")?;
            let tag_end = start + rest[start..].find('>')?;
            let tag = &rest[start..tag_end];
            let body_end = tag_end + 1 + rest[tag_end + 1..].find("</script")?;
            let body = &rest[tag_end + 1..body_end];
            rest = &rest[body_end..];
            if !tag.contains(" src=") {
                return Some(body);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pages_own_inline_scripts_are_allowed() {
        let html = r#"<html><head><script type="module">import init from '/tolem-1.js';
await init();</script><script src="/x.js"></script></head><body></body></html>"#;
        let policy = policy(html);
        let expected = Sha256::digest(b"import init from '/tolem-1.js';\nawait init();");
        let expected = base64::engine::general_purpose::STANDARD.encode(expected);
        assert!(policy.contains(&format!("'sha256-{expected}'")), "{policy}");
        assert_eq!(policy.matches("'sha256-").count(), 1, "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("unsafe-inline"));
    }
}
