import { type JobRecord, type JobState, type LogLine } from '@skq/core';
import { JOB_STATES } from '@skq/core/backend';
import { parseFlags, parseIdAndFlags, usage, UsageError, type FlagSpec } from '../argv.js';
import { durationFlag } from '../duration-flag.js';
import { QUEUE_FLAGS, queueFromFlags } from '../queue-flags.js';
import { cell, complain, multiline, say, sayJson } from '../terminal-output.js';

const FLAGS: FlagSpec[] = [
  ...QUEUE_FLAGS,
  { name: 'state', short: 's', kind: 'value', placeholder: 'state', description: `list, clean, retry --all: ${JOB_STATES.join(', ')}` },
  { name: 'name', short: 'n', kind: 'value', placeholder: 'job', description: 'list, retry --all: only jobs of this name' },
  { name: 'route', short: 'r', kind: 'value', placeholder: 'route', description: 'list: only jobs delivered to this route' },
  { name: 'search', kind: 'value', placeholder: 'text', description: 'list: an id prefix or part of a name' },
  { name: 'limit', kind: 'value', placeholder: 'n', description: 'list: jobs per page (default 50); clean: at most this many' },
  { name: 'cursor', kind: 'value', placeholder: 'cursor', description: 'list: the page after the one that printed this cursor' },
  { name: 'older-than', kind: 'value', placeholder: 'age', description: 'clean: only jobs at least this old: ms, or 30s, 15m, 12h, 7d (default 0)' },
  { name: 'all', kind: 'boolean', description: 'retry: every failed (or --state cancelled) job' },
  { name: 'json', kind: 'boolean', description: 'list, show: print JSON' },
];

export const JOBS_USAGE = usage(
  'jobs <list|show|retry|promote|remove|clean> [id]',
  'Lists and inspects a queue\'s jobs, and operates on them: retry a failed or cancelled job (or --all),\npromote a delayed one to run now, remove one, or clean old ones in bulk. An id that starts with "-"\ngoes last, after --: skunq jobs show -q demo -- -abc',
  FLAGS,
);

const ACTIONS = ['list', 'show', 'retry', 'promote', 'remove', 'clean'] as const;
type Action = (typeof ACTIONS)[number];
const WITH_ID: readonly Action[] = ['show', 'retry', 'promote', 'remove'];

/** `skunq jobs list | show | retry | promote | remove | clean`. */
export async function jobs(argv: string[], cwd: string): Promise<number> {
  const [action, ...rest] = argv as [Action | undefined, ...string[]];
  if (!action || !ACTIONS.includes(action)) throw new UsageError(`expected one of ${ACTIONS.join(', ')}, got ${action === undefined ? 'nothing' : `"${action}"`}`);
  const { id, flags } = WITH_ID.includes(action) ? parseIdAndFlags(rest, FLAGS, `jobs ${action}`) : { id: undefined, flags: parseFlags(rest, FLAGS) };
  if (WITH_ID.includes(action) && !id && !(action === 'retry' && flags.all)) throw new UsageError(`jobs ${action} needs the job's id`);
  const state = flags.state === undefined ? undefined : stateFlag(flags.state as string);
  const limit = flags.limit === undefined ? undefined : positiveInt(flags.limit as string, '--limit');
  const queue = await queueFromFlags(flags, cwd);
  try {
    switch (action) {
      case 'list': {
        const page = await queue.list({
          ...(state && { state }),
          ...(flags.name !== undefined && { name: flags.name as string }),
          ...(flags.route !== undefined && { route: flags.route as string }),
          ...(flags.search !== undefined && { search: flags.search as string }),
          ...(limit !== undefined && { limit }),
          ...(flags.cursor !== undefined && { cursor: flags.cursor as string }),
        });
        if (flags.json) sayJson(page);
        else printJobs(page.jobs, page.nextCursor);
        return 0;
      }
      case 'show': {
        const record = await queue.getRecord(id!);
        if (!record) {
          complain(`skunq jobs: [JOB_NOT_FOUND] job ${cell(id)} not found in queue "${cell(queue.name)}"\n`);
          return 1;
        }
        if (flags.json) sayJson({ ...record, logs: await queue.logs(id!) });
        else printJob(record, await queue.logs(id!));
        return 0;
      }
      case 'retry': {
        if (flags.all) {
          const n = await queue.retryAll({ state: (state ?? 'failed') as 'failed' | 'cancelled', ...(flags.name !== undefined && { name: flags.name as string }) });
          say(`retried ${n} job${n === 1 ? '' : 's'}`);
        } else {
          await queue.retry(id!);
          say(`retried job ${cell(id)}`);
        }
        return 0;
      }
      case 'promote':
        await queue.promote(id!);
        say(`promoted job ${cell(id)}: it runs now`);
        return 0;
      case 'remove':
        await queue.remove(id!);
        say(`removed job ${cell(id)}`);
        return 0;
      case 'clean': {
        if (!state) throw new UsageError('jobs clean needs --state');
        const olderThan = flags['older-than'] === undefined ? 0 : durationFlag(flags['older-than'] as string, '--older-than');
        const n = await queue.clean({ state, olderThan, ...(limit !== undefined && { limit }) });
        say(`removed ${n} ${state} job${n === 1 ? '' : 's'}`);
        return 0;
      }
    }
  } finally {
    await queue.close();
  }
}

function printJobs(list: JobRecord[], nextCursor: string | null): void {
  say(`  ${'id'.padEnd(40)} ${'name'.padEnd(20)} ${'state'.padEnd(10)} ${'attempts'.padStart(8)}  created`);
  for (const job of list) {
    say(`  ${cell(job.id).padEnd(40)} ${cell(job.name).padEnd(20)} ${job.state.padEnd(10)} ${String(job.attempts).padStart(8)}  ${new Date(job.createdAt).toISOString()}`);
  }
  if (nextCursor) say(`\nmore: --cursor ${cell(nextCursor)}`);
}

/** A job's record and log: ids, names and JSON on one line each; errors and log lines may span lines. */
function printJob(job: JobRecord, logs: LogLine[]): void {
  say(`job ${cell(job.id)} "${cell(job.name)}" in queue ${cell(job.queue)}: ${job.state}`);
  say(`  args      ${cell(JSON.stringify(job.args))}`);
  say(`  created   ${new Date(job.createdAt).toISOString()}`);
  if (job.progress !== null) say(`  progress  ${cell(JSON.stringify(job.progress))}`);
  for (const d of job.deliveries) {
    const outcome = d.error ? `error: ${multiline(d.error.message, '    ')}` : d.result !== null ? `result: ${cell(JSON.stringify(d.result))}` : '';
    say(`  delivery ${cell(d.id)} route ${cell(d.route)}: ${d.state}, attempt ${d.attempts}/${d.maxAttempts}${d.workerId ? `, worker ${cell(d.workerId)}` : ''} ${outcome}`);
  }
  if (logs.length) say(`  log\n${logs.map((l) => `    [${l.stream}] ${multiline(l.line, '      ')}`).join('\n')}`);
}

function stateFlag(value: string): JobState {
  if (!(JOB_STATES as readonly string[]).includes(value)) throw new UsageError(`--state must be one of ${JOB_STATES.join(', ')}, got "${value}"`);
  return value as JobState;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return n;
}
