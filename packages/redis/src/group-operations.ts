// The Redis backend's groups: limits kept in the queue's 'glimits' and 'rlimits' hashes as
// 'concurrency|max|perMs' ('' where unset, scripts/common.ts), read by every claim; and the list of groups.
import type { GroupInfo, GroupLimits, GroupPage, RouteLimits } from '@skq/core';
import type { GroupListQuery } from '@skq/core/backend';
import type { CommandRunner } from './command-runner.js';
import { Script } from './script-runner.js';

const LIST_GROUPS = new Script('list_groups');

export async function setGroupLimits(runner: CommandRunner, queue: string, group: string, limits: GroupLimits | null): Promise<void> {
  await writeLimits(runner, queue, 'glimits', group, limits === null ? null : [limits.concurrency, limits.rate?.max, limits.rate?.perMs]);
}

export async function getGroupLimits(runner: CommandRunner, queue: string, group: string): Promise<GroupLimits | null> {
  return limitsOf(await runner.call('getGroupLimits', queue, () => runner.client.hget(limitsKey(runner, queue, 'glimits'), group)));
}

export async function setRouteLimits(runner: CommandRunner, queue: string, route: string, limits: RouteLimits | null): Promise<void> {
  await writeLimits(runner, queue, 'rlimits', route, limits === null ? null : [undefined, limits.rate.max, limits.rate.perMs]);
}

export async function getRouteLimits(runner: CommandRunner, queue: string, route: string): Promise<RouteLimits | null> {
  const rate = limitsOf(await runner.call('getRouteLimits', queue, () => runner.client.hget(limitsKey(runner, queue, 'rlimits'), route)))?.rate;
  return rate ? { rate } : null;
}

/** A page of groups, in one script call (scripts/groups.ts); the cursor is the page's last group. */
export async function listGroups(runner: CommandRunner, query: GroupListQuery): Promise<GroupPage> {
  const rows = (await runner.run('listGroups', query.queue, LIST_GROUPS, runner.keys(query.queue).counts, [query.cursor ?? '', query.limit])) as string[][];
  const groups = rows.map(
    ([group, queued, running, heldTo, limits]): GroupInfo => ({
      group: group!,
      queued: Number(queued),
      running: Number(running),
      limitedUntil: heldTo ? Number(heldTo) : null,
      limits: limitsOf(limits || null),
    }),
  );
  return { groups, cursor: rows.length === query.limit ? rows[rows.length - 1]![0]! : null };
}

function limitsKey(runner: CommandRunner, queue: string, hash: 'glimits' | 'rlimits'): string {
  return `${runner.keys(queue).prefix}:${hash}`;
}

async function writeLimits(runner: CommandRunner, queue: string, hash: 'glimits' | 'rlimits', field: string, values: (number | undefined)[] | null): Promise<void> {
  const key = limitsKey(runner, queue, hash);
  await runner.call(hash === 'glimits' ? 'setGroupLimits' : 'setRouteLimits', queue, () =>
    values === null ? runner.client.hdel(key, field) : runner.client.hset(key, field, values.map((v) => v ?? '').join('|')),
  );
}

/** Limits as stored ('concurrency|max|perMs'), or null. */
function limitsOf(stored: string | null): GroupLimits | null {
  if (!stored) return null;
  const [concurrency, max, perMs] = stored.split('|');
  return { ...(concurrency && { concurrency: Number(concurrency) }), ...(max && perMs && { rate: { max: Number(max), perMs: Number(perMs) } }) };
}
