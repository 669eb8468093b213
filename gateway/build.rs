//! Rebuild when a migration is added or changed: `sqlx::migrate!()` embeds the files, but
//! cargo does not know it reads them.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
