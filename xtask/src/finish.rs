//! Completing Trunk's output: the chunks linked, the stylesheet written into index.html, the
//! module's imports renamed short and the glue minified, the service worker's precache list and
//! version, and the precompressed copies the gateway serves.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};
use tolem_protocol::assets::is_content_hashed;

use crate::catalogue_files;
use crate::compress;
use crate::dist::{self, DistFile};
use crate::import_names;
use crate::inline_css;
use crate::minify;
use crate::split;

/// Files that compress by less than this fraction are served as they are (PNGs, mostly).
const MIN_SAVING: f64 = 0.05;

pub fn finish_dist(dist_dir: &Path, split_dir: Option<&Path>) -> Result<(), String> {
    link_chunks(dist_dir, split_dir)?;
    inline_css::inline_stylesheet(dist_dir)?;
    // The split build fetches Kazakh and English on choice (src/i18n): the files it asks for.
    if split_dir.is_some() {
        write_fetched_catalogues(dist_dir)?;
    }
    // The chunks are files of the build from here on: precached and compressed like the rest.
    let files = dist::files(dist_dir)?;
    // After linking: split.rs finds its place in the glue by wasm-bindgen's own text.
    let glue = find(files.as_slice(), "glue (tolem-*.js)", is_glue)?;
    let module = find(files.as_slice(), "module (tolem-*_bg.wasm)", is_module)?;
    let renamed = import_names::shorten(&module.path, &glue.path)?;
    println!(
        "finish-dist: {renamed} imports of {} renamed short",
        module.url
    );
    minify::minify_in_place(&glue.path)?;
    fill_service_worker(dist_dir, &files, glue, module)?;
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

/// The app's catalogues, `src/i18n/locales`.
fn locales_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/i18n/locales")
}

/// Writes the catalogues the release app fetches when a cashier chooses their language, under the
/// names its build.rs compiled in (both from `catalogue_files::fetched`). Russian is compiled in.
fn write_fetched_catalogues(dist_dir: &Path) -> Result<(), String> {
    let catalogues = catalogue_files::read(&locales_dir())?;
    for (locale, texts) in [("kk", catalogues.kazakh), ("en", catalogues.english)] {
        let (url, bytes) = catalogue_files::fetched(locale, &texts);
        let target = dist_dir.join(url.trim_start_matches('/'));
        fs::create_dir_all(target.parent().expect("a file in a folder"))
            .and_then(|()| fs::write(&target, bytes))
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    Ok(())
}

fn is_glue(file: &DistFile) -> bool {
    file.name().starts_with("tolem-") && file.name().ends_with(".js")
}

fn is_module(file: &DistFile) -> bool {
    file.name().starts_with("tolem-") && file.name().ends_with("_bg.wasm")
}

/// Writes the version, the precache list and the names of the app's `glue` and `wasm` (two of
/// `files`) into `sw.js`: the worker runs the app's own module (issue 14), so a first visit
/// downloads it once.
fn fill_service_worker(
    dist_dir: &Path,
    files: &[DistFile],
    glue: &DistFile,
    wasm: &DistFile,
) -> Result<(), String> {
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

/// `script` without the lines that are only a `//` comment (nothing else is touched, so the
/// code that runs is exactly what public/sw.js says).
fn without_comment_lines(script: &str) -> String {
    script
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The one file of the build that is `what`: none, or two (a stale file of an older build), is an
/// error, since sw.js must name exactly the files index.html loads.
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

    #[test]
    fn the_fetched_catalogues_hold_every_text_in_key_order_under_a_content_hashed_name() {
        let dir = std::env::temp_dir().join(format!("tolem-catalogues-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        write_fetched_catalogues(&dir).unwrap();
        let catalogues = catalogue_files::read(&locales_dir()).unwrap();
        let russian = &catalogues.russian;
        let mut written: Vec<String> = fs::read_dir(dir.join("i18n"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        written.sort();
        assert_eq!(written.len(), 2, "kk and en, not Russian: {written:?}");
        let expected = [("en", &catalogues.english), ("kk", &catalogues.kazakh)];
        for (name, (locale, texts_of)) in written.iter().zip(expected) {
            assert!(name.starts_with(&format!("{locale}-")), "{name}");
            assert!(is_content_hashed(name), "{name}");
            let texts: Vec<String> =
                serde_json::from_slice(&fs::read(dir.join("i18n").join(name)).unwrap()).unwrap();
            let expected: Vec<&String> = texts_of.values().collect();
            assert_eq!(texts.len(), russian.len());
            assert_eq!(texts.iter().collect::<Vec<_>>(), expected);
            // The app finds a text by its key's place among Russian's keys.
            let key = russian.keys().position(|k| k == "menu_payments").unwrap();
            let menu = if locale == "kk" {
                "Провайдерлер мен төлемдер"
            } else {
                "Providers & payments"
            };
            assert_eq!(texts[key], menu);
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_catalogue_without_a_key_of_russian_names_it() {
        let parse = |json| catalogue_files::parse("test", json).unwrap();
        let russian = parse(r#"{"a": "А", "b": "Б"}"#);
        let error =
            catalogue_files::same_keys(&russian, "kk.json", &parse(r#"{"a": "A", "c": "C"}"#));
        assert_eq!(
            error.unwrap_err(),
            r#"kk.json differs from ru.json: missing ["b"], not in ru.json ["c"]"#
        );
        assert!(
            catalogue_files::same_keys(&russian, "en.json", &parse(r#"{"b": "B", "a": "A"}"#))
                .is_ok()
        );
    }
}
