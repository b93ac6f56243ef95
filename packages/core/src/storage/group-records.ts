import { z } from 'zod';

// Groups as the storage contract stores them: a job's group key, the limits on a group or a route,
// and what a store says about each group.

/**
 * The group key that names the default limits: those of every group without limits of its own.
 *
 * @example
 * ```ts
 * await queue.setGroupLimits(DEFAULT_GROUP, { concurrency: 2 }); // every tenant: 2 at once, unless set otherwise
 * ```
 */
export const DEFAULT_GROUP = '*';

/**
 * A job's group key: 1 to 256 characters without NUL (which PostgreSQL text cannot hold), not `*`
 * (the default limits' name).
 *
 * @example
 * ```ts
 * GroupKeySchema.parse('tenant-42'); // 'tenant-42'
 * GroupKeySchema.safeParse('*').success; // false: '*' names the default limits
 * ```
 */
export const GroupKeySchema = z
  .string()
  .min(1)
  .max(256)
  .refine((key) => !key.includes('\u0000'), { message: 'a group key holds no NUL character' })
  .refine((key) => key !== DEFAULT_GROUP, { message: '"*" names the default limits, not a group' });

/**
 * A rate: at most `max` starts in any window of `perMs` milliseconds.
 *
 * @example
 * ```ts
 * RateLimitSchema.parse({ max: 100, perMs: 60_000 }); // 100 a minute
 * ```
 */
export const RateLimitSchema = z
  .object({
    max: z.number().int().min(1).max(1_000_000),
    perMs: z.number().int().min(1).max(7 * 86_400_000),
  })
  .strict();

/**
 * Limits on a group: at most `concurrency` of its jobs running at once, at most `rate.max` started in
 * any `rate.perMs` window. `concurrency: 0` starts none.
 *
 * @example
 * ```ts
 * GroupLimitsSchema.parse({ concurrency: 2, rate: { max: 10, perMs: 1_000 } });
 * GroupLimitsSchema.safeParse({}).success; // false: set at least one limit
 * ```
 */
export const GroupLimitsSchema = z
  .object({
    concurrency: z.number().int().min(0).max(1_000_000).optional(),
    rate: RateLimitSchema.optional(),
  })
  .strict()
  .refine((limits) => limits.concurrency !== undefined || limits.rate !== undefined, { message: 'set concurrency, rate or both' });

/**
 * Limits on a route: every job of the route, grouped or not.
 *
 * @example
 * ```ts
 * RouteLimitsSchema.parse({ rate: { max: 100, perMs: 60_000 } });
 * ```
 */
export const RouteLimitsSchema = z.object({ rate: RateLimitSchema }).strict();

/**
 * At most `max` starts in any window of `perMs` ms.
 *
 * @example
 * ```ts
 * const perMinute: RateLimit = { max: 100, perMs: 60_000 };
 * ```
 */
export type RateLimit = z.output<typeof RateLimitSchema>;

/**
 * What a group may run: see {@link GroupLimitsSchema}.
 *
 * @example
 * ```ts
 * const limits: GroupLimits = { concurrency: 2, rate: { max: 10, perMs: 1_000 } };
 * await queue.setGroupLimits('tenant-42', limits);
 * ```
 */
export type GroupLimits = z.output<typeof GroupLimitsSchema>;

/**
 * What a route may run: see {@link RouteLimitsSchema}.
 *
 * @example
 * ```ts
 * const limits: RouteLimits = { rate: { max: 100, perMs: 60_000 } };
 * await queue.setRouteLimits('emails', limits);
 * ```
 */
export type RouteLimits = z.output<typeof RouteLimitsSchema>;

/**
 * A group as its store sees it now.
 *
 * @example
 * ```ts
 * const info: GroupInfo = { group: 'tenant-42', queued: 10, running: 2, limitedUntil: null, limits: { concurrency: 2 } };
 * ```
 */
export interface GroupInfo {
  group: string;
  /** Its deliveries waiting: due or not yet due. */
  queued: number;
  /** Its deliveries leased to workers. */
  running: number;
  /** Until when a handler's `RateLimited` keeps the group from starting anything; null when it is not held. */
  limitedUntil: number | null;
  /** Its own limits; null when the default limits (or none) apply. */
  limits: GroupLimits | null;
}

/**
 * What {@link GroupStorage.listGroups} is asked for: groups in key order, after `cursor`.
 *
 * @example
 * ```ts
 * const query: GroupListQuery = { queue: 'demo', cursor: null, limit: 100 }; // the first page
 * ```
 */
export interface GroupListQuery {
  queue: string;
  /** The `cursor` of the previous page; null for the first. */
  cursor: string | null;
  limit: number;
}

/**
 * A page of groups: those with queued or running jobs, limits or a hold, in key order.
 *
 * @example
 * ```ts
 * const page: GroupPage = { groups: [], cursor: null }; // nothing more
 * ```
 */
export interface GroupPage {
  groups: GroupInfo[];
  /** Pass it back for the next page; null when there are no more. */
  cursor: string | null;
}
