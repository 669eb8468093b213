// The app's start on a slow phone (issue 14): loads the page N times in Debian's
// Chromium with the processor slowed 4× and the line throttled to Lighthouse's slow 4G (its
// mobile settings, applied for real here, not simulated), traces the page's main thread, and
// prints its long tasks, what Lighthouse's total blocking time adds up, how many wasm functions
// V8 compiled there on their first call, and when the app's own screen replaced index.html's
// first paint: from then on a tap works. Lighthouse's time to interactive only says when the
// page's thread is quiet, which it is while the module downloads.
// Usage: node start-tasks.mjs URL [RUNS]   (scripts/start-tasks.sh builds and serves the app)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch, median, quiet, slowDown } from './slow-phone.mjs';

const [url, runs = '5'] = process.argv.slice(2);
const LONG_MS = 50; // a long task, as Lighthouse and the browser count them

const browser = await launch();
const rows = [];
for (let run = 1; run <= Number(runs); run++) {
  // A new profile each time: a first visit, nothing cached, no service worker yet.
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await slowDown(page);
  // The moment index.html's first paint (`#boot`) leaves: the app's screen is built then.
  await page.evaluateOnNewDocument(() => {
    new MutationObserver((changes, observer) => {
      if (changes.some(c => [...c.removedNodes].some(n => n.id === 'boot'))) {
        window.__tolemAppAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
  const file = path.join(os.tmpdir(), `tolem-start-${process.pid}-${run}.json`);
  await page.tracing.start({ path: file, categories: ['toplevel', 'devtools.timeline', 'v8', 'v8.execute', 'v8.wasm', 'disabled-by-default-v8.wasm.detailed'] });
  await page.goto(url, { waitUntil: 'load' });
  // The app has started when its screen replaced index.html's first paint and every start-up
  // job had its turn: then the main thread is quiet for a second.
  await page.waitForFunction(() => document.getElementById('boot') === null, { timeout: 60000 });
  await quiet(page, 1000);
  const appAt = await page.evaluate(() => window.__tolemAppAt);
  // When the app's module had arrived (its response's end): what the line took, before the start.
  const moduleAt = await page.evaluate(() =>
    performance.getEntriesByType('resource').find(e => /_bg\.wasm$/.test(e.name))?.responseEnd ?? NaN);
  await page.tracing.stop();
  await context.close();
  rows.push({ ...summarise(JSON.parse(fs.readFileSync(file, 'utf8'))), appAt, moduleAt });
  fs.rmSync(file);
}
await browser.close();

console.log(`the app's start, processor slowed 4x, slow 4G, ${runs} first visits (ms of main-thread time):`);
for (const [i, r] of rows.entries()) {
  console.log(`  run ${i + 1}: longest task ${r.longest.toFixed(0)}, blocking ${r.blocking.toFixed(0)} ` +
    `(${r.long} tasks over ${LONG_MS}), wasm functions compiled on first call ${r.lazy} taking ${r.lazyMs.toFixed(0)}, ` +
    `the module arrived at ${r.moduleAt.toFixed(0)}, the app's screen at ${r.appAt.toFixed(0)}`);
  console.log(`         tasks over ${LONG_MS} ms: ${r.tasks.map(t => `${t.ms.toFixed(0)} (${t.lazy} compiled)`).join(', ')}`);
}
console.log(`  median: longest task ${median(rows, r => r.longest).toFixed(0)}, blocking ${median(rows, r => r.blocking).toFixed(0)}, ` +
  `the module arrived at ${median(rows, r => r.moduleAt).toFixed(0)}, the app's screen at ${median(rows, r => r.appAt).toFixed(0)} ` +
  `(from the navigation's start)`);

function summarise(trace) {
  const events = trace.traceEvents ?? trace;
  const names = new Map(events.filter(e => e.name === 'thread_name').map(e => [`${e.pid}:${e.tid}`, e.args.name]));
  const onMain = events.filter(e => e.ph === 'X' && e.dur !== undefined && names.get(`${e.pid}:${e.tid}`) === 'CrRendererMain');
  // The page's main thread is the one that compiled the app's wasm.
  const counts = new Map();
  for (const e of onMain) if (e.name === 'wasm.CompileLazy') counts.set(`${e.pid}:${e.tid}`, (counts.get(`${e.pid}:${e.tid}`) ?? 0) + 1);
  const main = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const thread = onMain.filter(e => `${e.pid}:${e.tid}` === main).sort((a, b) => a.ts - b.ts);
  // Top-level events are the tasks: each one not inside the one before.
  const tops = [];
  let end = 0;
  for (const e of thread) if (e.ts >= end) { tops.push(e); end = e.ts + e.dur; }
  const lazy = thread.filter(e => e.name === 'wasm.CompileLazy');
  const inside = t => lazy.filter(e => e.ts >= t.ts && e.ts <= t.ts + t.dur).length;
  const ms = tops.map(t => t.dur / 1000);
  return {
    longest: Math.max(0, ...ms),
    blocking: ms.reduce((sum, d) => sum + Math.max(0, d - LONG_MS), 0),
    long: ms.filter(d => d > LONG_MS).length,
    tasks: tops.filter(t => t.dur / 1000 > LONG_MS).map(t => ({ ms: t.dur / 1000, lazy: inside(t) })),
    lazy: lazy.length,
    lazyMs: lazy.reduce((sum, e) => sum + e.dur, 0) / 1000,
  };
}
