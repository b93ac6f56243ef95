import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { safeParseInput } from '../config.js';
import { SkqError, describeIssues, serializeError } from '../errors.js';
import type { CallRecord } from '../storage/call-records.js';
import type { EventStorage } from '../storage/roles/event-storage.js';

/** Options of `queue.asEvent()`. */
export const AsEventOptionsSchema = z
  .object({
    /** Keep what the call prints to stdout and stderr (default true). Captured output is not printed unless `echo` is set. */
    capture: z.boolean().default(true),
    /** Also write captured output here, e.g. `process.stdout`. */
    echo: z.custom<NodeJS.WritableStream>((v) => typeof (v as { write?: unknown } | null)?.write === 'function', 'must be a writable stream').optional(),
    /** The record's name. Default: the function's name. */
    name: z.string().min(1).max(200).optional(),
  })
  .strict();

/**
 * `{ capture?, echo?, name? }` for `queue.asEvent()`.
 *
 * @example
 * ```ts
 * const options: AsEventOptions = { echo: process.stdout, name: 'nightly-backup' };
 * const backup = queue.asEvent(runBackup, options);
 * ```
 */
export type AsEventOptions = z.input<typeof AsEventOptionsSchema>;

/** A captured line, as {@link CallRecord} stores it. */
type Line = CallRecord['lines'][number];

interface CaptureScope {
  lines: Line[];
  partial: { stdout: string; stderr: string };
  echo: NodeJS.WritableStream | undefined;
}

const scopes = new AsyncLocalStorage<CaptureScope>();
let patched = false;

/** Routes process.stdout/stderr writes made inside a capture scope to it; outside, writes pass through. */
function patchStreams(): void {
  if (patched) return;
  patched = true;
  for (const stream of ['stdout', 'stderr'] as const) {
    const target = process[stream];
    const original = target.write.bind(target) as (...args: unknown[]) => boolean;
    target.write = ((chunk: unknown, ...rest: unknown[]) => {
      const scope = scopes.getStore();
      if (!scope) return original(chunk, ...rest);
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      const parts = (scope.partial[stream] + text).split('\n');
      scope.partial[stream] = parts.pop() ?? '';
      for (const line of parts) scope.lines.push({ stream, line });
      scope.echo?.write(text);
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof target.write;
  }
}

/**
 * Wraps `fn` so that each call stores a record (name, time, pid, host, return value or error,
 * captured output) and returns `[value, lines]`. A throw is recorded, then rethrown.
 * Meant for low rates: every call is one write to the backend.
 */
export function recordCalls<A extends unknown[], R>(
  backend: () => Promise<EventStorage>,
  queue: string,
  fn: (...args: A) => R,
  options: AsEventOptions = {},
): (...args: A) => Promise<[Awaited<R>, string[]]> {
  if (typeof fn !== 'function') throw new SkqError('ARGS_INVALID', 'asEvent() takes a function', { context: { queue, field: 'fn' } });
  const parsed = safeParseInput(AsEventOptionsSchema, options);
  if (!parsed.success) throw new SkqError('ARGS_INVALID', `invalid asEvent() options: ${describeIssues(parsed.error.issues, 'options')}`, { context: { queue } });
  const { capture, echo, name } = parsed.data;
  const recordName = name ?? (fn.name || 'anonymous');
  if (capture) patchStreams();
  return async (...args: A) => {
    const scope: CaptureScope = { lines: [], partial: { stdout: '', stderr: '' }, echo };
    const at = Date.now();
    const call = async () => fn(...args);
    let value: Awaited<R> | undefined;
    let error: unknown;
    let threw = false;
    try {
      value = await (capture ? scopes.run(scope, call) : call());
    } catch (err) {
      threw = true;
      error = err;
    }
    for (const stream of ['stdout', 'stderr'] as const) if (scope.partial[stream]) scope.lines.push({ stream, line: scope.partial[stream] });
    const record: CallRecord = {
      id: randomUUID(),
      name: recordName,
      at,
      durationMs: Date.now() - at,
      pid: process.pid,
      hostname: hostname(),
      value: threw ? null : jsonValue(value),
      error: threw ? serializeError(error) : null,
      lines: scope.lines,
    };
    await (await backend()).appendCallRecord(queue, record);
    if (threw) throw error;
    return [value as Awaited<R>, scope.lines.map((l) => l.line)];
  };
}

/** The value as JSON keeps it (undefined → null); a value JSON cannot hold is stored as its description. */
function jsonValue(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value ?? null)) as unknown;
  } catch (err) {
    return { unserializable: serializeError(err).message };
  }
}
