//! Installing one version of the app shell, and retiring the older ones (called through
//! [`crate::lifecycle`]).

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use web_sys::{Cache, Request, RequestCache, RequestInit, Response};

use crate::scope::{caches, open_cache, worker};
use crate::{CACHE_PREFIX, cache_name};

/// Precaches a version of the shell: every URL of `revalidate` is fetched fresh (index.html, the
/// manifest: names that do not change between versions), and every URL of `immutable` (names with
/// a content hash) is copied from an older version's cache when present — on a 128 kbit/s line an
/// update should download only what changed. All or nothing: if one file fails, install fails and
/// the browser keeps the old version and tries again later.
pub async fn install(version: String, precache: JsValue) -> Result<(), JsValue> {
    let immutable = string_list(&js_sys::Reflect::get(&precache, &"immutable".into())?);
    let revalidate = string_list(&js_sys::Reflect::get(&precache, &"revalidate".into())?);
    let cache = open_cache(&cache_name(&version)).await?;

    let stores = Array::new();
    for url in immutable {
        stores.push(&future_to_promise(store(cache.clone(), url, true)));
    }
    for url in revalidate {
        stores.push(&future_to_promise(store(cache.clone(), url, false)));
    }
    if let Err(error) = JsFuture::from(Promise::all(&stores)).await {
        // Leave no half-filled cache behind: a later install starts clean.
        let _ = JsFuture::from(caches()?.delete(&cache_name(&version))).await;
        return Err(error);
    }
    // Never installed, never activated: a version that cannot read what waits in the outbox
    // fails its install and the browser keeps the running one (see `tolem_outbox::compat`).
    if let Err(error) = may_take_over().await {
        let _ = JsFuture::from(caches()?.delete(&cache_name(&version))).await;
        return Err(error);
    }
    Ok(())
}

/// Whether this version may take over from the running one: everything waiting in the outbox
/// is in a format it reads ([`tolem_outbox::compat`]). Checked in [`install`], and again by
/// `sw.js` before `skipWaiting` when the cashier presses *Update* (what waits may have changed
/// since the install).
pub async fn may_take_over() -> Result<(), JsValue> {
    tolem_outbox::compat::may_take_over()
        .await
        .map_err(|error| {
            let text = format!("this version cannot take over yet: {error}");
            web_sys::console::warn_1(&JsValue::from_str(&text));
            JsValue::from_str(&text)
        })
}

/// Deletes the shells of older versions and takes control of open pages, so a first visit is
/// served by the worker (and works offline) without a reload.
pub async fn activate(version: String) -> Result<(), JsValue> {
    let storage = caches()?;
    let current = cache_name(&version);
    for name in string_list(&JsFuture::from(storage.keys()).await?) {
        if name.starts_with(CACHE_PREFIX) && name != current {
            JsFuture::from(storage.delete(&name)).await?;
        }
    }
    JsFuture::from(worker().clients().claim()).await?;
    Ok(())
}

/// Puts one URL into `cache`, reusing an older version's copy for content-hashed names.
async fn store(cache: Cache, url: String, immutable: bool) -> Result<JsValue, JsValue> {
    if immutable {
        let previous = JsFuture::from(caches()?.match_with_str(&url)).await?;
        if let Some(response) = previous.dyn_ref::<Response>() {
            JsFuture::from(cache.put_with_str(&url, response)).await?;
            return Ok(JsValue::UNDEFINED);
        }
    }
    let init = RequestInit::new();
    // Bypass the HTTP cache's heuristics for unhashed names: the shell must match this version.
    init.set_cache(if immutable {
        RequestCache::Default
    } else {
        RequestCache::NoCache
    });
    let request = Request::new_with_str_and_init(&url, &init)?;
    let response: Response = JsFuture::from(worker().fetch_with_request(&request))
        .await?
        .unchecked_into();
    if !response.ok() {
        return Err(JsValue::from_str(&format!(
            "precache {url}: HTTP {}",
            response.status()
        )));
    }
    JsFuture::from(cache.put_with_str(&url, &response)).await?;
    Ok(JsValue::UNDEFINED)
}

/// A JS array of strings as Rust strings (anything else in it is skipped).
fn string_list(value: &JsValue) -> Vec<String> {
    Array::from(value)
        .iter()
        .filter_map(|v| v.as_string())
        .collect()
}
