// Tolem service worker: a bootstrap for the Rust worker in tolem-sw-*.wasm.
//
// Browsers only deliver events to listeners registered while this script first runs, and the
// wasm module loads asynchronously, so every listener is registered here, synchronously, and
// hands its event to Rust inside event.waitUntil / event.respondWith once the module is ready.
// scripts/build-app.sh (xtask finish-dist) fills in the placeholders below; because they change
// with every build, a new build is a new worker byte-for-byte and browsers install it.
'use strict';

const VERSION = '__TOLEM_VERSION__';
// { immutable: [content-hashed URLs], revalidate: [URLs whose content changes under one name] }
const PRECACHE = __TOLEM_PRECACHE__;

importScripts('__TOLEM_SW_GLUE__');
const ready = wasm_bindgen({ module_or_path: '__TOLEM_SW_WASM__' }).then(() => wasm_bindgen);

self.addEventListener('install', (event) => {
  event.waitUntil(ready.then((sw) => sw.install(VERSION, PRECACHE)));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(ready.then((sw) => sw.activate(VERSION)));
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // The API is never answered by the worker's shell cache: it goes to the network untouched.
  if (request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.startsWith('/api/')) {
    return;
  }
  event.respondWith(ready.then((sw) => sw.respond(VERSION, request)));
});

self.addEventListener('message', (event) => {
  // The page sends this when the cashier presses "Update" (src/service_worker.rs).
  if (event.data === 'SKIP_WAITING') {
    event.waitUntil(self.skipWaiting());
  }
});
