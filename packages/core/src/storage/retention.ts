import { z } from 'zod';

/**
 * What to keep of ended jobs, as users write it: `true` removes each job as it ends, `N` keeps the
 * newest N, `{ count?, ageMs? }` keeps at most `count` and none older than `ageMs`; `false` keeps all.
 *
 * @example
 * ```ts
 * const queue = new SkunkQueue('mail', { removeOnComplete: 1000, removeOnFail: { ageMs: 7 * 86_400_000 } });
 * ```
 */
export const RetentionSchema = z.union([
  z.boolean(),
  z.number().int().nonnegative(),
  z.object({ count: z.number().int().nonnegative().optional(), ageMs: z.number().int().nonnegative().optional() }).strict(),
]);

/** `true | N | { count?, ageMs? } | false` for `removeOnComplete` and `removeOnFail`. */
export type Retention = z.input<typeof RetentionSchema>;

/** A retention rule as stored with each job: null fields do not limit. `{ count: 0 }` removes at once. */
export interface RetentionRule {
  count: number | null;
  ageMs: number | null;
}

/**
 * The stored rule of a retention setting; null when it keeps everything.
 *
 * @example
 * ```ts
 * retentionRule(1000); // { count: 1000, ageMs: null }
 * retentionRule(true); // { count: 0, ageMs: null }
 * ```
 */
export function retentionRule(retention: z.output<typeof RetentionSchema> | undefined): RetentionRule | null {
  if (retention === undefined || retention === false) return null;
  if (retention === true) return { count: 0, ageMs: null };
  if (typeof retention === 'number') return { count: retention, ageMs: null };
  if (retention.count === undefined && retention.ageMs === undefined) return null;
  return { count: retention.count ?? null, ageMs: retention.ageMs ?? null };
}

/**
 * How often a backend trims ended jobs by count: after every `1 + count/10` endings, so a bound of
 * 1,000 is overshot by at most about 10 % per process, and trimming costs a hot path almost nothing.
 *
 * @example
 * ```ts
 * if (++endedSinceTrim >= trimEvery(rule)) trim();
 * ```
 */
export function trimEvery(rule: RetentionRule): number {
  return rule.count === null ? 100 : 1 + Math.floor(rule.count / 10);
}
