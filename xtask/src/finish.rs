//! Completing Trunk's output: the chunks linked, the glue minified, the service worker's precache
//! list and version, and the precompressed copies the gateway serves.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};
use tolem_protocol::assets::is_content_hashed;

use crate::compress;
use crate::dist::{self, DistFile};
use crate::minify;
use crate::split;

/// Files that compress by less than this fraction are served as they are (PNGs, mostly).
const MIN_SAVING: f64 = 0.05;

pub fn finish_dist(dist_dir: &Path, split_dir: Option<&Path>) -> Result<(), String> {
    link_chunks(dist_dir, split_dir)?;
    // The chunks are files of the build from here on: precached and compressed like the rest.
    let files = dist::files(dist_dir)?;
    // After linking: split.rs finds its place in the glue by wasm-bindgen's own text.
    minify::minify_in_place(&find(files.as_slice(), "glue (tolem-*.js)", is_glue)?.path)?;
    fill_service_worker(dist_dir, &files)?;
    // sw.js changed above: compress after, from the files as they now are.
    let mut written = 0;
    for file in &files {
        written += write_compressed(file)?;
    }
    println!(
        "finish-dist: {} files, {written} compressed copies written",
        files.len()
    );
    Ok(())
}

/// Links the chunks of a split module into dist and the glue (split.rs). A glue that asks for a
/// loader with no chunks given (or chunks given for a glue that asks for none) is an error: that
/// build would fail at its first lazy screen.
fn link_chunks(dist_dir: &Path, split_dir: Option<&Path>) -> Result<(), String> {
    let files = dist::files(dist_dir)?;
    let glue = find(files.as_slice(), "glue (tolem-*.js)", is_glue)?;
    let text = String::from_utf8(dist::read(&glue.path)?)
        .map_err(|_| format!("{} is not UTF-8", glue.path.display()))?;
    match (split::glue_needs_loader(&text), split_dir) {
        (true, Some(split_dir)) => split::link(dist_dir, &glue.path, split_dir).map(|_| ()),
        (false, None) => Ok(()),
        (true, None) => Err(format!(
            "{} imports wasm-split's loader: pass --split=DIR (scripts/build-app.sh does)",
            glue.url
        )),
        (false, Some(dir)) => Err(format!(
            "--split={} given, but {} was not split (is the `split` feature on in index.html?)",
            dir.display(),
            glue.url
        )),
    }
}

fn is_glue(file: &DistFile) -> bool {
    file.name().starts_with("tolem-") && file.name().ends_with(".js")
}

/// Writes the version, the precache list and the names of the app's glue and wasm into `sw.js`:
/// the worker runs the app's own module (issue 14), so a first visit downloads it once.
fn fill_service_worker(dist_dir: &Path, files: &[DistFile]) -> Result<(), String> {
    let glue = find(files, "glue (tolem-*.js)", is_glue)?;
    let wasm = find(files, "module (tolem-*_bg.wasm)", |f| {
        f.name().starts_with("tolem-") && f.name().ends_with("_bg.wasm")
    })?;

    let shell: Vec<&DistFile> = files.iter().filter(|f| !f.is_service_worker()).collect();
    let (immutable, revalidate): (Vec<&str>, Vec<&str>) = shell
        .iter()
        .map(|f| f.url.as_str())
        .partition(|url| is_content_hashed(url));
    let precache = serde_json::json!({ "immutable": immutable, "revalidate": revalidate });

    // The version is a digest of everything the worker serves or runs, so any change to the
    // build — and only a change — makes browsers install a new worker.
    let mut digest = Sha256::new();
    for file in files.iter().filter(|f| f.url != "/sw.js") {
        digest.update(file.url.as_bytes());
        digest.update(dist::read(&file.path)?);
    }
    let version: String = digest
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();

    let sw_path = dist_dir.join("sw.js");
    let template = fs::read_to_string(&sw_path)
        .map_err(|e| format!("cannot read {}: {e}", sw_path.display()))?;
    if !template.contains("__TOLEM_VERSION__") {
        return Err(format!(
            "{} was already finished; rebuild with trunk first",
            sw_path.display()
        ));
    }
    // Its comments are for whoever reads public/sw.js, not for every phone that installs it.
    let filled = without_comment_lines(&template)
        .replace("__TOLEM_VERSION__", &version)
        .replace("__TOLEM_PRECACHE__", &precache.to_string())
        .replace("__TOLEM_SW_GLUE__", &glue.url)
        .replace("__TOLEM_SW_WASM__", &wasm.url);
    fs::write(&sw_path, filled).map_err(|e| format!("cannot write {}: {e}", sw_path.display()))?;
    println!(
        "finish-dist: service worker version {version}, {} files precached",
        shell.len()
    );
    Ok(())
}

/// The one file of the build that is `what`: none, or two (a stale file of an older build), is an
/// error, since sw.js must name exactly the files index.html loads.
/// `script` without the lines that are only a `//` comment (nothing else is touched, so the
/// code that runs is exactly what public/sw.js says).
fn without_comment_lines(script: &str) -> String {
    script
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| format!("{line}\n"))
        .collect()
}

fn find<'a>(
    files: &'a [DistFile],
    what: &str,
    wanted: impl Fn(&DistFile) -> bool,
) -> Result<&'a DistFile, String> {
    let mut found = files.iter().filter(|f| wanted(f));
    match (found.next(), found.next()) {
        (Some(file), None) => Ok(file),
        (None, _) => Err(format!("the app's {what} is missing from dist")),
        (Some(a), Some(b)) => Err(format!(
            "dist has two of the app's {what}: {} and {}; build into an empty dist",
            a.url, b.url
        )),
    }
}

/// Writes `X.br` and `X.gz` beside `X` when they save enough; returns how many were written.
fn write_compressed(file: &DistFile) -> Result<usize, String> {
    let data = dist::read(&file.path)?;
    let mut written = 0;
    for (extension, encoded) in [
        ("br", compress::brotli(&data)),
        ("gz", compress::gzip(&data)),
    ] {
        let target = file
            .path
            .with_file_name(format!("{}.{extension}", file.name()));
        if (encoded.len() as f64) < data.len() as f64 * (1.0 - MIN_SAVING) {
            fs::write(&target, encoded)
                .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
            written += 1;
        } else if target.exists() {
            fs::remove_file(&target).map_err(|e| e.to_string())?;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_comment_lines_leave_the_worker_script() {
        let script = "// why\n'use strict';\n  // indented why\nconst A = 'x//y'; // kept\n";
        assert_eq!(
            without_comment_lines(script),
            "'use strict';\nconst A = 'x//y'; // kept\n"
        );
    }
}
