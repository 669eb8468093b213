//! What a cashier's phone downloads on its first visit, in bytes: raw, gzip and brotli.
//!
//! A first visit loads the page, its CSS, JS and wasm; then the service worker installs (sw.js,
//! its glue and wasm) and precaches the rest of the shell (manifest, icons). Every file of the
//! build is one of those, so the report lists them all.

use std::path::Path;

use crate::compress;
use crate::dist;

/// The target the foundation issue set for a first visit, brotli-compressed.
const BUDGET_BROTLI: usize = 150 * 1024;

pub fn print(dist_dir: &Path) -> Result<(), String> {
    let files = dist::files(dist_dir)?;
    if files.is_empty() {
        return Err(format!(
            "{} is empty: build the app first (scripts/build-app.sh)",
            dist_dir.display()
        ));
    }
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "file", "raw", "gzip", "brotli"
    );
    let (mut raw, mut gzip, mut brotli) = (0, 0, 0);
    for file in &files {
        let data = dist::read(&file.path)?;
        // Served compressed only when that helps (see finish.rs); otherwise as is.
        let g = compress::gzip(&data).len().min(data.len());
        let b = compress::brotli(&data).len().min(data.len());
        println!("{:<44} {:>10} {:>10} {:>10}", file.url, data.len(), g, b);
        raw += data.len();
        gzip += g;
        brotli += b;
    }
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "TOTAL (first visit)", raw, gzip, brotli
    );
    let verdict = if brotli <= BUDGET_BROTLI {
        "within"
    } else {
        "OVER"
    };
    println!(
        "brotli total {:.1} KiB — {verdict} the {} KiB budget",
        brotli as f64 / 1024.0,
        BUDGET_BROTLI / 1024
    );
    Ok(())
}
