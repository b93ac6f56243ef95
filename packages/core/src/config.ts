import type { z } from 'zod';
import { SkqError, describeIssues } from './errors.js';

/**
 * Parses options with their zod schema once, throwing `CONFIG_INVALID` that names the first
 * offending field (or unknown key) and lists every issue.
 *
 * @example
 * ```ts
 * const options = parseConfig(RedisOptionsSchema, input, 'redis options');
 * ```
 */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, label: string, prefix = ''): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as { path: PropertyKey[]; keys?: string[] } | undefined;
  throw new SkqError('CONFIG_INVALID', `invalid ${label}: ${describeIssues(parsed.error.issues, prefix)}`, {
    cause: parsed.error,
    context: { field: String(issue?.path[0] ?? issue?.keys?.[0] ?? '') },
  });
}
