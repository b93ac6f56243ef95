// Makes the README's screenshots of the monitor from a seeded demo: docs/screenshots/{overview,job}.png.
// It fills a temporary SQLite file with a few hundred jobs (run by an in-process worker pool: some
// succeed, some fail, some wait), starts the monitor on it, and shoots the pages with Debian's Chromium.
//
//   pnpm screenshots
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SkunkQueue, currentJob } from '@skq/core';
import { launchChromium } from '@skq/testing/browser';
import { startMonitorServer } from '@skq/web';
import { WorkerPool } from '@skq/worker';

const OUT = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'skq-screenshots-'));
const backend = `sqlite:${join(dir, 'demo.db')}`;
const queue = new SkunkQueue('demo', { backend });

const add = queue.job({ name: 'add', routes: ['math'], args: z.tuple([z.number(), z.number()]) }, async (a, b) => a + b);
const resize = queue.job({ name: 'resize-image', routes: ['images'], retry: 2 }, async (file: string, width: number) => {
  const ctx = currentJob();
  for (let step = 1; step <= 4; step += 1) ctx.progress({ step, of: 4 });
  ctx.log(`resized ${file} to ${width}px`);
  if (file.endsWith('.tiff')) throw new Error(`cannot decode ${file}: unsupported TIFF compression`);
  return { file: file.replace(/\.\w+$/, `-${width}.webp`), bytes: 48_213 };
});
const email = queue.job({ name: 'send-email', routes: ['mail'] }, async (to: string, subject: string) => ({ to, subject, messageId: `<${to.length}@mail.example>` }));

const pool = new WorkerPool({ queue, routes: ['math', 'images', 'mail'], concurrency: 4, logger: { warn() {}, info() {} } });
await pool.start();
const handles = [];
for (let i = 0; i < 120; i += 1) handles.push(await add.fire(i, i * 2));
for (let i = 0; i < 60; i += 1) handles.push(await resize.fire(`photo-${i}.${i % 12 === 0 ? 'tiff' : 'jpg'}`, 640));
for (let i = 0; i < 80; i += 1) handles.push(await email.fire(`user${i}@example.com`, 'Your weekly report'));
const both = await queue.push(resize.with('cover.png', 1200).and(email.with('ops@example.com', 'Cover resized')));
handles.push(both);
await Promise.all(handles.map((h) => h.result({ timeoutMs: 60_000 }).catch(() => undefined)));
for (let i = 0; i < 15; i += 1) await email.fireAt({ hours: 1 + i }, `later${i}@example.com`, 'Reminder');
await queue.schedule('nightly-report', email.with('team@example.com', 'Nightly report'), { every: { hours: 24 } });
await pool.close();

const server = await startMonitorServer({ backend, port: 0 });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${server.url}/?token=${server.token}`);
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: join(OUT, 'overview.png'), fullPage: true });
  await page.goto(`${server.url}/queues/demo/jobs/${encodeURIComponent(both.id)}`);
  await page.screenshot({ path: join(OUT, 'job.png'), fullPage: true });
  const failed = (await queue.list({ state: 'failed', limit: 1 })).jobs[0];
  if (failed) {
    await page.goto(`${server.url}/queues/demo/jobs/${encodeURIComponent(failed.id)}`);
    await page.screenshot({ path: join(OUT, 'job-failed.png'), fullPage: true });
  }
  await page.goto(`${server.url}/queues/demo?state=succeeded`);
  await page.screenshot({ path: join(OUT, 'queue.png'), fullPage: false });
  console.log(`screenshots written to ${OUT}`);
} finally {
  await browser.close();
  await server.close();
  await queue.close();
  rmSync(dir, { recursive: true, force: true });
}
