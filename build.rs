//! The release build splits the app's module (issue 14 item 1, the `split` feature): wasm-split
//! needs the linker's relocations to move code into chunks, so that one link keeps them. Every
//! other build (tests, clippy) links as before.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let split = std::env::var_os("CARGO_FEATURE_SPLIT").is_some();
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "wasm32");
    if split && wasm {
        println!("cargo:rustc-link-arg-bins=--emit-relocs");
    }
}
