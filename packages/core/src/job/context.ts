import { AsyncLocalStorage } from 'node:async_hooks';
import { SkqError } from '../errors.js';
import type { LogLine } from '../storage/contract.js';

/**
 * What a running handler can see and use about its job.
 *
 * @example
 * ```ts
 * function report(ctx: JobContext, done: number, of: number): void {
 *   if (ctx.signal.aborted) ctx.log('stopping at', done, 'of', of, 'in attempt', ctx.attempt);
 *   else ctx.progress({ done, of });
 * }
 * ```
 */
export interface JobContext {
  readonly jobId: string;
  readonly deliveryId: string;
  readonly queue: string;
  readonly route: string;
  readonly workerId: string;
  readonly name: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Aborted on timeout, cancellation or a rough shutdown; `signal.reason` is a {@link SkqError}. */
  readonly signal: AbortSignal;
  /** Records a line in the job's log. */
  log(...parts: unknown[]): void;
  /**
   * Reports progress: a number (such as a percentage) or a JSON object. It is stored with the job
   * and published as a `progress` event; writes are coalesced to at most one per 100 ms, so calling
   * it in a tight loop costs nothing.
   */
  progress(value: number | object): void;
  /** The job's group, or null. */
  readonly group: string | null;
  /**
   * Ends this attempt rate limited: throws {@link RateLimited}, so the job runs again after `ms`
   * without using an attempt, and its group starts nothing for `ms`.
   */
  rateLimitGroup(ms: number): never;
}

/**
 * Receives every line a running handler logs, through `ctx.log` or the console.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const sink: LogSink = ({ stream, line }) => lines.push(`${stream}: ${line}`);
 * ```
 */
export type LogSink = (line: Omit<LogLine, 'deliveryId' | 'at'>) => void;

interface ActiveJob {
  context: JobContext;
  sink: LogSink;
}

const storage = new AsyncLocalStorage<ActiveJob>();

/**
 * The context of the job running in this async scope.
 *
 * @example
 * ```ts
 * queue.job({ name: 'crawl', routes: ['io'] }, async (url: string) => {
 *   const ctx = currentJob();
 *   ctx.log('fetching', url);
 *   return (await fetch(url, { signal: ctx.signal })).status;
 * });
 * ```
 */
export function currentJob(): JobContext {
  const active = storage.getStore();
  if (!active) throw new SkqError('INVALID_STATE', 'currentJob() was called outside a running job');
  return active.context;
}

/**
 * Runs `fn` as the job `context`, sending its log lines to `sink`. Used by workers.
 *
 * @example
 * ```ts
 * const result = await runInJobContext(context, (line) => lines.push(line.line), () => job.run(args, context));
 * ```
 */
export function runInJobContext<T>(context: JobContext, sink: LogSink, fn: () => T): T {
  return storage.run({ context, sink }, fn);
}

/**
 * The context of the job running in this async scope, if any. Node keeps the scope for timers and
 * promises a handler starts, so it also names the job an escaped error came from.
 *
 * @example
 * ```ts
 * process.on('uncaughtException', (err) => console.error('escaped from job', activeJobContext()?.jobId, err));
 * ```
 */
export function activeJobContext(): JobContext | undefined {
  return storage.getStore()?.context;
}

/**
 * The log sink of the job running in this async context, if any.
 *
 * @example
 * ```ts
 * activeLogSink()?.({ stream: 'info', line: "written to the running job's log" });
 * ```
 */
export function activeLogSink(): LogSink | undefined {
  return storage.getStore()?.sink;
}

/**
 * Joins console-style arguments into one line.
 *
 * @example
 * ```ts
 * formatLogParts(['took', 42, 'ms', { ok: true }]); // 'took 42 ms {"ok":true}'
 * ```
 */
export function formatLogParts(parts: unknown[]): string {
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      if (part instanceof Error) return part.stack ?? part.message;
      try {
        return JSON.stringify(part) ?? String(part);
      } catch {
        return String(part);
      }
    })
    .join(' ');
}

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug'] as const;
let consoleCaptured = false;

/**
 * Makes the console record into the running job's log while still printing as usual, so what a
 * handler prints is kept with its job. Idempotent.
 *
 * @example
 * ```ts
 * captureConsoleIntoJobs(); // once per worker process, as WorkerPool does when it starts
 * // in a handler, console.log('fetched', url) now also lands in that job's log
 * ```
 */
export function captureConsoleIntoJobs(): void {
  if (consoleCaptured) return;
  consoleCaptured = true;
  for (const method of CONSOLE_METHODS) {
    const original = console[method].bind(console);
    console[method] = (...parts: unknown[]) => {
      storage.getStore()?.sink({ stream: method, line: formatLogParts(parts) });
      original(...parts);
    };
  }
}
