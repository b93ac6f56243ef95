import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, launchChromium, missingChromium, missingMongoServer, missingPostgres, missingServer } from '@skq/testing';
import { TOKEN, startMonitorStack, type MonitorStack, type StackBackend } from './monitor-stack.js';

const SCREENSHOTS = join(REPO, '.vitest/screenshots');
const browserMissing = missingChromium();
const BACKENDS: [StackBackend, string | null][] = [
  ['sqlite', null],
  ['redis', missingServer('redis-server', 'apt-get install redis-server')],
  ['mongodb', missingMongoServer('mongo-java-server')],
  ['postgres', missingPostgres()],
];

describe.skipIf(browserMissing !== null).each(BACKENDS)(`skunq web in Chromium on %s${browserMissing ? ` (skipped: ${browserMissing})` : ''}`, (kind, missing) => {
  let stack: MonitorStack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const shot = async (name: string) => {
    mkdirSync(join(SCREENSHOTS, kind), { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, kind, `${name}.png`), fullPage: true });
  };
  const jobPage = (id: string) => `${stack.url}queues/webq/jobs/${encodeURIComponent(id)}`;
  const acceptDialogs = (p: Page) => p.on('dialog', (d) => void d.accept());
  /** Marks the document, so a test can prove a change arrived without a reload. */
  const markDocument = () => page.evaluate(() => ((globalThis as unknown as { skqMark: number }).skqMark = 1));
  const stillSameDocument = () => page.evaluate(() => (globalThis as unknown as { skqMark?: number }).skqMark === 1);

  beforeAll(async () => {
    if (missing) return;
    stack = await startMonitorStack(kind);
    browser = await launchChromium();
    context = await browser.newContext();
    page = await context.newPage();
    acceptDialogs(page);
    await page.goto(`${stack.url}?token=${TOKEN}`);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 60_000);

  it.skipIf(missing !== null)('signs in with the printed link and loads the overview', async () => {
    expect(page.url()).toBe(stack.url);
    await expect.poll(() => page.title()).toBe('Overview · skunq');
    await page.locator('.queue-card[data-queue="webq"]').waitFor();
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name.startsWith('skq_monitor_'))).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    await shot('overview');
  });

  it.skipIf(missing !== null)('shows a fired job turn running, then succeeded, without reloading', async () => {
    const gate = join(stack.dir, 'gate-live');
    const id = await stack.produce('gated', [gate]);
    await page.goto(`${stack.url}queues/webq`);
    const row = page.locator(`tr[data-job-id="${id}"]`);
    await row.waitFor();
    await markDocument();
    await expect.poll(() => row.locator('[data-field="state"]').textContent(), { timeout: 20_000 }).toBe('running');
    writeFileSync(gate, '');
    await expect.poll(() => row.locator('[data-field="state"]').textContent(), { timeout: 20_000 }).toBe('succeeded');
    expect(await stillSameDocument()).toBe(true);
    await shot('queue');
    await page.goto(jobPage(id));
    await expect.poll(() => page.locator('h1 [data-field="state"]').textContent()).toBe('succeeded');
    expect(await page.locator('table.logs').textContent()).toContain('the gate opened');
    await shot('job');
  });

  it.skipIf(missing !== null)('cancels a delayed job from its page', async () => {
    const id = await stack.produce('echo', ['later'], 3_600_000);
    await page.goto(jobPage(id));
    expect(await page.locator('h1 [data-field="state"]').textContent()).toBe('scheduled');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => page.locator('h1 [data-field="state"]').textContent()).toBe('cancelled');
    expect(await page.locator('.notice').textContent()).toContain(`Cancelled job ${id}`);
  });

  it.skipIf(missing !== null)('retries a failed job, which then succeeds', async () => {
    const marker = join(stack.dir, 'marker');
    const id = await stack.produce('needs-marker', [marker]);
    await page.goto(jobPage(id));
    await expect.poll(() => page.locator('h1 [data-field="state"]').textContent(), { timeout: 20_000 }).toBe('failed');
    await page.reload();
    expect(await page.locator('.error-message').first().textContent()).toContain('is missing');
    expect(await page.locator('pre.stack').first().textContent()).toContain('monitor-jobs.ts');
    await shot('job-failed');
    writeFileSync(marker, '');
    await page.getByRole('button', { name: 'Retry' }).click();
    await expect.poll(() => page.locator('h1 [data-field="state"]').textContent(), { timeout: 20_000 }).toBe('succeeded');
    expect(await page.locator('ol.timeline').textContent()).toMatch(/attempt 1 failed/);
  });

  it.skipIf(missing !== null)('pauses a route so that claims stop, and resumes it', async () => {
    await page.goto(`${stack.url}queues/webq`);
    await page.locator('ul.route-list li', { hasText: 'main' }).getByRole('button', { name: 'pause' }).click();
    await page.locator('.notice', { hasText: 'Paused route main' }).waitFor();
    const id = await stack.produce('echo', ['while paused']);
    await page.goto(jobPage(id));
    // A paused route is never claimed: the job stays queued however long we look.
    const deadline = Date.now() + 2_000;
    while (Date.now() < deadline) {
      expect(await page.locator('h1 [data-field="state"]').textContent()).toBe('queued');
      await page.waitForTimeout(200);
    }
    await page.goto(`${stack.url}queues/webq`);
    await page.locator('ul.route-list li', { hasText: 'main' }).getByRole('button', { name: 'resume' }).click();
    await page.goto(jobPage(id));
    await expect.poll(() => page.locator('h1 [data-field="state"]').textContent(), { timeout: 20_000 }).toBe('succeeded');
  });

  it.skipIf(missing !== null)('renders the XSS payloads a job carries as text, and runs no script', async () => {
    const payloads = ['<script>window.skqXss = 1</script>', '"><img src=x onerror="window.skqXss = 2">', "'><svg onload=window.skqXss=3>"];
    const id = await stack.produce('echo', payloads);
    await page.goto(jobPage(id));
    await expect.poll(() => page.locator('h1 [data-field="state"]').textContent(), { timeout: 20_000 }).toBe('succeeded');
    await page.goto(`${stack.url}queues/webq?search=${encodeURIComponent(id)}`);
    await page.goto(jobPage(id));
    const text = await page.locator('main').textContent();
    for (const payload of payloads) expect(text).toContain(JSON.stringify(payload));
    expect(await page.locator('main img, main script, main svg[onload]').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { skqXss?: number }).skqXss)).toBeUndefined();
    await shot('job-xss');
  });

  it.skipIf(missing !== null)('refuses an action without the token, and one with a cookie but no CSRF token', async () => {
    const anonymous = await browser.newContext();
    const refused = await anonymous.request.post(`${stack.url}queues/webq/actions/pause`, { form: { _csrf: 'guess', back: '' }, maxRedirects: 0 });
    expect(refused.status()).toBe(401);
    await anonymous.close();
    const noCsrf = await context.request.post(`${stack.url}queues/webq/actions/pause`, { form: { back: '' }, maxRedirects: 0 });
    expect(noCsrf.status()).toBe(403);
    await page.goto(`${stack.url}queues/webq`);
    expect(await page.locator('h1 .badge.paused').count()).toBe(0);
  });

  it.skipIf(missing !== null)('shows the workers and schedules pages', async () => {
    await page.goto(`${stack.url}queues/webq/workers`);
    await page.locator(`tr[data-worker-id]`).first().waitFor();
    await shot('workers');
    await page.goto(`${stack.url}queues/webq/schedules`);
    await shot('schedules');
  });

  it.skipIf(missing !== null)('stops a worker gently from its page: the process exits 0 after its job', async () => {
    const worker = await stack.startWorker();
    // Only the new worker listens now, so it takes the gated job.
    stack.worker.child.kill('SIGTERM');
    expect(await stack.worker.exited).toBe(0);
    const gate = join(stack.dir, 'gate-stop');
    const id = await stack.produce('gated', [gate]);
    await page.goto(`${stack.url}queues/webq/workers`);
    const row = page.locator(`tr[data-worker-id*=":${worker.child.pid}:"], tr[data-worker-id]`).filter({ hasText: String(worker.child.pid) });
    await expect.poll(async () => (await row.textContent()) ?? '', { timeout: 20_000 }).toContain(id);
    await row.getByRole('button', { name: 'Stop gently' }).click();
    await page.locator('.notice', { hasText: 'obeyed' }).waitFor({ timeout: 20_000 });
    expect(worker.child.exitCode).toBeNull(); // Still running its job.
    writeFileSync(gate, '');
    expect(await worker.exited).toBe(0);
    await page.goto(jobPage(id));
    expect(await page.locator('h1 [data-field="state"]').textContent()).toBe('succeeded');
  });
});
