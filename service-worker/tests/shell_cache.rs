//! Guards the service worker's shell cache inside a real service worker in Chromium: an update
//! reuses unchanged files instead of downloading them again, a failed install leaves nothing
//! half-done, requests are answered from the cache before the network, and activation removes
//! older versions but never another app's caches.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Cache, CacheStorage, Request, Response, ServiceWorkerGlobalScope};

wasm_bindgen_test_configure!(run_in_service_worker);

fn caches() -> CacheStorage {
    js_sys::global()
        .unchecked_into::<ServiceWorkerGlobalScope>()
        .caches()
        .unwrap()
}

async fn open(name: &str) -> Cache {
    JsFuture::from(caches().open(name))
        .await
        .unwrap()
        .unchecked_into()
}

async fn has_cache(name: &str) -> bool {
    JsFuture::from(caches().has(name))
        .await
        .unwrap()
        .as_bool()
        .unwrap()
}

async fn put(cache: &Cache, url: &str, body: &str) {
    let response = Response::new_with_opt_str(Some(body)).unwrap();
    JsFuture::from(cache.put_with_str(url, &response))
        .await
        .unwrap();
}

async fn body(response: &Response) -> String {
    JsFuture::from(response.text().unwrap())
        .await
        .unwrap()
        .as_string()
        .unwrap()
}

fn precache(immutable: &[&str], revalidate: &[&str]) -> JsValue {
    let list = |urls: &[&str]| urls.iter().map(|u| JsValue::from_str(u)).collect::<Array>();
    let object = Object::new();
    Reflect::set(&object, &"immutable".into(), &list(immutable)).unwrap();
    Reflect::set(&object, &"revalidate".into(), &list(revalidate)).unwrap();
    object.into()
}

#[wasm_bindgen_test]
async fn update_copies_unchanged_hashed_files_from_the_old_version() {
    let old = open("tolem-shell-v1").await;
    put(&old, "/app-1111111111111111.js", "app code v1").await;

    // No server has this file: it can only come from the old cache.
    tolem_sw::install("v2".into(), precache(&["/app-1111111111111111.js"], &[]))
        .await
        .unwrap();

    let new = open("tolem-shell-v2").await;
    let copied = JsFuture::from(new.match_with_str("/app-1111111111111111.js"))
        .await
        .unwrap();
    assert_eq!(body(copied.unchecked_ref()).await, "app code v1");
}

#[wasm_bindgen_test]
async fn failed_install_leaves_no_half_filled_cache() {
    let result = tolem_sw::install(
        "broken".into(),
        precache(&[], &["/no-such-page-in-this-build.html"]),
    )
    .await;
    assert!(
        result.is_err(),
        "a missing shell file must fail the install"
    );
    assert!(!has_cache("tolem-shell-broken").await);
}

#[wasm_bindgen_test]
async fn requests_are_answered_from_the_cache_first() {
    let cache = open("tolem-shell-r1").await;
    put(&cache, "/style-2222222222222222.css", "cached css").await;

    let request = Request::new_with_str("/style-2222222222222222.css").unwrap();
    let response = tolem_sw::respond("r1".into(), request).await.unwrap();
    assert_eq!(body(&response).await, "cached css");

    // Not in the shell: the network answers (here the test server's 404).
    let request = Request::new_with_str("/not-in-the-shell.txt").unwrap();
    let response = tolem_sw::respond("r1".into(), request).await.unwrap();
    assert_eq!(response.status(), 404);
}

#[wasm_bindgen_test]
async fn activation_removes_older_versions_only() {
    open("tolem-shell-old").await;
    open("tolem-shell-current").await;
    open("someone-elses-cache").await;

    // claim() may be refused when the test harness's worker is not the active one; the caches
    // are cleaned before it, which is what this test is about.
    let _ = tolem_sw::activate("current".into()).await;

    assert!(
        !has_cache("tolem-shell-old").await,
        "the old version must go"
    );
    assert!(has_cache("tolem-shell-current").await);
    assert!(
        has_cache("someone-elses-cache").await,
        "other caches are not ours to delete"
    );
}
