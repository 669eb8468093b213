//! The worker's global scope and the promise plumbing every entry point needs.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, CacheStorage, ServiceWorkerGlobalScope};

/// The service worker's `self`.
pub fn worker() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// `self.caches`.
pub fn caches() -> Result<CacheStorage, JsValue> {
    worker().caches()
}

/// Opens (creating if needed) the named cache.
pub async fn open_cache(name: &str) -> Result<Cache, JsValue> {
    Ok(JsFuture::from(caches()?.open(name)).await?.unchecked_into())
}
