import type { JobRunOptions } from './contract.js';
import { DEFAULT_RUN_OPTIONS } from './default-run-options.js';

/**
 * What a job record shows in place of stored JSON that cannot be parsed (a record damaged outside
 * skunq): the start of the raw text and the parser's complaint. Listings and `getJob` show the
 * damage instead of failing on it; a worker that claims such a job fails it with `ARGS_INVALID`
 * ({@link unreadableJobError}).
 *
 * @example
 * ```ts
 * const [first] = (await queue.getRecord(id))!.args;
 * if (first && typeof first === 'object' && 'unreadable' in first) console.warn('damaged job', id, first);
 * ```
 */
export interface UnreadableValue {
  unreadable: string;
  error: string;
}

/**
 * Stored arguments for a job record: the parsed array, or one {@link UnreadableValue} when the text
 * is not a JSON array.
 *
 * @example
 * ```ts
 * storedArgs('[1,2]'); // [1, 2]
 * storedArgs('{oops'); // [{ unreadable: '{oops', error: 'Expected property name…' }]
 * ```
 */
export function storedArgs(raw: string): unknown[] {
  try {
    const parsed: unknown = JSON.parse(raw);
    if (Array.isArray(parsed)) return parsed;
    return [unreadable(raw, 'not an array')];
  } catch (err) {
    return [unreadable(raw, err)];
  }
}

/**
 * Stored run options for a job record: the parsed options, or the defaults when the text cannot be
 * parsed (the arguments of such a job show the damage, if any).
 *
 * @example
 * ```ts
 * storedRunOptions('{"attempts":3}').attempts; // 3
 * ```
 */
export function storedRunOptions(raw: string): JobRunOptions {
  try {
    const parsed: unknown = JSON.parse(raw);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as JobRunOptions) : DEFAULT_RUN_OPTIONS;
  } catch {
    return DEFAULT_RUN_OPTIONS;
  }
}

/**
 * Stored arguments for a worker: the parsed array, or a throw that the claim turns into the job's
 * failure with `ARGS_INVALID`.
 *
 * @example
 * ```ts
 * const args = claimableArgs(row.args); // throws SyntaxError on '{oops'
 * ```
 */
export function claimableArgs(raw: string): unknown[] {
  const parsed: unknown = JSON.parse(raw);
  if (!Array.isArray(parsed)) throw new TypeError(`stored arguments are ${parsed === null ? 'null' : typeof parsed}, not an array`);
  return parsed;
}

function unreadable(raw: string, err: unknown): UnreadableValue {
  return { unreadable: raw.length > 200 ? `${raw.slice(0, 200)}…` : raw, error: err instanceof Error ? err.message : String(err) };
}
