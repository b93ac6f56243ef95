import { resolve } from 'node:path';
import { backendUrlFromEnvironment, isJobClass, redactUrl, releaseBackend, type JobClass } from '@skq/core/backend';
import { WorkerPool } from '@skq/worker';
import { parseFlags, usage, UsageError, type FlagSpec } from '../argv.js';
import { loadConfig } from '../config-file.js';
import { importModule } from '../module-loader.js';
import { acquireWhenReachable } from '../backend-wait.js';
import { durationFlag } from '../duration-flag.js';
import { MetricsServer } from '../metrics-server.js';
import { cell, escapingLogger, say } from '../terminal-output.js';
import { isMongoUrl, registeredTriggerCount, startTriggers, type TriggerRunnerHandle } from '../trigger-support.js';

const FLAGS: FlagSpec[] = [
  { name: 'queue', short: 'q', kind: 'value', placeholder: 'name', description: 'Queue to consume (required unless the config names one)' },
  { name: 'routes', short: 'r', kind: 'list', placeholder: 'route', description: 'Routes to serve, one worker each' },
  { name: 'backend', short: 'b', kind: 'value', placeholder: 'url', description: 'Backend URL (default: $SKQ_BACKEND, else sqlite:.skunq/skunq.db)' },
  { name: 'concurrency', short: 'c', kind: 'value', placeholder: 'n', description: 'Jobs run at once per route (default 1)' },
  { name: 'prefetch', kind: 'value', placeholder: 'n|auto', description: 'Jobs held leased beyond the concurrency, per route (default auto: what ~50 ms of work takes, at most 64; 0 for none)' },
  { name: 'file', short: 'f', kind: 'list', placeholder: 'module', description: 'Job modules to load (.ts, .mjs, .js)' },
  { name: 'lease-ms', kind: 'value', placeholder: 'ms', description: 'Lease length; a killed worker’s jobs return after it (default 30000)' },
  { name: 'registration-ttl-ms', kind: 'value', placeholder: 'ms', description: 'How long the registration of a worker that stopped heartbeating stays listed (default 30000)' },
  { name: 'no-scheduler', kind: 'boolean', description: "Do not fire the queue's schedules from this pool" },
  { name: 'allow-shell', kind: 'boolean', description: 'Run shell tasks (queue.shell); off by default' },
  { name: 'allow-modules', kind: 'list', placeholder: 'dir', description: 'Run module tasks (queue.call) from these directories' },
  { name: 'triggers-url', kind: 'value', placeholder: 'url', description: 'MongoDB to watch for the triggers the modules register (default: the backend, if it is MongoDB)' },
  { name: 'no-triggers', kind: 'boolean', description: 'Do not run the triggers the modules register' },
  { name: 'metrics-port', kind: 'value', placeholder: 'port', description: 'Serve Prometheus metrics on GET /metrics at this port (0: any free one)' },
  { name: 'metrics-host', kind: 'value', placeholder: 'host', description: 'Address the metrics listen on (default 127.0.0.1, loopback only)' },
  { name: 'connect-timeout', kind: 'value', placeholder: 'duration', description: 'Wait at most this long for the backend to answer at start: ms, or 30s, 5m (default: for ever)' },
];

export const WORK_USAGE = usage(
  'work',
  "Runs a worker pool: one worker per route, until SIGTERM (gentle) or SIGINT (rough). It also fires the queue's schedules (including those the loaded modules define) unless --no-scheduler is given.",
  FLAGS,
);

/** `skunq work`: loads job modules and runs a {@link WorkerPool} until a signal stops it. */
export async function work(argv: string[], cwd: string): Promise<number> {
  // Recorded from the start: a signal while modules load is obeyed once the pool exists (the pool
  // installs its own handlers when it starts listening). It also names the signal that stopped it.
  let signal: string | null = null;
  const stopping = new AbortController();
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGABRT'] as const) {
    process.once(s, () => {
      signal ??= s;
      stopping.abort();
    });
  }
  const flags = parseFlags(argv, FLAGS);
  const config = await loadConfig(cwd);
  const queue = (flags.queue as string | undefined) ?? config.queue;
  const routes = (flags.routes as string[] | undefined) ?? config.routes;
  if (!queue) throw new UsageError('-q/--queue is required');
  if (!routes?.length) throw new UsageError('-r/--routes needs at least one route');
  const concurrency = flags.concurrency === undefined ? (config.concurrency ?? 1) : positiveInt(flags.concurrency as string, '--concurrency');
  const leaseMs = flags['lease-ms'] === undefined ? undefined : positiveInt(flags['lease-ms'] as string, '--lease-ms');
  const prefetch = flags.prefetch === undefined ? undefined : prefetchOf(flags.prefetch as string);
  const registrationTtlMs = flags['registration-ttl-ms'] === undefined ? undefined : positiveInt(flags['registration-ttl-ms'] as string, '--registration-ttl-ms');
  const backend = (flags.backend as string | undefined) ?? config.backend;
  const connectTimeoutMs = flags['connect-timeout'] === undefined ? null : durationFlag(flags['connect-timeout'] as string, '--connect-timeout');
  const files = [...config.jobs, ...((flags.file as string[] | undefined) ?? []).map((f) => resolve(cwd, f))];
  const jobs: JobClass[] = [];
  for (const file of files) {
    const mod = await importModule(file);
    for (const value of Object.values(mod)) if (isJobClass(value)) jobs.push(value);
  }
  const allowModules = flags['allow-modules'] as string[] | undefined;
  const metricsPort = flags['metrics-port'] === undefined ? undefined : port(flags['metrics-port'] as string);
  let metrics: MetricsServer | null = null;
  const pool: WorkerPool = new WorkerPool({
    queue,
    routes,
    concurrency,
    jobs,
    allowShell: flags['allow-shell'] === true,
    scheduler: flags['no-scheduler'] !== true,
    ...(allowModules ? { modules: { allow: allowModules, baseDir: cwd, importer: importModule } } : {}),
    ...(backend ? { backend } : {}),
    ...(leaseMs ? { leaseMs } : {}),
    ...(prefetch !== undefined ? { prefetch } : {}),
    ...(registrationTtlMs ? { registrationTtlMs } : {}),
    ...(metricsPort !== undefined && { onAttemptEnd: (ended) => metrics?.observe(ended) }),
    logger: escapingLogger,
  });
  if (metricsPort !== undefined) {
    metrics = new MetricsServer({ queue, running: () => pool.running() });
    const at = await metrics.listen(metricsPort, (flags['metrics-host'] as string | undefined) ?? '127.0.0.1');
    say(`skunq: metrics on http://${at.host}:${at.port}/metrics`);
  }
  let triggersUrl: string | null = null;
  const triggerCount = flags['no-triggers'] === true ? 0 : await registeredTriggerCount();
  if (triggerCount > 0) {
    const url = (flags['triggers-url'] as string | undefined) ?? backend ?? process.env.SKQ_BACKEND;
    if (!url || !isMongoUrl(url)) {
      throw new UsageError('the loaded modules register database-event triggers: give --triggers-url mongodb://… (or --no-triggers)');
    }
    triggersUrl = url;
  }
  const url = backend ?? backendUrlFromEnvironment();
  let reached = false;
  let triggerRunner: TriggerRunnerHandle | null = null;
  const stopHelpers = async () => {
    await triggerRunner?.stop();
    await metrics?.close();
  };
  try {
    // Held until the pool is done, so that the pool shares this connection instead of opening another.
    reached = (await acquireWhenReachable(url, { timeoutMs: connectTimeoutMs, signal: stopping.signal, log: say, prefix: 'skunq' })) !== null;
    if (reached && triggersUrl) triggerRunner = await startTriggers(triggersUrl, `work-${queue}`);
    if (reached) {
      const listening = pool.listen({
        onStarted: () => {
          say(`skunq: listening on queue "${cell(queue)}", routes ${routes.map(cell).join(', ')} (pid ${process.pid}, backend ${redactUrl(url)})`);
          if (triggerRunner) say(`skunq: ${triggerCount} database-event triggers running`);
        },
      });
      // A signal that came while the modules or the triggers were loading is obeyed now.
      if (signal) void pool.close(signal === 'SIGINT' ? 'rough' : 'gentle');
      await listening;
    }
    await stopHelpers();
  } catch (err) {
    await stopHelpers();
    throw err;
  } finally {
    if (reached) await releaseBackend(url);
  }
  say(`skunq: stopped${signal ? ` on ${signal}` : ''}`);
  return signal === 'SIGINT' ? 130 : 0;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new UsageError(`--metrics-port must be a port number (0 to 65535), got "${value}"`);
  return n;
}

function prefetchOf(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 1_000) throw new UsageError(`--prefetch must be auto or a whole number from 0 to 1000, got "${value}"`);
  return n;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return n;
}

