//! Minifying wasm-bindgen's JS glue with terser (issue 14): the glue ships as wasm-bindgen writes
//! it, with its comments, long local names and indentation, which a first visit paid for on a
//! 128 kbit/s line (12.3 KiB brotli, about 9 after terser).
//!
//! terser, not a Rust crate: it is the minifier the JS world relies on, and installed with the
//! build's other node tools (tools/npm, scripts/setup.sh). Only local names are mangled (terser's
//! default): the global `wasm_bindgen` the page and sw.js call, and the import names the wasm
//! module asks for (object keys), stay as they are.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Minifies the script at `path` in place.
pub fn minify_in_place(path: &Path) -> Result<(), String> {
    let terser = terser();
    let output = Command::new(&terser)
        .arg(path)
        .args(["--compress", "--mangle", "--output"])
        .arg(path)
        .output()
        .map_err(|e| {
            format!(
                "cannot run {} ({e}): run scripts/setup.sh, which installs it",
                terser.display()
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "terser could not minify {}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(())
}

fn terser() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/npm/node_modules/.bin/terser")
}
