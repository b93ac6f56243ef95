import { z } from 'zod';
import { SkqError, describeIssues, serializeError } from './errors.js';

/**
 * `schema.safeParse(input)` that never throws: a getter or Proxy trap that throws while zod reads
 * the input (plain-JavaScript callers can pass anything) becomes an issue like any other.
 *
 * @example
 * ```ts
 * const parsed = safeParseInput(RoutesSchema, routes);
 * if (!parsed.success) throw new SkqError('ARGS_INVALID', describeIssues(parsed.error.issues));
 * ```
 */
export function safeParseInput<S extends z.ZodType>(schema: S, input: unknown): z.ZodSafeParseResult<z.output<S>> {
  try {
    return schema.safeParse(input) as z.ZodSafeParseResult<z.output<S>>;
  } catch (err) {
    const message = `could not be read: ${serializeError(err).message}`;
    return { success: false, error: new z.ZodError([{ code: 'custom', path: [], message, input }]) } as z.ZodSafeParseResult<z.output<S>>;
  }
}

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
  const parsed = safeParseInput(schema, input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as { path: PropertyKey[]; keys?: string[] } | undefined;
  throw new SkqError('CONFIG_INVALID', `invalid ${label}: ${describeIssues(parsed.error.issues, prefix)}`, {
    cause: parsed.error,
    context: { field: String(issue?.path[0] ?? issue?.keys?.[0] ?? '') },
  });
}
