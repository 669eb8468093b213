// How fast a returning cashier reaches the payment screens on a slow phone (issue 14): the
// payment screens are a chunk of the module (src/pages/lazy.rs), so this times what that costs
// where it is felt. Each run is a new profile: one visit installs the service worker; then, with
// the processor slowed 4× and the line throttled to Lighthouse's slow 4G, the cashier comes back
// and (a) opens the app at /pay, timed from the navigation's start until the provider screen
// shows, and (b) opens the main menu and taps *Payments* once the start-up is quiet, timed from
// the tap until the provider screen shows.
// Usage: node pay-open.mjs URL [RUNS]   (scripts/start-tasks.sh builds and serves the app)
import { launch, median, quiet, slowDown } from './slow-phone.mjs';

const [url, runs = '5'] = process.argv.slice(2);
// What only the provider screen shows, whatever the catalogue holds.
const PROVIDERS = '#provider-search, #providers-empty, #providers-loading';

const browser = await launch();
const rows = [];
for (let run = 1; run <= Number(runs); run++) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  // The first visit, at full speed: the worker installs, precaches the build and takes control.
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => !!navigator.serviceWorker.controller, { timeout: 60000 });
  await slowDown(page);
  // (a) The app opened at the provider list.
  await page.goto(new URL('/pay', url).href, { waitUntil: 'load' });
  await page.waitForSelector(PROVIDERS, { timeout: 60000 });
  const atPay = await page.evaluate(() => performance.now());
  // (b) The main menu, then a tap on Payments once the start-up is over.
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('a.tile-pay', { timeout: 60000 });
  await quiet(page, 1000);
  const tap = await page.evaluate(selector => new Promise(resolve => {
    const start = performance.now();
    const done = () => document.querySelector(selector) && (observer.disconnect(), resolve(performance.now() - start), true);
    const observer = new MutationObserver(done);
    observer.observe(document, { childList: true, subtree: true });
    document.querySelector('a.tile-pay').click();
    done();
  }), PROVIDERS);
  await context.close();
  rows.push({ atPay, tap });
}
await browser.close();

console.log(`the payment screens on a returning visit, processor slowed 4x, slow 4G, ${runs} runs (ms):`);
for (const [i, r] of rows.entries()) {
  console.log(`  run ${i + 1}: opened at /pay, the provider screen at ${r.atPay.toFixed(0)}; ` +
    `a tap on Payments in the menu to the provider screen ${r.tap.toFixed(0)}`);
}
console.log(`  median: opened at /pay ${median(rows, r => r.atPay).toFixed(0)}, a tap on Payments ${median(rows, r => r.tap).toFixed(0)}`);
