import type { ScheduleRecord } from '@skq/core';
import { parseFlags, usage, UsageError, type FlagSpec } from '../argv.js';
import { QUEUE_FLAGS, queueFromFlags } from '../queue-flags.js';

const FLAGS: FlagSpec[] = [
  ...QUEUE_FLAGS,
  { name: 'json', kind: 'boolean', description: 'Print JSON (list)' },
];

export const SCHEDULE_USAGE = usage(
  'schedule <list|pause|resume|remove> [id]',
  'Lists a queue\'s stored schedules, or pauses, resumes or removes one by id.',
  FLAGS,
);

const ACTIONS = ['list', 'pause', 'resume', 'remove'] as const;

/** `skunq schedule list | pause | resume | remove`. */
export async function schedule(argv: string[], cwd: string): Promise<number> {
  const [action, ...rest] = argv;
  if (!ACTIONS.includes(action as (typeof ACTIONS)[number])) throw new UsageError(`expected one of ${ACTIONS.join(', ')}, got ${action === undefined ? 'nothing' : `"${action}"`}`);
  const id = action !== 'list' && rest[0] !== undefined && !rest[0].startsWith('-') ? rest.shift() : undefined;
  if (action !== 'list' && !id) throw new UsageError(`schedule ${action} needs the schedule's id`);
  const flags = parseFlags(rest, FLAGS);
  const queue = await queueFromFlags(flags, cwd);
  const name = queue.name;
  try {
    if (action === 'list') {
      const schedules = await queue.schedules();
      if (flags.json) console.log(JSON.stringify(schedules, null, 2));
      else printTable(name, schedules);
    } else if (action === 'remove') {
      await queue.removeSchedule(id!);
      console.log(`removed schedule ${id}`);
    } else {
      await queue.pauseSchedule(id!, action === 'pause');
      console.log(`${action === 'pause' ? 'paused' : 'resumed'} schedule ${id}`);
    }
    return 0;
  } finally {
    await queue.close();
  }
}

function describeRule(s: ScheduleRecord): string {
  const r = s.rule;
  if (r.kind === 'every') return `every ${r.everyMs} ms`;
  if (r.kind === 'cron') return `cron "${r.expression}"${r.timezone ? ` ${r.timezone}` : ''}`;
  if (r.kind === 'after') return `${r.delayMs} ms after each run`;
  return `${r.policy} (${Math.round(Number(s.state?.intervalMs ?? 0))} ms now)`;
}

function printTable(queue: string, schedules: ScheduleRecord[]): void {
  console.log(`schedules of queue ${queue} (${schedules.length})`);
  for (const s of schedules) {
    const next = s.paused ? 'paused' : s.nextRunAt !== null ? new Date(s.nextRunAt).toISOString() : `after ${s.waitingJobId}`;
    console.log(`  ${s.id.padEnd(24)} ${s.job.name.padEnd(18)} ${describeRule(s).padEnd(34)} next ${next.padEnd(26)} fired ${s.firedCount}`);
  }
}
