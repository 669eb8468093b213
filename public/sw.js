// Tolem service worker: a bootstrap for the Rust worker, which lives in the app's own module
// (tolem-*_bg.wasm and its classic glue tolem-*.js: one download for the page and the worker).
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

// What the gateway itself serves on this origin, never the cashier app: the API, the console,
// the public pages (signature check, a card bill and its outcome on the customer's phone, a
// receipt's check — opened from its QR code, also on the cashier's own phone). The
// worker must leave them to the network untouched — answering a navigation there with the app's
// cached index.html would show the wrong page and drop the gateway's own security headers.
const SERVER_PATHS = ['/api/', '/console', '/verify', '/bill/', '/card/', '/receipt/'];

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin
      || SERVER_PATHS.some((prefix) => url.pathname.startsWith(prefix))) {
    return;
  }
  event.respondWith(ready.then((sw) => sw.respond(VERSION, request)));
});

// Background Sync (Chromium): the page registers this tag while payments wait, and the browser
// fires it when it believes the network is back. The Rust side rejects while payments still wait
// so the browser retries with its own backoff; no new sync is registered in the middle of one.
const SYNC_TAG = 'tolem-outbox';
self.addEventListener('sync', (event) => {
  if (event.tag === SYNC_TAG) {
    event.waitUntil(ready.then((sw) => sw.replay('sync')));
  }
});

self.addEventListener('message', (event) => {
  // The page sends this when the cashier presses "Update" (src/service_worker.rs).
  // Only if this version reads everything waiting in the outbox (checked at install too; what
  // waits may have changed since): otherwise it stays waiting and the running version keeps
  // the payments. The guarantee is explained in outbox/src/compat.rs.
  if (event.data === 'SKIP_WAITING') {
    event.waitUntil(ready.then((sw) => sw.may_take_over()).then(() => self.skipWaiting()));
  }
  // The page sends this when payments wait (src/replay.rs); a replay already running keeps it.
  if (event.data === 'REPLAY_OUTBOX') {
    event.waitUntil(ready.then((sw) => sw.replay('message')).catch(() => {}));
  }
});

// Safari and Firefox have no Background Sync: whenever the worker wakes, it looks at the outbox.
// Not tied to an event, so the browser may stop the worker half-way; a payment left "sending"
// is settled by its status query next time.
ready.then((sw) => sw.replay('start')).catch(() => {});
