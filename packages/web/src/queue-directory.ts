import { SkqError, SkunkQueue, type StateCounts } from '@skq/core';
import { acquireBackend, backendUrlFromEnvironment, releaseBackend, type StorageBackend } from '@skq/core/backend';

/** How long a discovered list of queues is trusted before the store is asked again. */
const DISCOVERY_TTL_MS = 60_000;
/**
 * How long a queue's counts are reused. Counting is the costliest read of a page (a scan of the
 * queue's deliveries on SQLite); live streams refresh counts no more often either.
 */
export const COUNTS_TTL_MS = 1_000;

/**
 * The queues a monitor shows, each a {@link SkunkQueue} on one shared backend. Given names are
 * fixed; otherwise the store's own list is read, and read again at most once a minute.
 */
export class QueueDirectory {
  private readonly queues = new Map<string, SkunkQueue>();
  private discovered: { names: string[]; at: number } | null = null;
  private opened: Promise<StorageBackend> | null = null;
  private readonly countsCache = new Map<string, { at: number; counts: Promise<StateCounts> }>();

  constructor(
    private readonly source: string | StorageBackend | undefined,
    private readonly fixed: string[] | undefined,
  ) {}

  /** The backend, opened on first use (a URL is shared with any queue of this process that names it). */
  backend(): Promise<StorageBackend> {
    if (typeof this.source === 'object') return Promise.resolve(this.source);
    if (!this.opened) {
      const opening = acquireBackend(this.url()!);
      this.opened = opening;
      opening.catch(() => {
        if (this.opened === opening) this.opened = null;
      });
    }
    return this.opened;
  }

  /** The backend's URL, or null when an open backend was given. */
  url(): string | null {
    return typeof this.source === 'object' ? null : (this.source ?? backendUrlFromEnvironment());
  }

  /** The names of the queues shown, sorted. */
  async names(): Promise<string[]> {
    if (this.fixed) return this.fixed;
    const now = Date.now();
    if (!this.discovered || now - this.discovered.at > DISCOVERY_TTL_MS) {
      this.discovered = { names: await (await this.backend()).listQueues(), at: now };
    }
    return this.discovered.names;
  }

  /** A shown queue; `NOT_FOUND` for any other name (a page for a queue the store does not hold). */
  async queue(name: string): Promise<SkunkQueue> {
    let names = await this.names();
    if (!names.includes(name) && !this.fixed) {
      this.discovered = null; // A queue created since the last look.
      names = await this.names();
    }
    if (!names.includes(name)) throw new SkqError('QUEUE_NOT_FOUND', `no queue "${name}" is shown here`, { context: { queue: name } });
    let queue = this.queues.get(name);
    if (!queue) this.queues.set(name, (queue = new SkunkQueue(name, { backend: await this.backend() })));
    return queue;
  }

  /** A queue's delivery counts per route and state, at most {@link COUNTS_TTL_MS} old; `fresh` reads them now. */
  counts(name: string, fresh = false): Promise<StateCounts> {
    const cached = this.countsCache.get(name);
    const now = Date.now();
    if (cached && !fresh && now - cached.at < COUNTS_TTL_MS) return cached.counts;
    const counts = this.backend().then((b) => b.countByState(name));
    this.countsCache.set(name, { at: now, counts });
    counts.catch(() => this.countsCache.delete(name));
    return counts;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    if (this.opened) {
      this.opened = null;
      await releaseBackend(this.url()!);
    }
  }
}
