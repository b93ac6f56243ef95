import type { ServerResponse } from 'node:http';
import { type JobEvent, type JobRecord, type StateCounts } from '@skq/core';
import { JOB_STATES, type StorageBackend } from '@skq/core/backend';
import { JOB_PAGE_JSON_LIMIT, previewJson } from './json-preview.js';

/** How often a stream sends what gathered since its last send: thousands of events a second become 4 messages. */
const FLUSH_MS = 250;
/** Counts are read again at most this often per queue, and only while its events flow. */
const COUNTS_MS = 1_000;
/** A comment line keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;
/** Job ids a stream may follow (a page of a listing). */
export const MAX_WATCHED_JOBS = 200;

/** What a stream sends about a job it follows. */
export interface JobUpdate {
  id: string;
  state: JobRecord['state'] | 'removed';
  attempts: number;
  /** The progress as JSON text, cut at what a job page shows (so a message stays a few KB a job), or null. */
  progress: string | null;
  finishedAt: number | null;
}

/**
 * One browser tab's stream. What happened since its last message is kept here, merged (a set of
 * job ids, a count, a flag, the latest counts per queue), so it stays this size however long the
 * tab takes to read: a tab that stops reading is sent nothing more until it has taken what it was sent.
 */
interface Client {
  res: ServerResponse;
  queues: string[];
  watched: Set<string>;
  changed: Set<string>;
  added: number;
  /** The queue or a worker changed (pause, command): the page may want to read itself again. */
  refresh: boolean;
  /** The latest counts of each queue not yet sent. */
  counts: Map<string, StateCounts>;
  timer: NodeJS.Timeout | null;
}

/** One queue's backend subscription, shared by every stream that shows the queue. */
interface QueueTap {
  clients: Set<Client>;
  unsubscribe: Promise<() => Promise<void>>;
  countsDirty: boolean;
  countsTimer: NodeJS.Timeout | null;
  lastCountsAt: number;
}

/**
 * Server-sent events for the monitor's pages. Each queue is subscribed to once, whatever the
 * number of tabs; each tab's stream coalesces what happened into one message per
 * {@link FLUSH_MS}: the jobs it follows (re-read, so a job's state is its aggregate, never guessed
 * from one event), how many jobs were added, and the queue's counts at most once a second.
 */
export class LiveFeed {
  private readonly taps = new Map<string, QueueTap>();
  private readonly clients = new Set<Client>();
  private readonly keepalive: NodeJS.Timeout;

  constructor(
    private readonly backend: () => Promise<StorageBackend>,
    private readonly readCounts: (queue: string, fresh: boolean) => Promise<StateCounts>,
  ) {
    this.keepalive = setInterval(() => {
      for (const client of this.clients) if (!stalled(client)) client.res.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  /** Starts a stream on `res` for `queues`, following `jobIds`; it ends when the browser goes away. */
  async open(res: ServerResponse, queues: string[], jobIds: string[]): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    // A dropped stream is reopened by the browser after this many ms.
    res.write('retry: 2000\n\n');
    const client: Client = { res, queues, watched: new Set(jobIds.slice(0, MAX_WATCHED_JOBS)), changed: new Set(), added: 0, refresh: false, counts: new Map(), timer: null };
    this.clients.add(client);
    res.on('close', () => this.drop(client));
    for (const queue of queues) this.tap(queue).clients.add(client);
    // The first counts come at once, so a reconnected tab catches up with what it missed; then the
    // jobs followed, which may have moved while the page was on its way.
    await Promise.all(
      queues.map(async (queue) => {
        const counts = await this.countsFor(queue, false);
        if (counts) client.counts.set(queue, counts);
      }),
    );
    for (const id of client.watched) client.changed.add(id);
    await this.flush(client);
  }

  async close(): Promise<void> {
    clearInterval(this.keepalive);
    for (const client of [...this.clients]) client.res.end();
    await Promise.all([...this.taps.keys()].map((queue) => this.untap(queue)));
  }

  private tap(queue: string): QueueTap {
    let tap = this.taps.get(queue);
    if (tap) return tap;
    const created: QueueTap = { clients: new Set(), unsubscribe: Promise.resolve(async () => {}), countsDirty: false, countsTimer: null, lastCountsAt: 0 };
    created.unsubscribe = this.backend().then((b) => b.subscribe(queue, (event) => this.onEvent(created, event)));
    created.unsubscribe.catch(() => {}); // The stream still serves counts; events resume on the next open.
    this.taps.set(queue, created);
    return created;
  }

  private onEvent(tap: QueueTap, event: JobEvent): void {
    for (const client of tap.clients) {
      if (event.jobId !== null && client.watched.has(event.jobId)) client.changed.add(event.jobId);
      if (event.type === 'enqueued') client.added += 1;
      if (event.type === 'paused' || event.type === 'resumed' || event.type === 'worker-command') client.refresh = true;
      this.schedule(client);
    }
    if (event.type !== 'progress') {
      tap.countsDirty = true;
      this.scheduleCounts(event.queue, tap);
    }
  }

  private schedule(client: Client): void {
    if (client.timer) return;
    client.timer = setTimeout(() => void this.flush(client), FLUSH_MS);
  }

  private async flush(client: Client): Promise<void> {
    if (client.timer) clearTimeout(client.timer);
    client.timer = null;
    if (!this.clients.has(client)) return;
    if (stalled(client)) {
      // Look again later; what happens meanwhile merges into what is pending.
      this.schedule(client);
      return;
    }
    for (const [queue, counts] of client.counts) send(client, 'counts', { queue, counts });
    client.counts.clear();
    const ids = [...client.changed];
    client.changed.clear();
    if (ids.length) {
      const updates = await this.read(client.queues, ids);
      if (updates.length) send(client, 'jobs', updates);
    }
    if (client.added) {
      send(client, 'added', { count: client.added });
      client.added = 0;
    }
    if (client.refresh) {
      send(client, 'refresh', {});
      client.refresh = false;
    }
  }

  /** The followed jobs' current state; a job that is gone is reported `removed`. */
  private async read(queues: string[], ids: string[]): Promise<JobUpdate[]> {
    const backend = await this.backend();
    const updates: JobUpdate[] = [];
    await Promise.all(
      ids.map(async (id) => {
        for (const queue of queues) {
          const job = await backend.getJob(queue, id).catch(() => undefined);
          if (job === undefined) return; // Unreadable now; the next event or reconnect catches up.
          if (job) {
            const progress = job.progress === null ? null : previewJson(job.progress, JOB_PAGE_JSON_LIMIT, 0).text;
            updates.push({ id, state: job.state, attempts: job.attempts, progress, finishedAt: job.finishedAt });
            return;
          }
        }
        updates.push({ id, state: 'removed', attempts: 0, progress: null, finishedAt: null });
      }),
    );
    return updates;
  }

  private scheduleCounts(queue: string, tap: QueueTap): void {
    if (tap.countsTimer) return;
    const wait = Math.max(0, tap.lastCountsAt + COUNTS_MS - Date.now());
    tap.countsTimer = setTimeout(async () => {
      tap.countsTimer = null;
      if (!tap.countsDirty || tap.clients.size === 0) return;
      tap.countsDirty = false;
      const counts = await this.countsFor(queue, true);
      if (!counts) return;
      for (const client of tap.clients) {
        client.counts.set(queue, counts);
        this.schedule(client);
      }
    }, wait);
  }

  private async countsFor(queue: string, fresh: boolean): Promise<StateCounts | null> {
    const tap = this.taps.get(queue);
    if (tap) tap.lastCountsAt = Date.now();
    try {
      return await this.readCounts(queue, fresh);
    } catch {
      return null; // The next event tries again.
    }
  }

  private drop(client: Client): void {
    if (!this.clients.delete(client)) return;
    if (client.timer) clearTimeout(client.timer);
    for (const queue of client.queues) {
      const tap = this.taps.get(queue);
      tap?.clients.delete(client);
      if (tap && tap.clients.size === 0) void this.untap(queue);
    }
  }

  private async untap(queue: string): Promise<void> {
    const tap = this.taps.get(queue);
    if (!tap) return;
    this.taps.delete(queue);
    if (tap.countsTimer) clearTimeout(tap.countsTimer);
    await (await tap.unsubscribe.catch(() => async () => {}))().catch(() => {});
  }
}

/**
 * Whether the tab has not taken what it was last sent: the socket's buffer passed its high-water
 * mark. Until it drains, nothing more is written, so the bytes held for it stay about one message.
 */
function stalled(client: Client): boolean {
  return client.res.writableNeedDrain;
}

function send(client: Client, event: string, data: unknown): void {
  client.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Counts summed over routes, per state (what a tab shows). */
export function totalsByState(counts: StateCounts): Record<string, number> {
  const totals: Record<string, number> = Object.fromEntries(JOB_STATES.map((s) => [s, 0]));
  for (const byState of Object.values(counts)) for (const s of JOB_STATES) totals[s]! += byState[s];
  return totals;
}
