import fs from 'node:fs';
import puppeteer from 'puppeteer-core';
const [url, runs = '2', rate = '1'] = process.argv.slice(2);
const browser = await puppeteer.launch({ executablePath: '/usr/lib/chromium/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'] });
for (let run = 1; run <= Number(runs); run++) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const cdp = await page.createCDPSession();
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: Number(rate) });
  const file = `/tmp/ts/run-${run}.json`;
  await page.tracing.start({ path: file, categories: ['toplevel', 'devtools.timeline', 'v8', 'v8.execute', 'v8.wasm', 'disabled-by-default-v8.wasm.detailed', 'blink.user_timing'] });
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => document.getElementById('boot') === null, { timeout: 60000 });
  await new Promise(r => setTimeout(r, 1500));
  await page.tracing.stop();
  await context.close();
}
await browser.close();
