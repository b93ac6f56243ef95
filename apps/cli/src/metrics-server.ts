import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AttemptEnd } from '@skq/worker';

/** What the metrics server reads from a running pool. */
export interface MetricsSource {
  queue: string;
  running(): Record<string, number>;
}

/**
 * Prometheus metrics of one `skunq work` process, served as text on `GET /metrics`: jobs completed
 * and failed per route, jobs running now, and a histogram of handler durations, with the process's
 * default metrics. It listens on loopback unless told otherwise, and only serves reads.
 */
export class MetricsServer {
  private readonly registry = new Registry();
  private readonly completed: Counter<'queue' | 'route'>;
  private readonly failed: Counter<'queue' | 'route' | 'outcome'>;
  private readonly duration: Histogram<'queue' | 'route' | 'outcome'>;
  private server: Server | null = null;

  constructor(source: MetricsSource) {
    collectDefaultMetrics({ register: this.registry });
    this.completed = new Counter({ name: 'skunq_jobs_completed_total', help: 'Jobs that succeeded', labelNames: ['queue', 'route'], registers: [this.registry] });
    this.failed = new Counter({
      name: 'skunq_jobs_failed_total',
      help: 'Attempts that failed (outcome: retrying, failed for good, or cancelled)',
      labelNames: ['queue', 'route', 'outcome'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'skunq_job_duration_seconds',
      help: 'How long handlers ran',
      labelNames: ['queue', 'route', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300],
      registers: [this.registry],
    });
    new Gauge({
      name: 'skunq_jobs_running',
      help: 'Jobs running now',
      labelNames: ['queue', 'route'],
      registers: [this.registry],
      collect() {
        for (const [route, n] of Object.entries(source.running())) this.set({ queue: source.queue, route }, n);
      },
    });
  }

  /** Counts an attempt whose outcome is stored (a pool's `onAttemptEnd`). */
  observe(ended: AttemptEnd): void {
    const labels = { queue: ended.queue, route: ended.route };
    if (ended.outcome === 'succeeded') this.completed.inc(labels);
    else this.failed.inc({ ...labels, outcome: ended.outcome });
    this.duration.observe({ ...labels, outcome: ended.outcome }, ended.durationMs / 1000);
  }

  /** Listens on `host:port`; resolves to the address it got (port 0 picks a free one). */
  async listen(port: number, host: string): Promise<{ host: string; port: number }> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
      );
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    return { host, port: typeof address === 'object' && address ? address.port : port };
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
