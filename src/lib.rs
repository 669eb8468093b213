//! Tolem cashier app: an offline-first payment point that runs in a phone's browser.
//!
//! Layout: `app` wires the router and the page frame; `pages/` holds one module per screen of the
//! main menu; `components/` the pieces every page shares (header, connection indicator, update
//! prompt); `language` and `connection` and `service_worker` are the app's links to the browser.

// The macro is deprecated in favour of build.rs code generation, but that path compiles the ICU
// data exporter into every build; on two cores the macro is minutes faster and generates the same
// compile-time-checked catalogue from `src/i18n/locales/*.json`.
#[allow(deprecated)]
mod catalogue {
    leptos_i18n::load_locales!();
}
pub use catalogue::i18n;

pub mod app;
pub mod components;
pub mod connection;
pub mod language;
pub mod pages;
pub mod service_worker;

pub use app::App;
