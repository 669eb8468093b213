//! The files of a built `dist/` directory, by the role they play.

use std::fs;
use std::path::{Path, PathBuf};

/// One file of the build, with its URL path on the site (`/icons/icon-192.png`).
#[derive(Debug, Clone)]
pub struct DistFile {
    pub path: PathBuf,
    pub url: String,
}

impl DistFile {
    pub fn name(&self) -> &str {
        self.url.rsplit('/').next().unwrap_or(&self.url)
    }

    /// The service worker's own script; the browser keeps it with the worker itself. (Its glue
    /// and wasm are the app's, precached with the rest of the shell.)
    pub fn is_service_worker(&self) -> bool {
        self.url == "/sw.js"
    }

    /// Loaded on first use: a chunk of the split module (split.rs), the screens a first
    /// payment does not need (Trunk's own module is the one `*_bg.wasm`), or a catalogue the app
    /// fetches when a cashier chooses Kazakh or English (`/i18n/`, finish.rs).
    pub fn is_loaded_on_first_use(&self) -> bool {
        (self.name().ends_with(".wasm") && !self.name().ends_with("_bg.wasm"))
            || self.url.starts_with("/i18n/")
    }
}

/// Every file in `dist` except the compressed copies, sorted by URL so output is stable.
pub fn files(dist: &Path) -> Result<Vec<DistFile>, String> {
    let mut found = Vec::new();
    walk(dist, dist, &mut found)?;
    found.sort_by(|a, b| a.url.cmp(&b.url));
    Ok(found)
}

fn walk(root: &Path, dir: &Path, found: &mut Vec<DistFile>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            walk(root, &path, found)?;
        } else if !matches!(path.extension().and_then(|e| e.to_str()), Some("br" | "gz")) {
            let relative = path.strip_prefix(root).map_err(|e| e.to_string())?;
            let url = format!("/{}", relative.to_string_lossy().replace('\\', "/"));
            found.push(DistFile { path, url });
        }
    }
    Ok(())
}

/// Reads a file with its path in the error.
pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}
