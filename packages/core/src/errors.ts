/**
 * Every failure skunq reports is a {@link SkqError} with a string-literal `code`,
 * so callers can branch on `err.code` instead of parsing messages.
 */

/**
 * The codes a {@link SkqError} can carry.
 *
 * @example
 * ```ts
 * const isSkqErrorCode = (code: string): code is SkqErrorCode => (SKQ_ERROR_CODES as readonly string[]).includes(code);
 * ```
 */
export const SKQ_ERROR_CODES = [
  'CONFIG_INVALID',
  'ARGS_INVALID',
  'UNKNOWN_JOB',
  'JOB_FAILED',
  'JOB_NOT_FOUND',
  /** The store holds no queue of that name (or the monitor does not show it). */
  'QUEUE_NOT_FOUND',
  'TIMEOUT',
  'CANCELLED',
  'LEASE_LOST',
  /** A broadcast delivery's worker went away (its registration expired or was removed) before running it. */
  'WORKER_GONE',
  'BACKEND_UNAVAILABLE',
  'BACKEND_ERROR',
  'INVALID_STATE',
  /** A job id that another queue of the same store already holds. */
  'ID_CONFLICT',
  'INTERRUPTED',
  /** No live worker has the id a command named. */
  'WORKER_NOT_FOUND',
  /** A worker did not obey a command before it expired (it may have died). */
  'COMMAND_EXPIRED',
  'FORBIDDEN',
  'COMMAND_FAILED',
  /** The server lacks a feature the call needs (e.g. change streams for triggers). */
  'UNSUPPORTED',
  /** A job's result is larger than its store keeps for one result: the attempt fails once, not retried. */
  'RESULT_TOO_LARGE',
  /** An attempt's error that its store refused even after it was cut to fit: the attempt fails once, not retried. */
  'ERROR_TOO_LARGE',
] as const;

/**
 * A string-literal union of every {@link SkqError} code.
 *
 * @example
 * ```ts
 * const transient: SkqErrorCode[] = ['TIMEOUT', 'BACKEND_UNAVAILABLE'];
 * if (err instanceof SkqError && transient.includes(err.code)) setTimeout(retry, 1_000);
 * ```
 */
export type SkqErrorCode = (typeof SKQ_ERROR_CODES)[number];

/**
 * Where an error happened: the job, queue, route, worker or option field involved.
 *
 * @example
 * ```ts
 * if (isSkqError(err)) console.error(err.code, err.context.queue ?? '-', err.context.jobId ?? '-', err.message);
 * ```
 */
export interface SkqErrorContext {
  jobId?: string;
  deliveryId?: string;
  queue?: string;
  route?: string;
  workerId?: string;
  jobName?: string;
  field?: string;
  [key: string]: unknown;
}

/**
 * Options for {@link SkqError}.
 *
 * @example
 * ```ts
 * const options: SkqErrorOptions = { cause: err, context: { field: 'SMTP_URL' } };
 * throw new SkqError('CONFIG_INVALID', 'SMTP_URL is not a URL', options);
 * ```
 */
export interface SkqErrorOptions {
  cause?: unknown;
  context?: SkqErrorContext;
  /** A stack recorded elsewhere, e.g. the remote handler's stack for JOB_FAILED. */
  remoteStack?: string;
}

/**
 * The one error type skunq throws.
 *
 * @example
 * ```ts
 * try {
 *   await handle.result({ timeoutMs: 1000 });
 * } catch (err) {
 *   if (err instanceof SkqError && err.code === 'TIMEOUT') console.log('still running');
 * }
 * ```
 */
export class SkqError extends Error {
  override readonly name = 'SkqError';
  readonly code: SkqErrorCode;
  readonly context: SkqErrorContext;
  /** The stack of the failing handler on the worker that ran it, when there is one. */
  readonly remoteStack: string | undefined;

  constructor(code: SkqErrorCode, message: string, options: SkqErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.context = options.context ?? {};
    this.remoteStack = options.remoteStack;
  }

  /** A plain object suitable for storing or logging. */
  toJSON(): SerializedError {
    return { name: this.name, code: this.code, message: this.message, stack: this.remoteStack ?? this.stack };
  }
}

/**
 * How an error is stored with a job: message, stack and code.
 *
 * @example
 * ```ts
 * const error: SerializedError | null = (await queue.getRecord(jobId))?.deliveries[0]?.error ?? null;
 * if (error?.code === 'TIMEOUT') console.log(`timed out: ${error.message}`);
 * ```
 */
export interface SerializedError {
  name?: string;
  message: string;
  stack?: string | undefined;
  code?: string | undefined;
}

/**
 * Whether `value` is a {@link SkqError}, optionally with the given code.
 *
 * @example
 * ```ts
 * const total = await handle.result({ timeoutMs: 5_000 }).catch((err: unknown) => {
 *   if (isSkqError(err, 'TIMEOUT')) return null; // still running: ask again later
 *   throw err;
 * });
 * ```
 */
export function isSkqError(value: unknown, code?: SkqErrorCode): value is SkqError {
  return value instanceof SkqError && (code === undefined || value.code === code);
}

/**
 * Thrown by a handler to fail the job at once, with no retry left to try.
 *
 * @example
 * ```ts
 * queue.job({ name: 'charge', routes: ['billing'] }, async (cardId: string) => {
 *   if (!cardId.startsWith('card_')) throw new UnrecoverableError('not a card id');
 * });
 * ```
 */
export class UnrecoverableError extends Error {
  override readonly name = 'UnrecoverableError';
}

const MAX_RETRY_AFTER_MS = 365 * 86_400_000;

/**
 * Thrown by a handler to run the job again after `delayMs` (a rate limit, a busy
 * upstream). The attempt counts toward the job's attempts.
 *
 * @example
 * ```ts
 * queue.job({ name: 'poll', routes: ['io'], retry: { attempts: 10 } }, async () => {
 *   if (!(await ready())) throw new RetryAfter(5_000, 'upstream not ready');
 * });
 * ```
 */
export class RetryAfter extends Error {
  override readonly name: string = 'RetryAfter';
  /** The delay in ms: a finite number from 0 to {@link RetryAfter.MAX_DELAY_MS}. */
  readonly delayMs: number;
  /** The longest delay a RetryAfter takes: 365 days. */
  static readonly MAX_DELAY_MS = MAX_RETRY_AFTER_MS;

  /** Throws `ARGS_INVALID` for a delay that is not a finite number from 0 to {@link RetryAfter.MAX_DELAY_MS} (NaN from a bad `Retry-After` header, say). */
  constructor(delayMs: number, message?: string) {
    // Checked in the super() argument: a class with initialised fields may run nothing before super().
    super(message ?? `retry after ${checkRetryDelay(delayMs)} ms`);
    this.delayMs = Math.round(delayMs);
  }
}

/**
 * Thrown by a handler whose job was refused for its rate (an HTTP 429, say): the job goes back to its
 * queue to run after `delayMs` without using an attempt, and on a store with groups its whole group
 * starts nothing for `delayMs` (across every worker). On a store without groups it is a {@link RetryAfter}.
 *
 * @example
 * ```ts
 * queue.job({ name: 'sync', routes: ['io'], group: (tenant: string) => tenant }, async (tenant: string) => {
 *   const res = await fetch(`https://api.example.com/${tenant}`);
 *   if (res.status === 429) throw new RateLimited(Number(res.headers.get('retry-after') ?? 1) * 1_000);
 * });
 * ```
 */
export class RateLimited extends RetryAfter {
  override readonly name = 'RateLimited';

  /** Throws `ARGS_INVALID` for a delay that is not a finite number from 0 to {@link RetryAfter.MAX_DELAY_MS}. */
  constructor(delayMs: number, message?: string) {
    super(delayMs, message ?? `rate limited for ${checkRetryDelay(delayMs)} ms`);
  }
}

function checkRetryDelay(delayMs: unknown): number {
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0 || delayMs > MAX_RETRY_AFTER_MS) {
    throw new SkqError('ARGS_INVALID', `RetryAfter needs a delay in ms from 0 to ${MAX_RETRY_AFTER_MS}, got ${safeStringify(delayMs)}`, {
      context: { field: 'delayMs' },
    });
  }
  return delayMs;
}

/**
 * Turns anything thrown into the shape stored with a job. It never throws: an error whose `message`
 * or `code` getter throws, a Proxy or a null-prototype object is described as well as it can be.
 *
 * @example
 * ```ts
 * serializeError(new Error('boom')); // { name: 'Error', message: 'boom', stack: '…', code: undefined }
 * ```
 */
export function serializeError(err: unknown): SerializedError {
  try {
    if (err instanceof SkqError) return err.toJSON();
    if (err instanceof Error) {
      const code = attempt(() => (err as { code?: unknown }).code);
      return {
        name: safeText(attempt(() => err.name)) || 'Error',
        message: safeText(attempt(() => err.message)),
        stack: optionalText(attempt(() => err.stack)),
        code: typeof code === 'string' ? code : undefined,
      };
    }
    return { name: 'Error', message: typeof err === 'string' ? err : safeStringify(err) };
  } catch {
    return { name: 'Error', message: `a value that cannot be described was thrown (${describeType(err)})` };
  }
}

function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

function optionalText(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : safeText(value);
}

function safeText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  return safeStringify(value);
}

function describeType(value: unknown): string {
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return typeof value;
  }
}

/**
 * A short description of any value for an error message: its JSON where it has one, else its
 * string form. Never throws (BigInts, cycles, Proxies and throwing getters included).
 *
 * @example
 * ```ts
 * throw new SkqError('CONFIG_INVALID', `invalid name ${describeValue(name)}`);
 * ```
 */
export function describeValue(value: unknown): string {
  const text = safeStringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function safeStringify(value: unknown): string {
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // fall through to String()
  }
  try {
    return String(value);
  } catch {
    return describeType(value);
  }
}

/**
 * Formats zod issues as `path: message` lines for an error message.
 *
 * @example
 * ```ts
 * const parsed = Settings.safeParse(input);
 * if (!parsed.success) throw new SkqError('CONFIG_INVALID', describeIssues(parsed.error.issues, 'settings'));
 * // e.g. 'settings.port: Invalid input: expected number, received string'
 * ```
 */
export function describeIssues(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>, prefix = ''): string {
  return issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
