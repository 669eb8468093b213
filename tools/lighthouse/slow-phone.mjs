// What the measuring scripts (start-tasks.mjs, pay-open.mjs) share: Debian's Chromium driven by
// puppeteer-core, and a page slowed down like Lighthouse's mobile settings, but for real.
import puppeteer from 'puppeteer-core';

export function launch() {
  return puppeteer.launch({
    executablePath: process.env.CHROME_PATH ?? '/usr/lib/chromium/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
  });
}

// The processor slowed 4× and the line throttled to Lighthouse's "slow 4G": 150 ms round
// trips, 1.6 Mbit/s down, 750 kbit/s up.
export async function slowDown(page) {
  const cdp = await page.createCDPSession();
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 150, downloadThroughput: 1.6 * 1024 * 1024 / 8, uploadThroughput: 750 * 1024 / 8,
  });
}

// Resolves once no long task has run on the page for `ms`.
export async function quiet(page, ms) {
  await page.evaluate(ms => new Promise(resolve => {
    let timer = setTimeout(resolve, ms);
    new PerformanceObserver(() => { clearTimeout(timer); timer = setTimeout(resolve, ms); })
      .observe({ type: 'longtask', buffered: false });
  }), ms);
}

// The median of `rows` by `f`.
export function median(rows, f) {
  return rows.map(f).sort((a, b) => a - b)[Math.floor(rows.length / 2)];
}
