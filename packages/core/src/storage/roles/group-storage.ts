import type { GroupLimits, GroupListQuery, GroupPage, RouteLimits } from '../group-records.js';

/**
 * Groups and limits: stored limits that every claim obeys, and what the store knows of each group.
 * A store with `capabilities.groups` has these methods, and its `claim` then keeps, at every moment
 * and across every process:
 * - at most `concurrency` deliveries of a group leased (its own limits, else those of `'*'`); a lease
 *   that expires frees its place when `recoverExpired` takes it back;
 * - at most `rate.max` deliveries of a group, or of a route with route limits, started in any window
 *   of `rate.perMs` ms by the store's clock;
 * - nothing of a group started before the time a `fail` with `holdGroupUntil` set;
 * - fair turns: among the groups with due work on a route (the jobs without a group taking turns as
 *   one more), each claim takes from the group served longest ago, one delivery per turn (or, for a
 *   group with a concurrency limit and no rate, up to its free places), so a group with 10 jobs is not
 *   behind another's 10,000. Within a group, priority and run time order as usual.
 * A change of limits applies to the next claim.
 *
 * @example
 * ```ts
 * await backend.setGroupLimits!('demo', 'tenant-42', { concurrency: 2 });
 * const { groups } = await backend.listGroups!({ queue: 'demo', cursor: null, limit: 100 });
 * ```
 */
export interface GroupStorage {
  /** Stores a group's limits (`'*'`: the default for every group without its own); null removes them. */
  setGroupLimits(queue: string, group: string, limits: GroupLimits | null): Promise<void>;

  /** A group's own limits (or the default's, for `'*'`), or null. */
  getGroupLimits(queue: string, group: string): Promise<GroupLimits | null>;

  /** Stores a route's limits; null removes them. */
  setRouteLimits(queue: string, route: string, limits: RouteLimits | null): Promise<void>;

  /** A route's limits, or null. */
  getRouteLimits(queue: string, route: string): Promise<RouteLimits | null>;

  /** Groups with queued or running deliveries, limits of their own or a hold, in key order, a page at a time. */
  listGroups(query: GroupListQuery): Promise<GroupPage>;
}
