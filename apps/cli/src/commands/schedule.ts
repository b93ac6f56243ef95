import type { ScheduleRecord } from '@skq/core';
import { parseFlags, parseIdAndFlags, usage, UsageError, type FlagSpec } from '../argv.js';
import { QUEUE_FLAGS, queueFromFlags } from '../queue-flags.js';
import { cell, say, sayJson } from '../terminal-output.js';

const FLAGS: FlagSpec[] = [
  ...QUEUE_FLAGS,
  { name: 'json', kind: 'boolean', description: 'Print JSON (list)' },
];

export const SCHEDULE_USAGE = usage(
  'schedule <list|pause|resume|remove> [id]',
  'Lists a queue\'s stored schedules, or pauses, resumes or removes one by id. An id that starts with "-"\ngoes last, after --: skunq schedule pause -q demo -- -nightly',
  FLAGS,
);

const ACTIONS = ['list', 'pause', 'resume', 'remove'] as const;

/** `skunq schedule list | pause | resume | remove`. */
export async function schedule(argv: string[], cwd: string): Promise<number> {
  const [action, ...rest] = argv;
  if (!ACTIONS.includes(action as (typeof ACTIONS)[number])) throw new UsageError(`expected one of ${ACTIONS.join(', ')}, got ${action === undefined ? 'nothing' : `"${action}"`}`);
  const { id, flags } = action !== 'list' ? parseIdAndFlags(rest, FLAGS, `schedule ${action}`) : { id: undefined, flags: parseFlags(rest, FLAGS) };
  if (action !== 'list' && !id) throw new UsageError(`schedule ${action} needs the schedule's id`);
  const queue = await queueFromFlags(flags, cwd);
  const name = queue.name;
  try {
    if (action === 'list') {
      const schedules = await queue.schedules();
      if (flags.json) sayJson(schedules);
      else printTable(name, schedules);
    } else if (action === 'remove') {
      await queue.removeSchedule(id!);
      say(`removed schedule ${cell(id)}`);
    } else {
      await queue.pauseSchedule(id!, action === 'pause');
      say(`${action === 'pause' ? 'paused' : 'resumed'} schedule ${cell(id)}`);
    }
    return 0;
  } finally {
    await queue.close();
  }
}

function describeRule(s: ScheduleRecord): string {
  const r = s.rule;
  if (r.kind === 'every') return `every ${r.everyMs} ms`;
  if (r.kind === 'cron') return `cron "${cell(r.expression)}"${r.timezone ? ` ${cell(r.timezone)}` : ''}`;
  if (r.kind === 'after') return `${r.delayMs} ms after each run`;
  return `${r.policy} (${Math.round(Number(s.state?.intervalMs ?? 0))} ms now)`;
}

function printTable(queue: string, schedules: ScheduleRecord[]): void {
  say(`schedules of queue ${cell(queue)} (${schedules.length})`);
  for (const s of schedules) {
    const next = s.paused ? 'paused' : s.nextRunAt !== null ? new Date(s.nextRunAt).toISOString() : `after ${cell(s.waitingJobId)}`;
    say(`  ${cell(s.id).padEnd(24)} ${cell(s.job.name).padEnd(18)} ${describeRule(s).padEnd(34)} next ${next.padEnd(26)} fired ${cell(s.firedCount)}`);
  }
}
