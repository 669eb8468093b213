//! Answering the app's own requests: from this version's shell cache first, the network second.
//!
//! Cache-first is deliberate: the cached index.html and the hashed files it names belong to the
//! same version, so the app always opens whole — instantly, and with no network at all. New
//! versions arrive through a new worker, never by mixing files of two builds.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestMode, Response};

use crate::cache_name;
use crate::scope::{open_cache, worker};

/// The page every in-app address is served by (the app's router takes it from there).
const SHELL_PAGE: &str = "/index.html";

/// Responds to a GET of the app's origin (sw.js leaves the API and other requests alone).
#[wasm_bindgen]
pub async fn respond(version: String, request: Request) -> Result<Response, JsValue> {
    let cache = open_cache(&cache_name(&version)).await?;
    let cached = if request.mode() == RequestMode::Navigate {
        JsFuture::from(cache.match_with_str(SHELL_PAGE)).await?
    } else {
        JsFuture::from(cache.match_with_request(&request)).await?
    };
    if let Ok(response) = cached.dyn_into::<Response>() {
        return Ok(response);
    }
    Ok(JsFuture::from(worker().fetch_with_request(&request))
        .await?
        .unchecked_into())
}
