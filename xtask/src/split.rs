//! Linking the split module's chunks into the build (issue 14 item 1).
//!
//! wasm-split (scripts/split/wasm-bindgen) leaves, beside the main module Trunk finishes, one
//! `.wasm` per chunk and `__wasm_split.js`: the loader the main module imports its
//! `__wasm_split_load_*` functions from. That loader is an ES module (it imports `initSync` from
//! the glue and finds the chunks from `import.meta.url`), and wasm-bindgen's `no-modules` glue —
//! a classic script, because the service worker loads it with `importScripts` — asks for it with
//! `require("./__wasm_split.js")`, which no browser has. So this step:
//!
//! - copies each chunk into dist under a name with its content's hash (cached forever, like
//!   Trunk's files, and precached by the service worker with the rest of the build);
//! - makes the loader a plain script that points at those names and reaches `initSync` through
//!   the glue's `wasm_bindgen`;
//! - puts it at the top of the glue, in place of the `require`, so the page and the worker get it
//!   with the glue they already load: no new request, no new script in index.html.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The loader file wasm-split writes, and how the glue asks for it.
const LOADER: &str = "__wasm_split.js";
const GLUE_REQUIRE: &str = "require(\"./__wasm_split.js\")";
/// The main module wasm-split writes for wasm-bindgen; not a chunk.
const MAIN: &str = "main.wasm";
/// The one name the linked loader is known by inside the glue.
const LINKED: &str = "__tolem_wasm_split";
/// How the loader fetches each chunk.
const CHUNK_FETCH: &str = "fetch(new URL(";
/// What the linked loader fetches chunks with instead: the service worker's precache first, then
/// the network. A chunk's name carries its content's hash, so whatever the cache holds under it
/// is that chunk. In the worker this is needed: its own requests skip its fetch handler, so
/// offline, or after the gateway moved on to a newer build, it could not load a chunk from the
/// network; the replay pass and the lifecycle steps are chunks the worker runs
/// (outbox/src/replay.rs, service-worker/src/lifecycle.rs). In the page it is faster: the
/// payment screens need their chunk and dozens of small ones they share with other screens
/// (src/pages/lazy.rs), and with 37 in all, an app opened at /pay took 0.52–0.61 s to show them
/// through the worker's fetch handler, against 0.38–0.45 s read from the cache here (4× slower
/// processor, tools/lighthouse/pay-open.mjs). Without Cache Storage (an insecure origin) it
/// fetches.
const FETCH_CHUNK: &str = "const fetchChunk = (url) => self.caches \
    ? caches.match(url.href).then((cached) => cached || fetch(url), () => fetch(url)) : fetch(url);";

/// Whether Trunk's glue imports a split loader (the module was split).
pub fn glue_needs_loader(glue: &str) -> bool {
    glue.contains(GLUE_REQUIRE)
}

/// Copies the chunks in `split_dir` into `dist_dir` under hashed names and links the loader into
/// the glue at `glue_path`. Returns the chunks' URLs.
pub fn link(dist_dir: &Path, glue_path: &Path, split_dir: &Path) -> Result<Vec<String>, String> {
    let loader_path = split_dir.join(LOADER);
    let mut loader = fs::read_to_string(&loader_path)
        .map_err(|e| format!("cannot read {}: {e}", loader_path.display()))?;
    let mut urls = Vec::new();
    for chunk in chunks(split_dir)? {
        let data = fs::read(&chunk).map_err(|e| format!("cannot read {}: {e}", chunk.display()))?;
        let stem = chunk
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{} has no usable name", chunk.display()))?;
        let hashed = format!("{stem}-{}.wasm", content_hash(&data));
        fs::write(dist_dir.join(&hashed), &data)
            .map_err(|e| format!("cannot write {hashed} into dist: {e}"))?;
        let url = format!("/{hashed}");
        loader = replace_once(
            &loader,
            &format!("\"./{stem}.wasm\""),
            &format!("\"{url}\""),
        )
        .map_err(|e| format!("{LOADER}: {e}"))?;
        urls.push(url);
    }
    let glue = fs::read_to_string(glue_path)
        .map_err(|e| format!("cannot read {}: {e}", glue_path.display()))?;
    let linked = link_into_glue(&glue, &classic_loader(&loader)?)?;
    fs::write(glue_path, linked)
        .map_err(|e| format!("cannot write {}: {e}", glue_path.display()))?;
    println!(
        "finish-dist: {} chunks loaded on first use, their loader linked into the glue",
        urls.len()
    );
    Ok(urls)
}

/// The chunk files wasm-split wrote, sorted so the output is stable.
fn chunks(split_dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let entries =
        fs::read_dir(split_dir).map_err(|e| format!("cannot read {}: {e}", split_dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".wasm") && name != MAIN {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// 12 hex digits of the content's SHA-256: the fewest `is_content_hashed` takes for a hashed
/// name. A chunk's name is written twice into what a first visit downloads (the loader in the
/// glue, the worker's precache list) and its digits are random, which no compressor shrinks:
/// Trunk's 16 cost about 300 bytes more for the ~80 chunks (brotli). 48 bits still tell every
/// build's chunk of one name apart.
fn content_hash(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// wasm-split's ES-module loader as a script that evaluates to an object of its exports.
/// Every construct it relies on is checked, so a wasm-split that writes the loader differently
/// fails the build instead of shipping a loader that breaks at the first lazy screen.
fn classic_loader(loader: &str) -> Result<String, String> {
    let body = replace_once(
        loader,
        "import { initSync } from \"./main.js\";",
        // The glue's own `initSync`, looked up when a chunk loads (the module is running by then).
        "const initSync = (...args) => wasm_bindgen.initSync(...args);",
    )
    .map_err(|e| format!("{LOADER}: {e}"))?;
    if !body.contains("export const ") {
        return Err(format!("{LOADER} exports no loader"));
    }
    let fetches = body.matches(CHUNK_FETCH).count();
    if fetches == 0 || body.matches("fetch(").count() != fetches {
        return Err(format!(
            "{LOADER} fetches its chunks otherwise than with `{CHUNK_FETCH}`"
        ));
    }
    let body = body
        .replace("export const ", "link.")
        // The chunks' URLs are absolute paths; the page and the worker share the origin.
        .replace("import.meta.url", "self.location.href")
        .replace(CHUNK_FETCH, "fetchChunk(new URL(");
    if let Some(line) = body.lines().find(|line| {
        let line = line.trim_start();
        line.starts_with("import ")
            || line.starts_with("export ")
            || line.contains("import(")
            || line.contains("import.meta")
    }) {
        return Err(format!(
            "{LOADER} has a module construct this step does not translate: {line}"
        ));
    }
    Ok(format!(
        "const {LINKED} = (() => {{\nconst link = {{}};\n{FETCH_CHUNK}\n{body}\nreturn link;\n}})();\n"
    ))
}

/// The glue with the loader in front and its `require`s (one per split point) pointed at it.
fn link_into_glue(glue: &str, classic_loader: &str) -> Result<String, String> {
    if !glue_needs_loader(glue) {
        return Err(format!("the glue: `{GLUE_REQUIRE}` not found"));
    }
    let glue = glue.replace(GLUE_REQUIRE, LINKED);
    Ok(format!("{classic_loader}{glue}"))
}

/// `text` with its one `from` replaced; none or several is an error.
fn replace_once(text: &str, from: &str, to: &str) -> Result<String, String> {
    match text.matches(from).count() {
        1 => Ok(text.replacen(from, to, 1)),
        0 => Err(format!("`{from}` not found")),
        n => Err(format!("`{from}` found {n} times, expected once")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOADER_JS: &str = "import { initSync } from \"./main.js\";\n\
        function getSharedImports() { return initSync(undefined, undefined); }\n\
        export const __wasm_split_load_a = wrap(() => fetch(new URL(\"/a-0123456789abcdef.wasm\", import.meta.url)));\n";

    #[test]
    fn the_loader_becomes_a_script_the_glue_reaches_by_name() {
        let classic = classic_loader(LOADER_JS).unwrap();
        assert!(classic.starts_with("const __tolem_wasm_split = (() => {"));
        assert!(classic.contains("link.__wasm_split_load_a = "));
        assert!(classic.contains("self.location.href"));
        assert!(classic.contains("fetchChunk(new URL(\"/a-0123456789abcdef.wasm\""));
        assert!(classic.contains("caches.match(url.href)"));
        assert!(!classic.contains("import "));
        assert!(!classic.contains("export "));

        let glue = "let wasm_bindgen = (function(exports) {\n    const import1 = require(\"./__wasm_split.js\");\n    const import2 = require(\"./__wasm_split.js\");\n";
        let linked = link_into_glue(glue, &classic).unwrap();
        assert!(linked.starts_with(&classic));
        assert!(linked.contains("const import1 = __tolem_wasm_split;"));
        assert!(linked.contains("const import2 = __tolem_wasm_split;"));
        assert!(!glue_needs_loader(&linked));
    }

    #[test]
    fn a_loader_written_differently_fails_the_build() {
        let other = LOADER_JS.replace("./main.js", "./tolem.js");
        assert!(classic_loader(&other).is_err());
        let dynamic = format!("{LOADER_JS}import(\"./x.js\");\n");
        assert!(classic_loader(&dynamic).is_err_and(|e| e.contains("import(")));
        let other_fetch = LOADER_JS.replace("fetch(new URL(", "fetch(String(new URL(");
        assert!(classic_loader(&other_fetch).is_err_and(|e| e.contains("fetches its chunks")));
        assert!(link_into_glue("no require here", "x").is_err());
    }
}
