import { z } from 'zod';
import {
  JobDefinition,
  SkqError,
  SkunkQueue,
  consoleLogger,
} from '@skq/core';
import {
  NameSchema,
  RoutesSchema,
  parseConfig,
  timerMs,
  isJobClass,
  isStorageBackend,
  LoggerSchema,
  type JobClass,
  type ModuleImporter,
  type StorageBackend,
} from '@skq/core/backend';

import type { AttemptEnd } from './outcome-writer.js';

const Concurrency = z.number().int().min(1).max(10_000);

/** Options of {@link WorkerPool}. */
export const WorkerPoolOptionsSchema = z
  .object({
    /** The queue to consume: a name or a {@link SkunkQueue}. */
    queue: z.union([NameSchema, z.instanceof(SkunkQueue)]),
    /** One worker per route. */
    routes: RoutesSchema,
    /** A backend URL or object. Default: the queue's backend, else `$SKQ_BACKEND`, else the SQLite default. */
    backend: z.union([z.string().min(1), z.custom<StorageBackend>(isStorageBackend, 'must be a URL or a storage backend')]).optional(),
    /** Jobs this pool can run besides those the loaded modules defined: `queue.job` definitions or JobMixin classes. */
    jobs: z
      .array(z.custom<JobDefinition | JobClass>((v) => v instanceof JobDefinition || isJobClass(v), 'must be a job definition or a JobMixin class'))
      .default([]),
    /** Jobs run at once per route: one number for every route, or `{ route: n }`. */
    concurrency: z.union([Concurrency, z.record(z.string(), Concurrency)]).default(1),
    /**
     * Jobs each route worker claims beyond those it runs, held leased until a slot frees: the next job
     * is at hand when one ends, and its claim shares a transaction with the last completion. The price
     * is fairness: a prefetched job waits at a busy worker while another worker may be idle. `'auto'`
     * (the default) holds only what this worker finishes in about 50 ms at its recent pace (a job's time
     * from its start to its stored outcome, so a slow store prefetches little, or the time between stored
     * outcomes when a store that commits them in groups stores them faster), at most 64 (32 above concurrency 50; on PostgreSQL 200, its claims being durable commits): at concurrency
     * 1 jobs slower than 50 ms are never prefetched, and none is before the first job ends or after a
     * claim fails; 0 prefetches nothing; a number holds that many whatever the pace. A gentle stop runs the
     * prefetched jobs; a rough stop puts them back.
     */
    prefetch: z.union([z.literal('auto'), z.number().int().min(0).max(1_000)]).default('auto'),
    /** How long a claimed job stays leased without renewal, in ms. A killed worker's jobs return after this. */
    leaseMs: timerMs(200).default(30_000),
    /** How long a worker's registration lives without a heartbeat, in ms. */
    registrationTtlMs: timerMs(200).default(30_000),
    /** The longest an idle worker waits before looking for work without a wake-up, in ms. */
    pollIntervalMs: timerMs(10).default(1_000),
    /** Run shell tasks (`queue.shell`). Off by default: anyone who can enqueue could run commands here. */
    allowShell: z.boolean().default(false),
    /** Run module tasks (`queue.call`) from these directories only. */
    modules: z
      .object({
        allow: z.array(z.string().min(1)).min(1),
        baseDir: z.string().min(1).optional(),
        importer: z.custom<ModuleImporter>((v) => typeof v === 'function', 'must be a function').optional(),
      })
      .strict()
      .optional(),
    /** Also fire the queue's stored schedules (any number of pools may; each tick fires once). */
    scheduler: z.boolean().default(true),
    /** Install the signal handlers (gentle: SIGHUP, SIGABRT, SIGQUIT, SIGTERM; rough: SIGINT) in `listen()`. */
    handleSignals: z.boolean().default(true),
    /**
     * In `listen()`, catch errors that escape handlers (`unhandledRejection`, `uncaughtException`):
     * the attempt they came from fails with the error and the process goes on. Off, Node's own
     * behaviour applies (the process exits).
     */
    catchEscapedErrors: z.boolean().default(true),
    /**
     * Where warnings go (a lost lease, an unreachable backend, an obeyed command), each with the queue,
     * route, worker, job and error it concerns: pino as it is, a `{ warn(meta, message), info(meta, message) }`
     * of one's own, or `false` for silence. Default: the console, one line per event.
     */
    logger: z.union([z.literal(false), LoggerSchema]).default(consoleLogger),
    /** Told of every attempt once its outcome is stored: queue, route, job name, outcome and handler time (for metrics). */
    onAttemptEnd: z.custom<(ended: AttemptEnd) => void>((v) => typeof v === 'function', 'must be a function').optional(),
  })
  .strict();

/** `{ queue, routes, backend?, jobs?, concurrency?, leaseMs?, … }` for `new WorkerPool(options)`. */
export type WorkerPoolOptions = z.input<typeof WorkerPoolOptionsSchema>;
export type ParsedWorkerPoolOptions = z.output<typeof WorkerPoolOptionsSchema>;

/**
 * Checks {@link WorkerPool} options and fills in the defaults; CONFIG_INVALID names a bad field, or
 * a `concurrency` entry for a route the pool does not serve.
 *
 * @example
 * ```ts
 * const options = parseWorkerPoolOptions({ queue: 'demo', routes: ['foo', 'bar'], concurrency: { foo: 4 } });
 * options.leaseMs; // 30_000
 * ```
 */
export function parseWorkerPoolOptions(options: unknown): ParsedWorkerPoolOptions {
  const data = parseConfig(WorkerPoolOptionsSchema, options, 'worker pool options', 'options');
  const concurrency = data.concurrency;
  if (typeof concurrency === 'object') {
    const unknown = Object.keys(concurrency).filter((route) => !data.routes.includes(route));
    if (unknown.length) {
      throw new SkqError('CONFIG_INVALID', `concurrency names routes the pool does not serve: ${unknown.join(', ')}`, { context: { field: 'concurrency' } });
    }
  }
  return data;
}
