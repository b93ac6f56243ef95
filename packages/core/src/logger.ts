import { z } from 'zod';

/**
 * The levels skunq logs at: `info` for choices it made (a wake-up mechanism, a command obeyed), `warn` for what it could not do.
 *
 * @example
 * ```ts
 * const toFile = (level: LogLevel) => (meta: LogMeta, message: string) => appendFileSync('skunq.log', `${formatLogLine(level, meta, message)}\n`);
 * const logger: Logger = { info: toFile('info'), warn: toFile('warn') };
 * ```
 */
export type LogLevel = 'info' | 'warn';

/**
 * What an event is about, beside its message. `err` is the error itself, never its text: a logger
 * that keeps structure (pino) gets its stack, `code`, `context` and `cause`, and the default logger
 * prints the code, message, context and cause on the event's line.
 *
 * @example
 * ```ts
 * const meta: LogMeta = { queue: 'mail', route: 'send', jobId: 'j1', workerId: 'host:42:send:a1b2c3', err };
 * ```
 */
export interface LogMeta {
  /** What failed, as thrown (an `Error`, a {@link SkqError}, or anything else a handler threw). */
  err?: unknown;
  queue?: string;
  route?: string;
  jobId?: string;
  deliveryId?: string;
  workerId?: string;
  [key: string]: unknown;
}

/**
 * Where skunq's pools, backends and trigger runners report what they cannot hand to a caller.
 *
 * Shaped as pino's (and bunyan's) methods are, `warn(meta, message)`, so that `pino()` is a logger
 * as it is, with no adapter: the level is the method (pino's level filter applies) and the error
 * sits under `err`, the key pino's standard serializer expands into type, message, stack, `code`,
 * `context` and `cause`. A logger of one's own implements the two methods.
 *
 * @example
 * ```ts
 * import { pino } from 'pino';
 * const pool = new WorkerPool({ queue: 'demo', routes: ['foo'], logger: pino() });
 * // or a logger of one's own:
 * const lines: string[] = [];
 * const mine: Logger = { info: (meta, message) => lines.push(message), warn: (meta, message) => lines.push(`${message} (${meta.jobId ?? '-'})`) };
 * ```
 */
export interface Logger {
  info(meta: LogMeta, message: string): void;
  warn(meta: LogMeta, message: string): void;
}

/**
 * Options of {@link createConsoleLogger} and {@link formatLogLine}.
 *
 * @example
 * ```ts
 * const options: ConsoleLoggerOptions = { stacks: process.env.NODE_ENV !== 'production' };
 * const pool = new WorkerPool({ queue: 'demo', routes: ['foo'], logger: createConsoleLogger(options) });
 * ```
 */
export interface ConsoleLoggerOptions {
  /**
   * Print the stacks of the error and its causes, indented, under the event's line. Off by default,
   * so each event stays one line that a grep or a log shipper takes whole. Default: false.
   */
  stacks?: boolean;
}

// Causes followed at most this deep: a chain longer than that is a loop or not worth a line.
const MAX_CAUSES = 5;
// A value printed bare: no space, quote, equals sign, backslash or control character to mistake.
const BARE = /^[^\s"'=\\\u0000-\u001f\u007f-\u009f]+$/;

/**
 * The default logger's line for one event: `[skunq] <level>: <message>`, then each meta field as
 * `key=value` (a value with a space, quote or newline JSON-quoted, an object as JSON), then the error:
 * `err="[CODE] message"`, `err.context={…}` (what the line's own fields do not already say) and
 * `err.cause="…; caused by …"`. Never throws, whatever was thrown.
 *
 * @example
 * ```ts
 * formatLogLine('warn', { queue: 'demo', jobId: 'j1', err: new SkqError('TIMEOUT', 'no answer', { context: { jobId: 'j1', ms: 500 } }) }, 'could not report job j1');
 * // '[skunq] warn: could not report job j1 queue=demo jobId=j1 err="[TIMEOUT] no answer" err.context={"ms":500}'
 * ```
 */
export function formatLogLine(level: LogLevel, meta: LogMeta, message: string, options: ConsoleLoggerOptions = {}): string {
  const { err, ...fields } = meta;
  const parts = [`[skunq] ${level}: ${message}`];
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) parts.push(`${key}=${formatValue(value)}`);
  if (err === undefined) return parts.join(' ');
  parts.push(`err=${formatValue(describe(err))}`);
  const context = contextOf(err);
  if (context) {
    const unsaid = Object.entries(context).filter(([key, value]) => value !== undefined && fields[key] !== value);
    if (unsaid.length) parts.push(`err.context=${formatValue(Object.fromEntries(unsaid))}`);
  }
  const causes = causesOf(err);
  if (causes.length) parts.push(`err.cause=${formatValue(causes.map(describe).join('; caused by '))}`);
  const line = parts.join(' ');
  if (!options.stacks) return line;
  const stacks = [err, ...causes].map((e, i) => `${i ? 'caused by: ' : ''}${stackOf(e) ?? describe(e)}`);
  return `${line}\n${stacks.join('\n').replace(/^/gm, '    ')}`;
}

/**
 * A logger writing {@link formatLogLine}'s lines: warnings through `console.warn`, the rest through
 * `console.info`, one call per event.
 *
 * @example
 * ```ts
 * const pool = new WorkerPool({ queue: 'demo', routes: ['foo'], logger: createConsoleLogger({ stacks: true }) });
 * ```
 */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  return {
    warn: (meta, message) => console.warn(formatLogLine('warn', meta, message, options)),
    info: (meta, message) => console.info(formatLogLine('info', meta, message, options)),
  };
}

/**
 * The default logger: one line per event on the console, without stacks ({@link createConsoleLogger}).
 *
 * @example
 * ```ts
 * const pool = new WorkerPool({ queue: 'demo', routes: ['foo'], logger: consoleLogger });
 * ```
 */
export const consoleLogger: Logger = createConsoleLogger();

/**
 * A `logger` option: any object with `warn(meta, message)` and `info(meta, message)` methods, as
 * pino and bunyan have.
 *
 * @example
 * ```ts
 * const pool = new WorkerPool({ queue: 'demo', routes: ['foo'], logger: pino() });
 * ```
 */
export const LoggerSchema = z.custom<Logger>(
  (v) => typeof (v as Logger | null)?.warn === 'function' && typeof (v as Logger | null)?.info === 'function',
  'must have warn(meta, message) and info(meta, message) methods, as pino has',
);

function formatValue(value: unknown): string {
  if (typeof value === 'string') return BARE.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // A cycle or a throwing toJSON: described as text below.
  }
  return JSON.stringify(safeString(value));
}

/** `[CODE] message` when there is a code, `Name: message` for an error other than a plain `Error`, else the message. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return typeof err === 'string' ? err : safeString(err);
  const code = read(() => (err as { code?: unknown }).code);
  const message = String(read(() => err.message) ?? '');
  if (typeof code === 'string' && code) return `[${code}] ${message}`;
  const name = read(() => err.name);
  return typeof name === 'string' && name && name !== 'Error' ? `${name}: ${message}` : message;
}

function contextOf(err: unknown): Record<string, unknown> | null {
  const context = err instanceof Error ? read(() => (err as { context?: unknown }).context) : undefined;
  return context && typeof context === 'object' ? (context as Record<string, unknown>) : null;
}

function causesOf(err: unknown): unknown[] {
  const seen = new Set<unknown>([err]);
  const causes: unknown[] = [];
  let current = err;
  while (causes.length < MAX_CAUSES && current instanceof Error) {
    const holder: Error = current;
    const cause = read(() => holder.cause);
    if (cause === undefined || seen.has(cause)) break;
    seen.add(cause);
    causes.push(cause);
    current = cause;
  }
  return causes;
}

/** The handler's own stack for a job's error ({@link SkqError}'s `remoteStack`), else the error's. */
function stackOf(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const stack = read(() => (err as { remoteStack?: unknown }).remoteStack) ?? read(() => err.stack);
  return typeof stack === 'string' ? stack : undefined;
}

function read<T>(get: () => T): T | undefined {
  try {
    return get();
  } catch {
    return undefined;
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
