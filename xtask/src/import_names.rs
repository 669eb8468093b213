//! Short names for the functions the module imports from its JS glue (issue 14).
//!
//! wasm-bindgen names each import after its JS function and a 16-digit hash
//! (`__wbg_setattribute_2c9d2f41ab7e3d10`), once in the module's import section and once as a key
//! of the glue's import object. The ~280 hashes are random digits, which no compressor can
//! shorten: 3.1 KiB of the module and 2.8 KiB of the glue, brotli-compressed, on every first
//! visit (measured 2026-12-05). Renamed `$0`, `$1`, … in both files, the two still match, and nothing else names
//! them: the chunks of a split module import only from the main module, not from the glue.
//!
//! Only the import section of the module is rewritten; every other byte stays as wasm-opt left
//! it, since a function calls an import by its index, not by its name.

use std::fs;
use std::ops::Range;
use std::path::Path;

use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasmparser::{Parser, Payload, TypeRef};

/// Renames the hashed imports of the module at `wasm` and the glue at `glue` together; returns
/// how many it renamed.
pub fn shorten(wasm: &Path, glue: &Path) -> Result<usize, String> {
    let bytes = fs::read(wasm).map_err(|e| format!("cannot read {}: {e}", wasm.display()))?;
    let script =
        fs::read_to_string(glue).map_err(|e| format!("cannot read {}: {e}", glue.display()))?;
    let section = import_section(&bytes).map_err(|e| format!("{}: {e}", wasm.display()))?;
    // Each import's new name; `None` keeps its own (wasm-bindgen's few unhashed ones).
    let short: Vec<Option<String>> = (section.imports.iter().enumerate())
        .map(|(index, import)| is_hashed(import.name).then(|| format!("${index}")))
        .collect();
    let mut imports = wasm_encoder::ImportSection::new();
    let mut renamed_glue = script;
    for (import, short) in section.imports.iter().zip(&short) {
        let entity = RoundtripReencoder
            .entity_type(import.ty)
            .map_err(|e| format!("{}: import {}: {e}", wasm.display(), import.name))?;
        imports.import(
            import.module,
            short.as_deref().unwrap_or(import.name),
            entity,
        );
        if let Some(short) = short {
            renamed_glue = rename_once(&renamed_glue, import.name, short)
                .map_err(|e| format!("{}: {e}", glue.display()))?;
        }
    }
    let renamed = short.iter().flatten().count();
    let mut module = Vec::with_capacity(bytes.len());
    module.extend_from_slice(&bytes[..section.whole.start]);
    module.push(wasm_encoder::Section::id(&imports));
    wasm_encoder::Encode::encode(&imports, &mut module);
    module.extend_from_slice(&bytes[section.whole.end..]);
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&module)
        .map_err(|e| {
            format!(
                "{} with short import names is not valid: {e}",
                wasm.display()
            )
        })?;
    fs::write(wasm, module).map_err(|e| format!("cannot write {}: {e}", wasm.display()))?;
    fs::write(glue, renamed_glue).map_err(|e| format!("cannot write {}: {e}", glue.display()))?;
    Ok(renamed)
}

/// One import of the module.
struct Import<'a> {
    module: &'a str,
    name: &'a str,
    ty: TypeRef,
}

/// The module's import section: its imports, and where the section lies, header included.
struct ImportSection<'a> {
    imports: Vec<Import<'a>>,
    whole: Range<usize>,
}

fn import_section(bytes: &[u8]) -> Result<ImportSection<'_>, String> {
    // A section's header (its id and size) starts where the payload before it ended.
    let mut previous_end = 0;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| e.to_string())?;
        match payload {
            Payload::ImportSection(reader) => {
                let whole = previous_end..reader.range().end;
                let mut imports = Vec::new();
                for import in reader.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    imports.push(Import {
                        module: import.module,
                        name: import.name,
                        ty: import.ty,
                    });
                }
                return Ok(ImportSection { imports, whole });
            }
            Payload::Version { range, .. } => previous_end = range.end,
            other => {
                if let Some((_, range)) = other.as_section() {
                    previous_end = range.end;
                }
            }
        }
    }
    Err("the module imports nothing".into())
}

/// wasm-bindgen's name for an import: ends in `_` and 16 hexadecimal digits.
fn is_hashed(name: &str) -> bool {
    let name = name.as_bytes();
    name.len() > 17
        && name[name.len() - 17] == b'_'
        && name[name.len() - 16..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// `script` with the identifier `old` written `new`. It must occur exactly once: as the key of
/// the glue's import object. Not at all, or more than once, means the glue is not what this
/// was written for, and the build stops rather than ship a module its glue cannot start.
fn rename_once(script: &str, old: &str, new: &str) -> Result<String, String> {
    let is_identifier = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let found: Vec<usize> = script
        .match_indices(old)
        .map(|(at, _)| at)
        .filter(|&at| {
            !script[..at].ends_with(is_identifier)
                && !script[at + old.len()..].starts_with(is_identifier)
        })
        .collect();
    match found.as_slice() {
        [at] => Ok(format!(
            "{}{new}{}",
            &script[..*at],
            &script[at + old.len()..]
        )),
        [] => Err(format!(
            "the module imports {old}, which the glue does not define"
        )),
        _ => Err(format!("the glue names {old} more than once")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_wasm_bindgens_hashed_names_are_renamed() {
        assert!(is_hashed("__wbg_setattribute_2c9d2f41ab7e3d10"));
        assert!(!is_hashed("__wbindgen_init_externref_table"));
        assert!(!is_hashed("__wbg_x_2C9D2F41AB7E3D10"));
        assert!(!is_hashed("_2c9d2f41ab7e3d10"));
        assert!(!is_hashed("ключ_2c9d2f41ab7e3d1"));
    }

    #[test]
    fn the_glue_key_is_renamed_once_and_nothing_that_merely_contains_it() {
        let glue = "{__wbg_a_0123456789abcdef:function(n){},x__wbg_a_0123456789abcdef_y:1}";
        assert_eq!(
            rename_once(glue, "__wbg_a_0123456789abcdef", "$0").unwrap(),
            "{$0:function(n){},x__wbg_a_0123456789abcdef_y:1}"
        );
        assert!(rename_once("{}", "__wbg_a_0123456789abcdef", "$0").is_err());
        let twice = "{__wbg_a_0123456789abcdef:1,__wbg_a_0123456789abcdef:2}";
        assert!(rename_once(twice, "__wbg_a_0123456789abcdef", "$0").is_err());
    }

    #[test]
    fn a_module_and_its_glue_are_renamed_together_and_the_module_stays_valid() {
        let wat = r#"(module
            (import "wbg" "__wbg_log_0123456789abcdef" (func $log (param i32)))
            (import "wbg" "__wbindgen_init_externref_table" (func))
            (memory (export "memory") 1)
            (func (export "run") (call $log (i32.const 7))))"#;
        let dir = std::env::temp_dir().join(format!("xtask-imports-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (wasm, glue) = (dir.join("app_bg.wasm"), dir.join("app.js"));
        fs::write(&wasm, wat::parse_str(wat).unwrap()).unwrap();
        fs::write(
            &glue,
            "imports.wbg.__wbg_log_0123456789abcdef = function (n) { console.log(n) };",
        )
        .unwrap();

        assert_eq!(shorten(&wasm, &glue).unwrap(), 1);
        let bytes = fs::read(&wasm).unwrap();
        let section = import_section(&bytes).unwrap();
        let names: Vec<&str> = section.imports.iter().map(|i| i.name).collect();
        assert_eq!(names, ["$0", "__wbindgen_init_externref_table"]);
        assert_eq!(
            fs::read_to_string(&glue).unwrap(),
            "imports.wbg.$0 = function (n) { console.log(n) };"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
