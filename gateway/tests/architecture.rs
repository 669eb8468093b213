//! Guards the gateway's layering, so it cannot quietly grow back into one import circle:
//! the faces (the JSON API `http/`, the console `console/`, the public pages `public/`, the
//! command line `cli.rs`) never import one another, and the domain below them (payments, mail,
//! the operator's and dealers' operations, users, audit, the database...) imports no face and
//! nothing of the HTTP layer above it (`state`, `app`, `web`).
//!
//! It reads the source as text: every `crate::<module>` path and every `use crate::{…}` group's
//! first-level names. A doc link (`[`crate::x`]`) or a comment counts too, on purpose — a
//! domain module's docs pointing up at a face is the first step of an import.

use std::{collections::BTreeSet, fs, path::Path};

/// The faces: none may name another.
const FACES: &[&str] = &["http", "console", "public", "cli"];
/// Above the domain: only the faces (and `app`, `state`, `main`) may name these.
const ABOVE_DOMAIN: &[&str] = &["http", "console", "public", "cli", "state", "app", "web"];
/// The domain modules (files or folders under `src/`).
const DOMAIN: &[&str] = &[
    "audit",
    "commission",
    "db",
    "dealer",
    "delivery",
    "display",
    "gateway_key",
    "jobs",
    "mail",
    "operator",
    "password",
    "payments",
    "secrets",
    "sender",
    "throttle",
    "totp",
    "users",
];

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

/// The top-level modules of the crate a file names: `crate::x` anywhere, and the first name of
/// every item of a `crate::{ … }` group — including items of a brace written directly in the
/// group (`{state::AppState, web::x}`), but not what follows a path (`audit::{self, Event}`).
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.insert(word);
            continue;
        };
        // One entry per open brace: whether the items at that level start at the crate root.
        let mut levels = vec![true];
        let mut item_start = true;
        let mut word = String::new();
        for c in group.chars() {
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
                continue;
            }
            if !word.is_empty() {
                if item_start && *levels.last().unwrap() {
                    names.insert(word.clone());
                }
                word.clear();
                item_start = false;
            }
            match c {
                '{' => {
                    let root = item_start && *levels.last().unwrap();
                    levels.push(root);
                    item_start = true;
                }
                '}' => {
                    levels.pop();
                    if levels.is_empty() {
                        break;
                    }
                    item_start = false;
                }
                ',' => item_start = true,
                _ => {}
            }
        }
    }
    names
}

/// The module a file belongs to: `src/console/money.rs` → `console`, `src/cli.rs` → `cli`.
fn module_of(path: &str) -> String {
    let inside = path.split("/src/").nth(1).unwrap();
    inside
        .split('/')
        .next()
        .unwrap()
        .trim_end_matches(".rs")
        .to_owned()
}

#[test]
fn faces_do_not_import_each_other_and_the_domain_imports_no_face() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 50, "the gateway's sources were found");
    let mut problems = Vec::new();
    for (path, text) in &files {
        let module = module_of(path);
        let named = named_modules(text);
        if FACES.contains(&module.as_str()) {
            for other in FACES.iter().filter(|f| **f != module) {
                if named.contains(*other) {
                    problems.push(format!("{path}: face `{module}` names face `{other}`"));
                }
            }
        }
        if DOMAIN.contains(&module.as_str()) {
            for above in ABOVE_DOMAIN {
                if named.contains(*above) {
                    problems.push(format!(
                        "{path}: domain `{module}` names `{above}` above it"
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_sees_imports_in_every_form() {
    let text = "use crate::{\n    audit::{self, Event},\n    {state::AppState, web::client_ip::ClientIp},\n};\nlet x = crate::console::layout::tr(\"k\");";
    let named = named_modules(text);
    for module in ["audit", "state", "web", "console"] {
        assert!(named.contains(module), "{module} in {named:?}");
    }
    assert!(
        !named.contains("Event") && !named.contains("client_ip"),
        "{named:?}"
    );
}

/// Every text a page names by a literal key (`tr("…")`, `t!("…"`) is in the Russian catalogue,
/// which the language test holds the other two to: rust-i18n shows a missing key's name
/// instead of a text, in every language, and nothing else would notice.
#[test]
fn every_text_named_in_the_code_is_in_the_catalogue() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalogue = fs::read_to_string(root.join("locales/ru.yml")).unwrap();
    let known: BTreeSet<&str> = catalogue
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(':').map(|(key, _)| key.trim()))
        .collect();
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let mut missing = Vec::new();
    let mut named = 0;
    for (path, text) in &files {
        for opening in ["tr(\"", "t!(\""] {
            for (at, _) in text.match_indices(opening) {
                // `tr(` itself, not the end of a longer name (`attr(`, `from_str(`).
                let before = text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &text[at + opening.len()..];
                let Some(end) = rest.find('"') else { continue };
                let key = &rest[..end];
                // A key built at run time (`format!`) is not a literal; those are checked by
                // the pages' own tests.
                if key.is_empty() || !key.contains('.') || key.contains('{') {
                    continue;
                }
                named += 1;
                if !known.contains(key) {
                    missing.push(format!("{path}: {key}"));
                }
            }
        }
    }
    assert!(
        named > 300,
        "only {named} keys found: the reading is broken"
    );
    assert!(
        missing.is_empty(),
        "not in locales/ru.yml:\n{}",
        missing.join("\n")
    );
}

/// Every table of the console and the public pages scrolls inside its own box
/// (`div.table-scroll`, console.css): at 320 px a wider table would otherwise push the whole
/// page sideways, its forms (a top-up's confirm, a refund) off the screen.
#[test]
fn every_table_of_a_page_scrolls_in_its_own_box() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root.join("console"), &mut files);
    sources(&root.join("public"), &mut files);
    let mut bare = Vec::new();
    let mut tables = 0;
    for (path, text) in &files {
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for (n, line) in lines.iter().enumerate() {
            // A maud element: `table`, then its classes, id or body.
            let Some(rest) = line.strip_prefix("table") else {
                continue;
            };
            if !rest.starts_with(['.', '#', ' ']) || !line.ends_with('{') {
                continue;
            }
            tables += 1;
            if n == 0 || lines[n - 1] != "div.table-scroll {" {
                bare.push(format!("{path}:{}", n + 1));
            }
        }
    }
    assert!(
        tables >= 15,
        "only {tables} tables found: the reading is broken"
    );
    assert!(
        bare.is_empty(),
        "tables outside div.table-scroll:\n{}",
        bare.join("\n")
    );
}
