//! The Content-Security-Policy of the cashier app's page (issue 13, item 16).
//!
//! The app runs a signing key in the page; the policy makes sure nothing but the app's own
//! files ever runs there, even if some text (a provider's name, a comment) were one day
//! rendered as markup: scripts only from this origin or the inline loader Trunk writes into
//! `index.html`, styles only from this origin or the stylesheet the release build writes into it
//! (each allowed by its SHA-256, computed from the file being served, so a rebuild needs no
//! configuration), WebAssembly compiled from those, no plugins, no framing, no connections
//! anywhere but the gateway.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The policy for a page whose HTML is `index_html`.
pub fn policy(index_html: &str) -> String {
    let scripts = hashes(inline_bodies(index_html, "script"));
    let styles = hashes(inline_bodies(index_html, "style"));
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{scripts}; style-src 'self'{styles}; \
         img-src 'self' data:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Each body as a CSP source (` 'sha256-…'`), one after another.
fn hashes<'a>(bodies: impl Iterator<Item = &'a str>) -> String {
    bodies
        .map(|body| {
            let digest = Sha256::digest(body.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect()
}

/// The bodies of the `<element>`s (`script`: the loader; `style`: the stylesheet the release
/// build writes into the page, xtask/src/inline_css.rs) without a `src`, exactly as written (a
/// browser hashes the text between the tags).
fn inline_bodies<'a>(html: &'a str, element: &'a str) -> impl Iterator<Item = &'a str> {
    let open = format!("<{element}");
    let close = format!("</{element}");
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find(&open)?;
            let tag_end = start + rest[start..].find('>')?;
            let tag = &rest[start..tag_end];
            let body_end = tag_end + 1 + rest[tag_end + 1..].find(&close)?;
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
        assert!(policy.contains("style-src 'self';"), "{policy}");
    }

    #[test]
    fn the_pages_inline_stylesheet_is_allowed_by_its_hash_and_nothing_else() {
        let html =
            "<html><head><style>.menu{gap:10px}</style><script>boot()</script></head></html>";
        let policy = policy(html);
        let style =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b".menu{gap:10px}"));
        let script = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"boot()"));
        assert!(
            policy.contains(&format!("style-src 'self' 'sha256-{style}';")),
            "{policy}"
        );
        assert!(
            policy.contains(&format!("'wasm-unsafe-eval' 'sha256-{script}';")),
            "{policy}"
        );
        assert!(!policy.contains("unsafe-inline"));
    }
}
