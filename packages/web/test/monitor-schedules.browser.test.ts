// The schedules page's actions, clicked in Chromium, on every backend: pause, resume and remove a
// schedule, each checked in the store as well as on the page. The monitor runs in this process, so
// FoundationDB's simulator (which lives in one process) is covered like the servers.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkunkQueue } from '@skq/core';
import { launchChromium, missingChromium } from '@skq/testing';
import { startMonitorServer, type MonitorServer } from '@skq/web';
import { browserStores, type BrowserStore } from './browser-stores.js';

const TOKEN = 'schedules-browser-token-0123456789';
const browserMissing = missingChromium();

const BACKENDS = browserStores('monitor-schedules', 21);

describe.skipIf(browserMissing !== null).each(BACKENDS)(`the schedules page in Chromium on %s${browserMissing ? ` (skipped: ${browserMissing})` : ''}`, (_kind, missing, open) => {
  let store: BrowserStore;
  let queue: SkunkQueue;
  let server: MonitorServer;
  let browser: Browser;
  let page: Page;
  const row = (id: string) => page.locator(`tr[data-schedule-id="${id}"]`);
  const stored = async (id: string) => (await queue.schedules()).find((s) => s.id === id);

  beforeAll(async () => {
    if (missing) return;
    store = await open();
    queue = new SkunkQueue('schedq', { backend: store.backend });
    const tick = queue.job({ name: 'tick', routes: ['r'] }, async (n: number) => n);
    await queue.schedule('nightly.report', tick.with(1), { cron: '0 3 * * *' });
    await queue.schedule('hourly', tick.with(2), { every: { hours: 1 } });
    server = await startMonitorServer({ backend: store.backend, queues: ['schedq'], port: 0, token: TOKEN });
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${server.url}/?token=${TOKEN}`);
    await page.goto(`${server.url}/queues/schedq/schedules`);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await queue?.close();
    await store?.stop();
  }, 60_000);

  it.skipIf(missing !== null)('pauses a schedule, then resumes it, in the store and on the page', async () => {
    await row('nightly.report').getByRole('button', { name: 'Pause' }).click();
    await page.locator('.notice', { hasText: 'Paused schedule nightly.report.' }).waitFor();
    expect(await row('nightly.report').locator('.badge.paused').count()).toBe(1);
    expect((await stored('nightly.report'))?.paused).toBe(true);
    expect((await stored('hourly'))?.paused).toBe(false);

    await row('nightly.report').getByRole('button', { name: 'Resume' }).click();
    await page.locator('.notice', { hasText: 'Resumed schedule nightly.report.' }).waitFor();
    expect(await row('nightly.report').locator('.badge.paused').count()).toBe(0);
    expect(await row('nightly.report').getByRole('button', { name: 'Pause' }).count()).toBe(1);
    expect((await stored('nightly.report'))?.paused).toBe(false);
  });

  it.skipIf(missing !== null)('removes a schedule after confirming, and keeps the others', async () => {
    await row('hourly').getByRole('button', { name: 'Remove' }).click();
    await page.locator('.notice', { hasText: 'Removed schedule hourly.' }).waitFor();
    expect(await row('hourly').count()).toBe(0);
    expect(await row('nightly.report').count()).toBe(1);
    expect(await stored('hourly')).toBeUndefined();
    expect((await queue.schedules()).map((s) => s.id)).toEqual(['nightly.report']);
  });

  it.skipIf(missing !== null)('keeps a schedule when its removal is not confirmed', async () => {
    page.removeAllListeners('dialog');
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.dismiss();
    });
    await row('nightly.report').getByRole('button', { name: 'Remove' }).click();
    expect(asked).toBe('Remove schedule nightly.report?');
    // A dismissed confirmation submits nothing: the page and the store keep the schedule.
    expect(page.url()).toBe(`${server.url}/queues/schedq/schedules`);
    expect(await row('nightly.report').count()).toBe(1);
    expect(await stored('nightly.report')).toBeDefined();
  });
});
