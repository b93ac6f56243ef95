// The groups a monitor shows, in Chromium, on every backend: the queue page's section and
// the groups page, with each group's queued and running jobs, own limits and hold, as the store says.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkqError, SkunkQueue } from '@skq/core';
import { leaseOf } from '@skq/core/backend';
import { launchChromium, missingChromium } from '@skq/testing';
import { startMonitorServer, type MonitorServer } from '@skq/web';
import { browserStores, type BrowserStore } from './browser-stores.js';

const TOKEN = 'groups-browser-token-0123456789';
const browserMissing = missingChromium();

const BACKENDS = browserStores('monitor-groups', 26);

describe.skipIf(browserMissing !== null).each(BACKENDS)(`the groups in the monitor, in Chromium, on %s${browserMissing ? ` (skipped: ${browserMissing})` : ''}`, (_kind, missing, open) => {
  let store: BrowserStore;
  let queue: SkunkQueue;
  let server: MonitorServer;
  let browser: Browser;
  let page: Page;
  let heldUntil = 0;
  const row = (group: string) => page.locator(`tr[data-group="${group}"]`);

  beforeAll(async () => {
    if (missing) return;
    store = await open();
    queue = new SkunkQueue('groupq', { backend: store.backend });
    const call = queue.job({ name: 'call', routes: ['r'], group: (tenant: string) => tenant }, async (tenant: string) => tenant);
    await queue.setGroupLimits('*', { concurrency: 2 });
    await queue.setGroupLimits('<b>vip</b>', { concurrency: 5, rate: { max: 100, perMs: 60_000 } });
    await queue.pushMany([call.with('acme'), call.with('acme'), call.with('acme'), call.with('<b>vip</b>'), call.with('held')]);
    // One claim as a worker makes it: acme's limit lets two run; held's job is rate limited, which holds its group.
    const backend = await queue.backend();
    const { deliveries } = await backend.claim({ queue: 'groupq', route: 'r', workerId: 'w1', limit: 10, leaseMs: 60_000 });
    const held = deliveries.find((d) => d.group === 'held')!;
    heldUntil = Date.now() + 600_000;
    await backend.fail('groupq', leaseOf(held), { error: new SkqError('INVALID_STATE', '429').toJSON(), retryAt: heldUntil, rateLimited: { holdGroupUntil: heldUntil } });
    server = await startMonitorServer({ backend: store.backend, queues: ['groupq'], port: 0, token: TOKEN });
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/?token=${TOKEN}`);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await queue?.close();
    await store?.stop();
  }, 60_000);

  it.skipIf(missing !== null)('shows the groups on the queue page, as the store counts them, with keys escaped', async () => {
    await page.goto(`${server.url}/queues/groupq`);
    await page.locator('section.groups').waitFor();
    expect(await row('acme').locator('[data-field="queued"]').textContent()).toBe('1');
    expect(await row('acme').locator('[data-field="running"]').textContent()).toBe('2');
    expect(await row('acme').locator('[data-field="limits"]').textContent()).toBe('default');
    expect(await row('<b>vip</b>').locator('td').first().textContent()).toBe('<b>vip</b>');
    expect(await row('<b>vip</b>').locator('[data-field="limits"]').textContent()).toBe('5 at once, 100 per 60 s');
    // Escaped: the key is text, not markup.
    expect(await page.locator('section.groups b').count()).toBe(0);
  });

  it.skipIf(missing !== null)('lists every group on the groups page with the default limits and the hold', async () => {
    await page.goto(`${server.url}/queues/groupq`);
    await page.getByRole('link', { name: 'Groups', exact: true }).click();
    await page.locator('h1', { hasText: 'Groups of groupq' }).waitFor();
    expect(await page.locator('p', { hasText: 'Every group without limits of its own: 2 at once.' }).count()).toBe(1);
    expect(await page.locator('tr[data-group]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-group')))).toEqual(['<b>vip</b>', 'acme', 'held']);
    expect(await row('held').locator('[data-field="queued"]').textContent()).toBe('1');
    expect(await row('held').locator('[data-field="held"]').textContent()).not.toBe('');
    expect((await queue.groups()).groups.find((g) => g.group === 'held')?.limitedUntil).toBe(heldUntil);
  });
});
