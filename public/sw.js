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
// The module from the precache first: a worker's own fetches skip its fetch handler and go to
// the HTTP cache or the network, so a worker restarted offline after the HTTP cache let the file
// go (or online after a deploy removed this build's hashed file) would never get ready, and
// every navigation would fail. The glue awaits module_or_path, a Promise<Response> included.
const WASM_URL = '__TOLEM_SW_WASM__';
const ready = wasm_bindgen({
  module_or_path: caches.match(WASM_URL).then((r) => r || fetch(WASM_URL), () => fetch(WASM_URL)),
}).then(() => wasm_bindgen);

// Safari and Firefox have no Background Sync: whenever the worker wakes, it looks at the outbox.
// Only the active worker does, once per lifetime: right after it activates, and at its first
// fetch (only an active worker gets fetches). Never while the script is evaluated — a new
// build's worker that is only installing would open IndexedDB with its own DB_VERSION
// (outbox/src/db.rs) and could upgrade the database under the running build, before the
// compatibility check (outbox/src/compat.rs) and before the cashier pressed Update. The browser
// may still stop the worker half-way; a payment left "sending" is settled by its status query
// next time.
let startReplay = null;
function replayOnWake() {
  if (startReplay === null) {
    startReplay = ready.then((sw) => sw.replay('start')).catch(() => {});
  }
  return startReplay;
}

self.addEventListener('install', (event) => {
  event.waitUntil(ready.then((sw) => sw.install(VERSION, PRECACHE)));
});

self.addEventListener('activate', (event) => {
  // The replay starts once activation is done but does not extend it: fetches wait for an
  // activating worker, and a replay on a slow line would hold every navigation back.
  event.waitUntil(ready.then((sw) => sw.activate(VERSION)).then(() => { replayOnWake(); }));
});

// What the gateway itself serves on this origin, never the cashier app: the API, the console,
// the public pages (signature check, a card bill and its outcome on the customer's phone, a
// receipt's check — opened from its QR code, also on the cashier's own phone), the metrics and
// the local certificate authority a phone downloads to trust the gateway on a LAN. The worker
// must leave them to the network untouched — answering a navigation there with the app's
// cached index.html would show the wrong page and drop the gateway's own security headers.
const SERVER_PATHS = [
  '/api/', '/console', '/verify', '/bill/', '/card/', '/receipt/', '/metrics', '/lan-ca.crt',
];

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin
      || SERVER_PATHS.some((prefix) => url.pathname.startsWith(prefix))) {
    return;
  }
  event.waitUntil(replayOnWake());
  // If the module never loads, the page still gets the network: the worker's failure must not
  // block the app while the gateway is in reach.
  event.respondWith(ready.then((sw) => sw.respond(VERSION, request)).catch(() => fetch(request)));
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
