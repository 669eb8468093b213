//! Two things the app's build needs before the compiler:
//!
//! - The release build splits the app's module (issue 14 item 1, the `split` feature): wasm-split
//!   needs the linker's relocations to move code into chunks, so that one link keeps them. Every
//!   other build (tests, clippy) links as before.
//! - The catalogue (`src/i18n/locales/*.json`) becomes code: a `Key` per text, checked at compile
//!   time like any name, and `td_string!`, which puts the Russian text where it is used. Kazakh and English are compiled in
//!   too, except in the `split` build, which fetches the one the cashier chooses (issue 14: most
//!   points work in Russian, and the two catalogues were ~10 KiB of every first visit); it gets
//!   the addresses of the files `xtask finish-dist` writes, from the same function (`files.rs`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "src/i18n/files.rs"]
mod files;

const LOCALES_DIR: &str = "src/i18n/locales";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/i18n/files.rs");
    let split = std::env::var_os("CARGO_FEATURE_SPLIT").is_some();
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "wasm32");
    if split && wasm {
        println!("cargo:rustc-link-arg-bins=--emit-relocs");
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(error) = write_catalogue(&out.join("catalogue.rs"), split) {
        panic!("the translation catalogue: {error}");
    }
}

fn write_catalogue(path: &Path, fetched: bool) -> Result<(), String> {
    // A directory: Cargo looks at every file in it.
    println!("cargo:rerun-if-changed={LOCALES_DIR}");
    let files::Catalogues {
        russian,
        kazakh,
        english,
    } = files::read(Path::new(LOCALES_DIR))?;

    let mut code = String::new();
    code.push_str("/// A text of the catalogue, by its key in `src/i18n/locales/*.json`.\n");
    code.push_str("#[allow(non_camel_case_types)]\n#[derive(Clone, Copy, Debug, PartialEq, Eq)]\n");
    code.push_str("pub enum Key {\n");
    for key in russian.keys() {
        if !key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!("the key {key:?} is not snake_case ASCII"));
        }
        writeln!(code, "    {key},").unwrap();
    }
    code.push_str("}\n\n");
    writeln!(
        code,
        "/// How many texts each catalogue has.\npub const KEY_COUNT: usize = {};",
        russian.len()
    )
    .unwrap();
    // Russian is written where it is used: `td_string!` puts the literal in the calling function,
    // so wasm-split moves the texts of a screen loaded on first use into that screen's chunk.
    code.push_str("/// `td_string!(locale, key)`: the text `key` in `locale`.\n");
    code.push_str("macro_rules! td_string {\n");
    for (key, text) in &russian {
        writeln!(
            code,
            "    ($locale:expr, {key}) => {{ $crate::i18n::text($locale, $crate::i18n::Key::{key}, {text:?}) }};"
        )
        .unwrap();
    }
    code.push_str(
        "    ($locale:expr, $key:ident) => { compile_error!(concat!(\"no text \", stringify!($key), \" in src/i18n/locales/ru.json\")) };\n",
    );
    code.push_str("}\n");
    if fetched {
        for (name, locale, texts) in [
            ("KAZAKH_FILE", "kk", &kazakh),
            ("ENGLISH_FILE", "en", &english),
        ] {
            let (url, _) = files::fetched(locale, texts);
            code.push_str(
                "/// Where the release build fetches it (`xtask finish-dist` writes it).\n",
            );
            writeln!(code, "pub const {name}: &str = {url:?};").unwrap();
        }
    } else {
        write_texts(&mut code, "KAZAKH", &kazakh);
        write_texts(&mut code, "ENGLISH", &english);
    }
    std::fs::write(path, code).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn write_texts(code: &mut String, name: &str, texts: &files::Texts) {
    writeln!(code, "pub static {name}: [&str; KEY_COUNT] = [").unwrap();
    for text in texts.values() {
        writeln!(code, "    {text:?},").unwrap();
    }
    code.push_str("];\n");
}
