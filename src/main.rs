//! Entry point of the cashier app: everything lives in the library so tests can mount it.
//!
//! The same module is the service worker too (issue 14): `public/sw.js` loads this build's glue
//! and wasm, so a first visit downloads them once, not twice. Linking `tolem_sw` keeps its entry
//! points (`install`, `activate`, `respond`, `replay`, `may_take_over`) among the exports.
use tolem_sw as _;

fn main() {
    // `main` runs wherever the module is instantiated; only a page has a window to mount into.
    // In the service worker there is none (`Window` is not even defined there): nothing to do,
    // sw.js calls the worker's entry points itself.
    if web_sys::window().is_none() {
        return;
    }
    console_error_panic_hook::set_once();
    // index.html's first paint (`#boot`, issue 14): the top bar and main menu as the app renders
    // them on a first visit, in Russian, styled by the same CSS, painted before the wasm arrives
    // (on any other address only the bar). Inert, and without the titles and labels nobody
    // sees: nothing there works. It stays until the app's first screen is built, five tasks after
    // the one that mounts it (`app::Shell`), and style.css hides what the app mounts meanwhile;
    // the app renders the same bar and menu in the same place: nothing moves.
    // A cashier who chose Kazakh or English sees it from the first screen: the release build
    // fetches that catalogue (from the worker's cache once installed) before the app is built.
    wasm_bindgen_futures::spawn_local(async {
        let _ = tolem::i18n::load(tolem::language::remembered_language()).await;
        // Not in the task that instantiated the module: a slow phone answers a tap in between.
        tolem::task::sleep(std::time::Duration::ZERO).await;
        leptos::mount::mount_to_body(tolem::App);
    });
}
