import { z } from 'zod';
import type { JobRunOptions, RetentionRule } from './contract.js';

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

/**
 * `true | N | { count?, ageMs? } | false` for `removeOnComplete` and `removeOnFail`.
 *
 * @example
 * ```ts
 * const keep: Retention = { count: 1000, ageMs: 7 * 86_400_000 }; // the newest 1,000, none older than a week
 * const queue = new SkunkQueue('mail', { removeOnComplete: keep, removeOnFail: false });
 * ```
 */
export type Retention = z.input<typeof RetentionSchema>;

/**
 * A retention setting as a backend URL's query writes it (`?removeOnComplete=1000`): `true`, `false`, a
 * count, or `{ count, ageMs }` as JSON. Anything else is returned as given, for {@link RetentionSchema}
 * to refuse with where it was.
 *
 * @example
 * ```ts
 * retentionFromText('1000'); // 1000
 * retentionFromText('{"ageMs":86400000}'); // { ageMs: 86400000 }
 * ```
 */
export function retentionFromText(value: string): unknown {
  if (value === 'true' || value === 'false') return value === 'true';
  if (value.startsWith('{')) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return /^\d+$/.test(value) ? Number(value) : value;
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

/**
 * How an ended job counts for retention: `failed` covers failed and cancelled jobs.
 *
 * @example
 * ```ts
 * const kind: EndedKind = state === 'succeeded' ? 'completed' : 'failed'; // cancelled counts as failed
 * const step = retention.afterEnd('demo', kind, row.options);
 * ```
 */
export type EndedKind = 'completed' | 'failed';

/**
 * What a backend does with a job that has just ended.
 *
 * @example
 * ```ts
 * const step: RetentionStep = retention.afterEnd('demo', 'failed', row.options);
 * if (step.action === 'trim') trimEnded('demo', 'failed', step.rule); // step.rule is the job's removeOnFail
 * ```
 */
export type RetentionStep = { action: 'keep' } | { action: 'remove' } | { action: 'trim'; rule: RetentionRule };

const KEEP: RetentionStep = Object.freeze({ action: 'keep' });

/**
 * The retention rule of ended jobs, written once for the backends that apply it outside a script:
 * reads a job's stored options, and spreads trims out (see {@link trimEvery}) per queue and kind.
 *
 * @example
 * ```ts
 * const step = retention.afterEnd(queue, 'completed', row.options);
 * if (step.action === 'remove') removeJob(id);
 * else if (step.action === 'trim') trimQueue(queue, 'completed', step.rule);
 * ```
 */
export class RetentionSchedule {
  // Endings since the last trim, by queue and kind (no key string built per ending).
  private readonly sinceTrim = new Map<string, Record<EndedKind, number>>();

  /**
   * What to do now that a job of `queue` ended as `kind` (or `ended` jobs of the same options at once);
   * `options` is its stored run options, as JSON or parsed.
   */
  afterEnd(queue: string, kind: EndedKind, options: string | JobRunOptions, ended = 1): RetentionStep {
    // Most jobs carry no rule: their options JSON is not parsed.
    if (typeof options === 'string' && !options.includes('"removeOn')) return KEEP;
    const parsed = typeof options === 'string' ? (JSON.parse(options) as JobRunOptions) : options;
    const rule = kind === 'completed' ? parsed.removeOnComplete : parsed.removeOnFail;
    if (!rule) return KEEP;
    if (rule.count === 0) return { action: 'remove' };
    let counts = this.sinceTrim.get(queue);
    if (!counts) this.sinceTrim.set(queue, (counts = { completed: 0, failed: 0 }));
    counts[kind] += ended;
    if (counts[kind] < trimEvery(rule)) return KEEP;
    counts[kind] = 0;
    return { action: 'trim', rule };
  }
}
