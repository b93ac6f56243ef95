import { z } from 'zod';
import { safeParseInput } from '../config.js';
import { SkqError, describeIssues } from '../errors.js';
import { DEFAULT_GROUP, GroupKeySchema, GroupLimitsSchema, RouteLimitsSchema, type GroupLimits, type GroupPage, type RouteLimits } from '../storage/group-records.js';
import type { StorageBackend } from '../storage/storage-backend.js';
import type { GroupStorage } from '../storage/roles/group-storage.js';

// The queue's group and route limits, and its list of groups: checked here, kept by the store.

/** A group key, or '*' for the default limits. */
const LimitedGroupSchema = z.union([z.literal(DEFAULT_GROUP), GroupKeySchema]);

/**
 * `{ cursor?, limit? }` for `queue.groups()`: a page of groups in key order, after `cursor`.
 *
 * @example
 * ```ts
 * const query: GroupsQuery = { limit: 100 };
 * const { groups, cursor } = await queue.groups(query);
 * ```
 */
export const GroupsQuerySchema = z
  .object({
    /** The `cursor` of the previous page. */
    cursor: z.string().min(1).max(1024).nullable().optional(),
    limit: z.number().int().min(1).max(1000).default(100),
  })
  .strict();

/**
 * The query of `queue.groups()`: see {@link GroupsQuerySchema}.
 *
 * @example
 * ```ts
 * const next = await queue.groups({ cursor: page.cursor, limit: 50 });
 * ```
 */
export type GroupsQuery = z.input<typeof GroupsQuerySchema>;

type Target = { backend: StorageBackend; queue: string };

/**
 * The error for a group, or group or route limits, on a store without groups.
 *
 * @example
 * ```ts
 * if (!backend.capabilities.groups) throw groupsUnsupported(backend, 'demo', 'options.group');
 * ```
 */
export function groupsUnsupported(backend: StorageBackend, queue: string, field: string): SkqError {
  return new SkqError('UNSUPPORTED', `the ${backend.kind} backend keeps no groups (${field}): use a backend with groups, such as sqlite`, {
    context: { queue, field },
  });
}

/** Stores a group's limits, replacing what it had ('*': the default of every group without its own). */
export async function setGroupLimits(target: Target, group: unknown, limits: unknown): Promise<void> {
  const key = parsed(LimitedGroupSchema, group, target.queue, 'group');
  const value = parsed(GroupLimitsSchema, limits, target.queue, 'limits');
  await storeOf(target, 'setGroupLimits').setGroupLimits(target.queue, key, value);
}

/** A group's own limits ('*': the default), or null. */
export async function getGroupLimits(target: Target, group: unknown): Promise<GroupLimits | null> {
  const key = parsed(LimitedGroupSchema, group, target.queue, 'group');
  return storeOf(target, 'groupLimits').getGroupLimits(target.queue, key);
}

/** Removes a group's limits: the default applies to it again ('*': no default). */
export async function clearGroupLimits(target: Target, group: unknown): Promise<void> {
  const key = parsed(LimitedGroupSchema, group, target.queue, 'group');
  await storeOf(target, 'clearGroupLimits').setGroupLimits(target.queue, key, null);
}

/** Stores a route's limits (`route` checked by the caller), replacing what it had. */
export async function setRouteLimits(target: Target, route: string, limits: unknown): Promise<void> {
  const value = parsed(RouteLimitsSchema, limits, target.queue, 'limits');
  await storeOf(target, 'setRouteLimits').setRouteLimits(target.queue, route, value);
}

/** A route's limits, or null. */
export async function getRouteLimits(target: Target, route: string): Promise<RouteLimits | null> {
  return storeOf(target, 'routeLimits').getRouteLimits(target.queue, route);
}

/** Removes a route's limits. */
export async function clearRouteLimits(target: Target, route: string): Promise<void> {
  await storeOf(target, 'clearRouteLimits').setRouteLimits(target.queue, route, null);
}

/** A page of the queue's groups. */
export async function listGroups(target: Target, query: unknown): Promise<GroupPage> {
  const { cursor, limit } = parsed(GroupsQuerySchema, query ?? {}, target.queue, 'query');
  return storeOf(target, 'groups').listGroups({ queue: target.queue, cursor: cursor ?? null, limit });
}

function storeOf({ backend, queue }: Target, method: string): GroupStorage {
  if (!backend.capabilities.groups) throw groupsUnsupported(backend, queue, `queue.${method}()`);
  return backend as StorageBackend & GroupStorage;
}

function parsed<S extends z.ZodType>(schema: S, input: unknown, queue: string, field: string): z.output<S> {
  const result = safeParseInput(schema, input);
  if (!result.success) {
    const path = result.error.issues[0]?.path ?? [];
    throw new SkqError('ARGS_INVALID', `invalid ${field}: ${describeIssues(result.error.issues, field)}`, {
      cause: result.error,
      context: { queue, field: [field, ...path.map(String)].join('.') },
    });
  }
  return result.data;
}
