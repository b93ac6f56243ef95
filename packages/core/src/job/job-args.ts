import type { z } from 'zod';
import { SkqError, describeIssues } from '../errors.js';

/**
 * Checks arguments against a job's schema (when it has one) and, unless they came from storage
 * already (`checkJson` false), that they survive JSON, since that is how they travel to the
 * worker. Throws `ARGS_INVALID` naming the argument.
 */
export function validateArgs(jobName: string, args: unknown[], schema: z.ZodType | undefined, checkJson = true): unknown[] {
  let value: unknown = args;
  if (schema) {
    const parsed = schema.safeParse(args);
    if (!parsed.success) {
      throw new SkqError('ARGS_INVALID', `invalid arguments for job "${jobName}": ${describeIssues(parsed.error.issues, 'args')}`, {
        cause: parsed.error,
        context: { jobName },
      });
    }
    value = parsed.data;
  }
  if (!checkJson) return value as unknown[];
  try {
    JSON.stringify(args);
  } catch (cause) {
    throw new SkqError('ARGS_INVALID', `arguments for job "${jobName}" cannot be serialized: ${(cause as Error).message}`, {
      cause,
      context: { jobName },
    });
  }
  return value as unknown[];
}

/** Whether `value` looks like a zod schema. */
export function isZodSchema(value: unknown): value is z.ZodType {
  return typeof value === 'object' && value !== null && typeof (value as { safeParse?: unknown }).safeParse === 'function';
}
