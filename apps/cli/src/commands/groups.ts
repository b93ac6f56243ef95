import type { GroupInfo, GroupLimits } from '@skq/core';
import { parseFlags, parseIdAndFlags, usage, UsageError, type FlagSpec } from '../argv.js';
import { durationFlag } from '../duration-flag.js';
import { QUEUE_FLAGS, queueFromFlags } from '../queue-flags.js';
import { cell, say, sayJson } from '../terminal-output.js';

const FLAGS: FlagSpec[] = [
  ...QUEUE_FLAGS,
  { name: 'concurrency', kind: 'value', placeholder: 'n', description: 'limit: at most n of the group running at once' },
  { name: 'rate', kind: 'value', placeholder: 'max/duration', description: 'limit: at most max started per duration (e.g. 100/1m, 10/1s)' },
  { name: 'route', kind: 'boolean', description: 'limit, clear: the name is a route (a rate over all its jobs), not a group' },
  { name: 'cursor', kind: 'value', placeholder: 'group', description: 'list: start after this group' },
  { name: 'limit', kind: 'value', placeholder: 'n', description: 'list: at most n groups (default 100)' },
  { name: 'json', kind: 'boolean', description: 'list: print JSON' },
];

export const GROUPS_USAGE = usage(
  'groups <list|limit|clear> [group]',
  "Lists a queue's groups with their queued and running jobs, own limits and holds, or sets and clears\n" +
    "limits: a group's (\"*\": every group without its own) or, with --route, a route's rate. A name that\nstarts with \"-\" goes last, after --.",
  FLAGS,
);

const ACTIONS = ['list', 'limit', 'clear'] as const;

/** `skunq groups list | limit | clear`. */
export async function groups(argv: string[], cwd: string): Promise<number> {
  const [action, ...rest] = argv;
  if (!ACTIONS.includes(action as (typeof ACTIONS)[number])) throw new UsageError(`expected one of ${ACTIONS.join(', ')}, got ${action === undefined ? 'nothing' : `"${action}"`}`);
  const { id: name, flags } = action !== 'list' ? parseIdAndFlags(rest, FLAGS, `groups ${action}`) : { id: undefined, flags: parseFlags(rest, FLAGS) };
  if (action !== 'list' && !name) throw new UsageError(`groups ${action} needs a group name ("*" for the default)${flags.route ? ' or, with --route, a route' : ''}`);
  const limits = action === 'limit' ? limitsFromFlags(flags) : null;
  const queue = await queueFromFlags(flags, cwd);
  try {
    if (action === 'list') {
      const limit = flags.limit === undefined ? 100 : Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1_000) throw new UsageError(`--limit takes a whole number from 1 to 1000, got "${String(flags.limit)}"`);
      const page = await queue.groups({ limit, ...(flags.cursor !== undefined && { cursor: String(flags.cursor) }) });
      if (flags.json) sayJson(page);
      else printGroups(queue.name, page.groups, page.cursor);
      return 0;
    }
    if (flags.route) {
      if (action === 'limit') {
        if (!limits!.rate || limits!.concurrency !== undefined) throw new UsageError('a route takes a --rate, and no --concurrency');
        await queue.setRouteLimits(name!, { rate: limits!.rate });
      } else await queue.clearRouteLimits(name!);
    } else if (action === 'limit') await queue.setGroupLimits(name!, limits!);
    else await queue.clearGroupLimits(name!);
    say(action === 'limit' ? `${flags.route ? 'route' : 'group'} ${cell(name)}: ${describeLimits(limits)}` : `${flags.route ? 'route' : 'group'} ${cell(name)}: limits cleared`);
    return 0;
  } finally {
    await queue.close();
  }
}

/** `--concurrency n` and `--rate max/duration` as limits; a usage error when neither is given or one is malformed. */
function limitsFromFlags(flags: Record<string, unknown>): GroupLimits {
  const limits: GroupLimits = {};
  if (flags.concurrency !== undefined) {
    const n = Number(flags.concurrency);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--concurrency takes a whole number, got "${String(flags.concurrency)}"`);
    limits.concurrency = n;
  }
  if (flags.rate !== undefined) {
    const match = /^(\d+)\/(.+)$/.exec(String(flags.rate));
    if (!match) throw new UsageError(`--rate takes max/duration, such as 100/1m or 10/1s, got "${String(flags.rate)}"`);
    limits.rate = { max: Number(match[1]), perMs: durationFlag(match[2]!, '--rate') };
  }
  if (limits.concurrency === undefined && !limits.rate) throw new UsageError('groups limit needs --concurrency, --rate or both');
  return limits;
}

function describeLimits(limits: GroupLimits | null): string {
  if (!limits) return 'none';
  const parts = [];
  if (limits.concurrency !== undefined) parts.push(`${limits.concurrency} at once`);
  if (limits.rate) parts.push(`${limits.rate.max} per ${limits.rate.perMs} ms`);
  return parts.join(', ');
}

function printGroups(queue: string, list: GroupInfo[], cursor: string | null): void {
  say(`groups of queue ${cell(queue)} (${list.length}${cursor ? `, more after ${cell(cursor)}` : ''})`);
  for (const g of list) {
    const held = g.limitedUntil ? ` held until ${new Date(g.limitedUntil).toISOString()}` : '';
    say(`  ${cell(g.group).padEnd(32)} queued ${String(g.queued).padStart(6)}  running ${String(g.running).padStart(4)}  limits ${describeLimits(g.limits)}${held}`);
  }
}
