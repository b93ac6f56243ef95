import type { z } from 'zod';
import { safeParseInput } from '../config.js';
import { SkqError, describeIssues, describeValue, serializeError } from '../errors.js';

/**
 * Checks a job's arguments and returns them as the worker will receive them.
 *
 * At fire (`atFire`, the default) arguments travel as JSON: trailing `undefined` arguments are
 * dropped (as if not passed), other `undefined` values become `null`, and a Date becomes its ISO
 * string. The job's schema must accept both what was passed and that JSON form, so a schema the
 * worker would refuse (`z.date()` rather than `z.coerce.date()`, say) fails here, at fire, and not
 * on every worker. On the worker (`atFire` false) the stored arguments are parsed by the schema and
 * its output is returned. Throws `ARGS_INVALID` naming the argument.
 *
 * @example
 * ```ts
 * validateArgs('add', [4, 5], z.tuple([z.number(), z.number()])); // [4, 5]
 * validateArgs('when', [new Date(0)], undefined); // ['1970-01-01T00:00:00.000Z']
 * ```
 */
export function validateArgs(jobName: string, args: unknown[], schema: z.ZodType | undefined, atFire = true): unknown[] {
  if (!Array.isArray(args)) throw new SkqError('ARGS_INVALID', `arguments for job "${jobName}" must be an array`, { context: { jobName } });
  if (!atFire) return schema ? (parseArgs(jobName, args, schema, '') as unknown[]) : args;
  const wire = toWire(jobName, args);
  // One parse when the arguments are good; only a refusal parses again, to say whether the
  // arguments themselves are wrong or only the JSON form the worker receives.
  if (schema && !safeParseInput(schema, wire).success) {
    parseArgs(jobName, args, schema, '');
    parseArgs(jobName, wire, schema, ' as the worker receives them (JSON: a Date arrives as an ISO string, so use z.coerce.date(); undefined arrives as null)');
  }
  return wire;
}

function parseArgs(jobName: string, args: unknown[], schema: z.ZodType, how: string): unknown {
  const parsed = safeParseInput(schema, args);
  if (!parsed.success) {
    throw new SkqError('ARGS_INVALID', `invalid arguments for job "${jobName}"${how}: ${describeIssues(parsed.error.issues, 'args')}`, {
      cause: parsed.error,
      context: { jobName, field: parsed.error.issues[0]?.path.length ? `args.${parsed.error.issues[0].path.map(String).join('.')}` : 'args' },
    });
  }
  return parsed.data;
}

/** The arguments as JSON carries them to the worker. */
function toWire(jobName: string, args: unknown[]): unknown[] {
  let end = args.length;
  while (end > 0 && args[end - 1] === undefined) end -= 1;
  return jsonArgs(args.slice(0, end), `arguments for job "${jobName}"`, { jobName });
}

/**
 * `args` as JSON carries them, or `ARGS_INVALID` naming the path (`args.1.rate`) of the first value
 * JSON cannot carry: NaN and ±Infinity (which JSON would turn into null), a BigInt, a cycle, or a
 * getter or `toJSON` that throws (whatever it throws, null included).
 *
 * @example
 * ```ts
 * jsonArgs([{ at: new Date(0) }], 'module task arguments'); // [{ at: '1970-01-01T00:00:00.000Z' }]
 * jsonArgs([{ rate: NaN }], 'module task arguments'); // throws ARGS_INVALID, field 'args.0.rate'
 * ```
 */
export function jsonArgs(args: unknown[], what: string, context: { jobName?: string } = {}): unknown[] {
  let text = '';
  let threw = false;
  let failure: unknown;
  try {
    text = JSON.stringify(args);
  } catch (cause) {
    [threw, failure] = [true, cause];
  }
  // "null" in the text may be a NaN or ±Infinity JSON turned into null (or a null given): only
  // then, or when JSON refused, is the walk that finds the path worth its cost.
  if (threw || text.includes('null')) {
    let found: Unjsonable | null = null;
    try {
      found = unjsonable(args, 'args', '', new Set());
    } catch {
      // A Proxy whose traps throw, or nesting deeper than the stack: JSON's own complaint says it below.
    }
    if (found) {
      throw new SkqError('ARGS_INVALID', `${what} cannot be serialized as JSON: ${found.path} ${found.why}`, { cause: found.cause ?? failure, context: { ...context, field: found.path } });
    }
  }
  if (threw) {
    throw new SkqError('ARGS_INVALID', `${what} cannot be serialized as JSON: ${serializeError(failure).message}`, { cause: failure, context: { ...context, field: 'args' } });
  }
  return JSON.parse(text) as unknown[];
}

interface Unjsonable {
  path: string;
  why: string;
  cause?: unknown;
}

/** The first value under `value` that JSON.stringify would refuse or turn into null, walking as it does. */
function unjsonable(value: unknown, path: string, key: string, ancestors: Set<object>): Unjsonable | null {
  let current = value;
  try {
    if ((typeof current === 'object' && current !== null) || typeof current === 'bigint') {
      const toJSON = (current as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') current = toJSON.call(current, key);
    }
  } catch (cause) {
    return { path, why: `could not be read: its toJSON() threw ${describeThrown(cause)}`, cause };
  }
  if (typeof current === 'number' && !Number.isFinite(current)) return { path, why: `is ${current}, which JSON would turn into null` };
  if (typeof current === 'bigint') return { path, why: 'is a BigInt' };
  if (typeof current !== 'object' || current === null || current instanceof Number || current instanceof String || current instanceof Boolean) {
    return current instanceof Number && !Number.isFinite(current.valueOf()) ? { path, why: `is ${current.valueOf()}, which JSON would turn into null` } : null;
  }
  if (ancestors.has(current)) return { path, why: 'refers back to an object that contains it (a cycle)' };
  ancestors.add(current);
  try {
    const keys = Array.isArray(current) ? Array.from({ length: current.length }, (_, i) => String(i)) : Object.keys(current);
    for (const k of keys) {
      let child: unknown;
      try {
        child = (current as Record<string, unknown>)[k];
      } catch (cause) {
        return { path: `${path}.${k}`, why: `could not be read: its getter threw ${describeThrown(cause)}`, cause };
      }
      const found = unjsonable(child, `${path}.${k}`, k, ancestors);
      if (found) return found;
    }
    return null;
  } catch (cause) {
    return { path, why: `could not be read: ${describeThrown(cause)}`, cause };
  } finally {
    ancestors.delete(current);
  }
}

function describeThrown(thrown: unknown): string {
  return thrown instanceof Error ? serializeError(thrown).message : describeValue(thrown);
}

/** Whether `value` looks like a zod schema. */
export function isZodSchema(value: unknown): value is z.ZodType {
  return typeof value === 'object' && value !== null && typeof (value as { safeParse?: unknown }).safeParse === 'function';
}
