//! The app's stylesheet written into index.html, minified (issue 14).
//!
//! A linked stylesheet blocks rendering: the first paint waited for a second request after the
//! page's own, one more round trip (150 ms on slow 4G) and the file's transfer. The module's
//! download waits for that paint (Trunk.toml says why), so the app's own screen waited for it
//! too. Inline, the first paint needs index.html alone. The price: the styles come with
//! index.html instead of from their own cached file. The service worker serves index.html from
//! its cache after the first visit, so only a first visit or an update fetches them again.
//!
//! The gateway allows the inline `<style>` by its SHA-256, computed from the page it serves
//! (gateway/src/web/app_policy.rs), as it does for the loader script.

use std::fs;
use std::path::Path;

use lightningcss::stylesheet::{MinifyOptions, ParserOptions, PrinterOptions, StyleSheet};

/// The start of the tag Trunk writes for `<link data-trunk rel="css">`.
const LINK: &str = "<link rel=\"stylesheet\"";

/// Replaces index.html's one `<link rel="stylesheet">` by a `<style>` holding the linked file,
/// minified, and removes the file from `dist_dir`.
pub fn inline_stylesheet(dist_dir: &Path) -> Result<(), String> {
    let index = dist_dir.join("index.html");
    let html =
        fs::read_to_string(&index).map_err(|e| format!("cannot read {}: {e}", index.display()))?;
    let (tag, href) = stylesheet_link(&html)?;
    let css_path = dist_dir.join(href.trim_start_matches('/'));
    let css = fs::read_to_string(&css_path).map_err(|e| {
        format!(
            "cannot read {} (index.html links it): {e}",
            css_path.display()
        )
    })?;
    let minified = minify(&css).map_err(|e| format!("{href}: {e}"))?;
    let inlined = html.replacen(tag, &format!("<style>{minified}</style>"), 1);
    fs::write(&index, inlined).map_err(|e| format!("cannot write {}: {e}", index.display()))?;
    fs::remove_file(&css_path).map_err(|e| format!("cannot remove {}: {e}", css_path.display()))?;
    println!(
        "finish-dist: {href} written into index.html, {} bytes minified from {}",
        minified.len(),
        css.len()
    );
    Ok(())
}

/// index.html's stylesheet link: the whole tag and its `href`. None, or more than one, is an
/// error: the page is styled by exactly one file.
fn stylesheet_link(html: &str) -> Result<(&str, &str), String> {
    let mut links = html.match_indices(LINK).map(|(start, _)| {
        let end = html[start..].find('>').map(|end| start + end + 1);
        end.map(|end| &html[start..end])
    });
    let tag = match (links.next(), links.next()) {
        (Some(Some(tag)), None) => tag,
        (None, _) => return Err("index.html links no stylesheet: was it finished already?".into()),
        (Some(None), _) => return Err("index.html's stylesheet link is not closed".into()),
        (Some(_), Some(_)) => return Err("index.html links more than one stylesheet".into()),
    };
    let href = tag
        .split_once("href=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(href, _)| href)
        .ok_or_else(|| format!("index.html's stylesheet link has no href: {tag}"))?;
    Ok((tag, href))
}

/// `css` minified by lightningcss (what Trunk's own minification uses): comments, spaces and
/// redundant values gone, no rule changed in meaning, nothing prefixed for older browsers.
fn minify(css: &str) -> Result<String, String> {
    let mut sheet = StyleSheet::parse(css, ParserOptions::default())
        .map_err(|e| format!("cannot parse: {e}"))?;
    sheet
        .minify(MinifyOptions::default())
        .map_err(|e| format!("cannot minify: {e}"))?;
    let code = sheet
        .to_css(PrinterOptions {
            minify: true,
            ..PrinterOptions::default()
        })
        .map_err(|e| format!("cannot print: {e}"))?
        .code;
    // Text inside <style> ends at the first "</style"; CSS never needs "</".
    if code.contains("</") {
        return Err("the stylesheet holds \"</\", which would end the <style> early".into());
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_stylesheet_link_is_found_with_its_file() {
        let html = r#"<head><link rel="manifest" href="/m"/><link rel="stylesheet" href="/style-0123.css" data-integrity="none"/><script></script></head>"#;
        let (tag, href) = stylesheet_link(html).unwrap();
        assert_eq!(
            tag,
            r#"<link rel="stylesheet" href="/style-0123.css" data-integrity="none"/>"#
        );
        assert_eq!(href, "/style-0123.css");
        assert!(stylesheet_link("<head></head>").is_err());
        let twice = format!("{tag}{tag}");
        assert!(stylesheet_link(&twice).is_err());
    }

    #[test]
    fn minifying_keeps_every_rule_and_drops_comments_and_spaces() {
        let css = "/* the brand */\n:root {\n  --brand: #0b6e4f;\n}\n.menu { display: grid; gap: 10px; }\n@media (min-width: 480px) { .menu { grid-template-columns: 1fr 1fr; } }\n";
        let minified = minify(css).unwrap();
        assert_eq!(
            minified,
            ":root{--brand:#0b6e4f}.menu{gap:10px;display:grid}@media (width>=480px){.menu{grid-template-columns:1fr 1fr}}"
        );
    }

    #[test]
    fn a_stylesheet_that_would_end_the_style_element_is_refused() {
        assert!(minify(".a::after { content: \"</style>\"; }").is_err());
    }
}
