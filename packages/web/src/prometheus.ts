import { Counter, Gauge, Registry } from 'prom-client';
import { JOB_STATES, minuteOf, type StorageBackend } from '@skq/core/backend';

/** Minutes whose throughput counts may still grow (late writes from slow workers): read again at each scrape. */
const OPEN_MINUTES = 3;

/**
 * The monitor's `/metrics`, read from the store at each scrape: deliveries per queue, route and
 * state, live workers, paused routes, and completed and failed totals. The totals count from the
 * monitor's start: minutes that can no longer change are added up once, the last few are read again
 * each time, so a total only grows and matches the store's throughput counts.
 */
export class MonitorMetrics {
  readonly registry = new Registry();
  private readonly closed = new Map<string, { completed: number; failed: number }>();
  private closedUntil: number;
  /** One read of the totals serves both counters of a scrape. */
  private pending: Promise<Map<string, { completed: number; failed: number }>> | null = null;

  constructor(
    private readonly backend: () => Promise<StorageBackend>,
    private readonly queues: () => Promise<string[]>,
  ) {
    this.closedUntil = minuteOf(Date.now());
    const self = this;
    new Gauge({
      name: 'skunq_jobs',
      help: 'Deliveries per queue, route and state',
      labelNames: ['queue', 'route', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const b = await self.backend();
        for (const queue of await self.queues()) {
          for (const [route, byState] of Object.entries(await b.countByState(queue))) {
            for (const state of JOB_STATES) this.set({ queue, route, state }, byState[state]);
          }
        }
      },
    });
    new Gauge({
      name: 'skunq_workers',
      help: 'Live workers per queue and state',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const b = await self.backend();
        for (const queue of await self.queues()) {
          const byState: Record<string, number> = { running: 0, paused: 0, stopping: 0 };
          for (const w of await b.listWorkers(queue)) byState[w.state] = (byState[w.state] ?? 0) + 1;
          for (const [state, n] of Object.entries(byState)) this.set({ queue, state }, n);
        }
      },
    });
    new Gauge({
      name: 'skunq_paused',
      help: 'Paused routes of each queue (route "*": the whole queue)',
      labelNames: ['queue', 'route'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const b = await self.backend();
        for (const queue of await self.queues()) for (const route of await b.pausedRoutes(queue)) this.set({ queue, route }, 1);
      },
    });
    for (const kind of ['completed', 'failed'] as const) {
      const reported = new Map<string, number>();
      new Counter({
        name: `skunq_jobs_${kind}_total`,
        help: kind === 'completed' ? 'Deliveries that succeeded since the monitor started' : 'Deliveries that failed for good since the monitor started',
        labelNames: ['queue', 'route'],
        registers: [this.registry],
        async collect() {
          for (const [key, total] of await self.currentTotals()) {
            const [queue, route] = JSON.parse(key) as [string, string];
            const delta = total[kind] - (reported.get(key) ?? 0);
            if (delta > 0) {
              this.inc({ queue, route }, delta);
              reported.set(key, total[kind]);
            }
          }
        },
      });
    }
  }

  /** Prometheus text. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  private currentTotals(): Promise<Map<string, { completed: number; failed: number }>> {
    if (!this.pending) {
      this.pending = this.totals();
      const clear = () => setTimeout(() => (this.pending = null), 50);
      this.pending.then(clear, clear);
    }
    return this.pending;
  }

  /** Completed and failed per queue and route since the start: closed minutes once, open ones fresh. */
  private async totals(): Promise<Map<string, { completed: number; failed: number }>> {
    const b = await this.backend();
    const openFrom = minuteOf(Date.now()) - (OPEN_MINUTES - 1) * 60_000;
    const totals = new Map<string, { completed: number; failed: number }>();
    const add = (into: Map<string, { completed: number; failed: number }>, key: string, c: number, f: number) => {
      const t = into.get(key) ?? { completed: 0, failed: 0 };
      into.set(key, { completed: t.completed + c, failed: t.failed + f });
    };
    for (const queue of await this.queues()) {
      for (const bucket of await b.throughput(queue, this.closedUntil)) {
        const key = JSON.stringify([queue, bucket.route]);
        if (bucket.minute < openFrom) add(this.closed, key, bucket.completed, bucket.failed);
        else add(totals, key, bucket.completed, bucket.failed);
      }
    }
    this.closedUntil = Math.max(this.closedUntil, openFrom);
    for (const [key, t] of this.closed) add(totals, key, t.completed, t.failed);
    return totals;
  }
}
