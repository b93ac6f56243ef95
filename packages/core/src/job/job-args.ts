import type { z } from 'zod';
import { safeParseInput } from '../config.js';
import { SkqError, describeIssues, serializeError } from '../errors.js';

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
  try {
    return JSON.parse(JSON.stringify(args.slice(0, end))) as unknown[];
  } catch (cause) {
    throw new SkqError('ARGS_INVALID', `arguments for job "${jobName}" cannot be serialized as JSON: ${serializeError(cause).message}`, {
      cause,
      context: { jobName, field: 'args' },
    });
  }
}

/** Whether `value` looks like a zod schema. */
export function isZodSchema(value: unknown): value is z.ZodType {
  return typeof value === 'object' && value !== null && typeof (value as { safeParse?: unknown }).safeParse === 'function';
}
