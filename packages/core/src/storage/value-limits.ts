import { SkqError, type SerializedError } from '../errors.js';
import type { LogLine, NewJob, StorageCapabilities } from './contract.js';

/**
 * The size rules every backend shares, written once: what a worker stores as an attempt's outcome
 * and log lines, and what an enqueue may hold. A store with a hard limit per value (FoundationDB:
 * 100 KB) declares it as `capabilities.maxValueBytes`; the rules below then keep every stored value
 * under it, so a write is never refused for its size after the handler has run (which made the
 * worker give up, the lease expire and the handler run again).
 */

/**
 * Each text of a stored error (its message, its stack) keeps at most this many bytes.
 *
 * @example
 * ```ts
 * const message = cutText(err.message, MAX_ERROR_TEXT_BYTES); // as much of it as a stored error keeps
 * ```
 */
export const MAX_ERROR_TEXT_BYTES = 32_768;
/**
 * A log line keeps at most this many bytes.
 *
 * @example
 * ```ts
 * const line = cutText(output, MAX_LOG_LINE_BYTES); // as much of it as a stored log line keeps
 * ```
 */
export const MAX_LOG_LINE_BYTES = 65_536;
/**
 * The most bytes of JSON `capabilities` lets one result, error, log line or job take; `Infinity`
 * when the store declares no limit.
 *
 * @example
 * ```ts
 * valueLimit(backend.capabilities); // 90_000 on FoundationDB, Infinity on a store that declares no limit
 * ```
 */
export function valueLimit(capabilities: Pick<StorageCapabilities, 'maxValueBytes'> | undefined): number {
  return capabilities?.maxValueBytes ?? Infinity;
}

/**
 * `text` cut to at most `maxBytes` bytes of UTF-8, ending with a marker that says how much was cut;
 * shorter text is returned as it is. Never splits a character.
 *
 * @example
 * ```ts
 * cutText('x'.repeat(100), 40); // 'xxxxxxxx… [cut: 92 more bytes]'
 * ```
 */
export function cutText(text: string, maxBytes: number): string {
  const bytes = Buffer.byteLength(text);
  if (bytes <= maxBytes) return text;
  const buffer = Buffer.from(text);
  // The marker's digits do not change its length by more than a few bytes; 32 covers it.
  let keep = Math.max(0, maxBytes - 32);
  // Back off to the start of a UTF-8 character (continuation bytes are 10xxxxxx).
  while (keep > 0 && (buffer[keep]! & 0xc0) === 0x80) keep -= 1;
  return `${buffer.subarray(0, keep).toString('utf8')}… [cut: ${bytes - keep} more bytes]`;
}

/**
 * An error as it can be stored: its message and stack cut to {@link MAX_ERROR_TEXT_BYTES} each (with
 * a marker), and further until its JSON fits `maxBytes` (see {@link valueLimit}).
 *
 * @example
 * ```ts
 * fitError({ name: 'Error', message: 'e'.repeat(200_000) }, 90_000).message.endsWith('more bytes]'); // true
 * ```
 */
export function fitError(error: SerializedError, maxBytes = Infinity): SerializedError {
  let budget = Math.min(MAX_ERROR_TEXT_BYTES, Number.isFinite(maxBytes) ? Math.floor((maxBytes - 512) / 2) : MAX_ERROR_TEXT_BYTES);
  for (;;) {
    const fitted: SerializedError = { ...error, name: cutText(error.name ?? 'Error', 256), message: cutText(error.message, budget) };
    if (error.stack !== undefined) fitted.stack = cutText(error.stack, budget);
    if (error.code !== undefined) fitted.code = cutText(error.code, 256);
    // JSON escapes (quotes, control characters) can make the stored value longer than its text.
    if (Buffer.byteLength(JSON.stringify(fitted)) <= maxBytes || budget <= 64) return fitted;
    budget = Math.floor(budget / 2);
  }
}

/**
 * Refuses a result larger than the store keeps: the `RESULT_TOO_LARGE` error to fail the attempt
 * with, or null when it fits. `json` is the result as JSON.
 *
 * @example
 * ```ts
 * const refused = resultTooLarge(JSON.stringify(result), valueLimit(backend.capabilities));
 * if (refused) await backend.fail(queue, lease, { error: refused.toJSON() });
 * ```
 */
export function resultTooLarge(json: string, maxBytes: number, context: Record<string, unknown> = {}): SkqError | null {
  const size = Buffer.byteLength(json);
  if (size <= maxBytes) return null;
  return new SkqError('RESULT_TOO_LARGE', `the job's result is ${size} bytes of JSON; this store stores at most ${maxBytes} for one result (return less, or store it elsewhere and return where)`, {
    context: { ...context, field: 'result', bytes: size, maxBytes },
  });
}

/**
 * A log line as it can be stored: cut to {@link MAX_LOG_LINE_BYTES}, and to `maxBytes`, with a marker.
 *
 * @example
 * ```ts
 * fitLogLine({ deliveryId: 'j.0', at: Date.now(), stream: 'log', line: 'x'.repeat(200_000) }, 90_000);
 * ```
 */
export function fitLogLine<T extends Pick<LogLine, 'line'>>(line: T, maxBytes = Infinity): T {
  const limit = Math.min(MAX_LOG_LINE_BYTES, maxBytes - 256);
  if (Buffer.byteLength(JSON.stringify(line.line)) <= limit) return line;
  for (let budget = limit; ; budget = Math.floor(budget / 2)) {
    const cut = cutText(line.line, budget);
    if (Buffer.byteLength(JSON.stringify(cut)) <= limit || budget <= 64) return { ...line, line: cut };
  }
}

/**
 * Refuses, before anything is written, a batch holding a job larger than one value of the store:
 * an enqueue is all or nothing, so a store that writes in several transactions checks this first.
 *
 * @example
 * ```ts
 * checkJobSizes(jobs, backend.capabilities.maxValueBytes);
 * ```
 */
export function checkJobSizes(jobs: readonly NewJob[], maxValueBytes: number | undefined): void {
  if (maxValueBytes === undefined) return;
  const limit = valueLimit({ maxValueBytes });
  jobs.forEach((job, index) => {
    const size = Buffer.byteLength(JSON.stringify(job));
    if (size > limit) {
      throw new SkqError('ARGS_INVALID', `job ${index + 1} of ${jobs.length} (${job.id}, "${job.name}") is ${size} bytes of JSON; this store keeps at most ${limit} per job, so none of the ${jobs.length} was stored`, {
        context: { queue: job.queue, jobId: job.id, jobName: job.name, field: 'args', bytes: size, maxBytes: limit },
      });
    }
  });
}
