//! Build chores for Tolem, run by the scripts in `scripts/`:
//!
//! - `cargo run -p xtask -- finish-dist [DIST] [--split=DIR]` completes Trunk's output: links
//!   the chunks wasm-split left in DIR (split.rs), writes the stylesheet into index.html
//!   (inline_css.rs), renames the module's imports short (import_names.rs), minifies the JS glue
//!   (minify.rs), fills the service worker's version and precache list into `sw.js`, then
//!   writes `.br` and `.gz` copies of every file for the gateway to serve.
//! - `cargo run -p xtask -- size-report [DIST] [--check]` prints what a first visit downloads,
//!   per file and in total: raw, gzip and brotli bytes; `--check` fails over the budget (the
//!   test command runs it).

// The app's catalogue as files, shared with the app's build.rs: they must agree on every name.
#[path = "../../src/i18n/files.rs"]
mod catalogue_files;
mod compress;
mod dist;
mod finish;
mod import_names;
mod inline_css;
mod minify;
mod size_report;
mod split;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: xtask finish-dist [DIST] [--split=DIR] | xtask size-report [DIST] \
                     [--check]   (DIST defaults to dist)";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let check = rest.iter().any(|arg| arg == "--check");
    let dist = PathBuf::from(
        rest.iter()
            .find(|arg| !arg.starts_with("--"))
            .map_or("dist", String::as_str),
    );
    let split = rest
        .iter()
        .find_map(|arg| arg.strip_prefix("--split="))
        .map(PathBuf::from);
    let result = match command.as_str() {
        "finish-dist" => finish::finish_dist(&dist, split.as_deref()),
        "size-report" => size_report::print(&dist, check),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
