import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { type JobEvent } from '@skq/core';
import { DEFAULT_RUN_OPTIONS, type NewJob, type StorageBackend } from '@skq/core/backend';

/** A unique queue name, so tests sharing a store never see each other's jobs. */
export function uniqueQueue(prefix = 'q'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A job to enqueue, with sensible defaults. */
export function newJob(queue: string, overrides: Partial<NewJob> = {}): NewJob {
  const now = Date.now();
  return {
    id: randomUUID(),
    queue,
    name: 'noop',
    args: [],
    routes: ['r'],
    type: 'direct',
    priority: 0,
    runAt: now,
    createdAt: now,
    options: { ...DEFAULT_RUN_OPTIONS, attempts: 3 },
    dedupeKey: null,
    ...overrides,
  };
}

/** Waits until `check` holds, polling; throws with `what` after `timeoutMs`. */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = undefined; // an error from an earlier poll is not why this one failed
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Records a queue's events. */
export async function recordEvents(backend: StorageBackend, queue: string): Promise<{ events: JobEvent[]; stop: () => Promise<void> }> {
  const events: JobEvent[] = [];
  const stop = await backend.subscribe(queue, (event) => events.push(event));
  return { events, stop };
}

/** A SQLite backend URL in a fresh temporary folder, and a way to delete the folder. */
export function tempSqlite(prefix: string): { url: string; dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `skq-${prefix}-`));
  return { url: `sqlite:${join(dir, `${prefix}.db`)}`, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
