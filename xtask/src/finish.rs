//! Completing Trunk's output: the service worker's precache list and version, and the
//! precompressed copies the gateway serves.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};
use tolem_protocol::assets::is_content_hashed;

use crate::compress;
use crate::dist::{self, DistFile};

/// Files that compress by less than this fraction are served as they are (PNGs, mostly).
const MIN_SAVING: f64 = 0.05;

pub fn finish_dist(dist_dir: &Path) -> Result<(), String> {
    hash_service_worker_names(dist_dir)?;
    let files = dist::files(dist_dir)?;
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

/// Trunk does not hash the names of a worker's files (`tolem-sw.js`, `tolem-sw_bg.wasm`).
/// Under a fixed name an HTTP cache could hand a new sw.js last version's glue, so they get
/// content hashes like every other asset, and with them the immutable caching.
fn hash_service_worker_names(dist_dir: &Path) -> Result<(), String> {
    for (plain, suffix) in [("tolem-sw.js", ".js"), ("tolem-sw_bg.wasm", "_bg.wasm")] {
        let path = dist_dir.join(plain);
        if !path.exists() {
            return Err(format!(
                "{} is missing: is the service worker in index.html?",
                path.display()
            ));
        }
        let digest = Sha256::digest(dist::read(&path)?);
        let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let hashed = dist_dir.join(format!("tolem-sw-{hash}{suffix}"));
        fs::rename(&path, &hashed).map_err(|e| format!("cannot rename {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Writes the version, the precache list and the worker's own file names into `sw.js`.
fn fill_service_worker(dist_dir: &Path, files: &[DistFile]) -> Result<(), String> {
    let glue = find(files, |f| {
        f.name().starts_with("tolem-sw-") && f.name().ends_with(".js")
    })?;
    let wasm = find(files, |f| {
        f.name().starts_with("tolem-sw-") && f.name().ends_with("_bg.wasm")
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
    let filled = template
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

fn find(files: &[DistFile], wanted: impl Fn(&DistFile) -> bool) -> Result<&DistFile, String> {
    files.iter().find(|f| wanted(f)).ok_or_else(|| {
        "the service worker build (tolem-sw-*.js / *_bg.wasm) is missing from dist".to_string()
    })
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
