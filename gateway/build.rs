//! Rebuild when a migration or a console translation is added or changed: `sqlx::migrate!()`
//! and `rust_i18n::i18n!()` embed the files, but cargo does not know they read them.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=locales");
}
