import type { WorkerCommandName, WorkerInfo } from '@skq/core';
import { parseFlags, parseIdAndFlags, usage, UsageError, type FlagSpec } from '../argv.js';
import { QUEUE_FLAGS, queueFromFlags } from '../queue-flags.js';
import { cell, say, sayJson } from '../terminal-output.js';

const FLAGS: FlagSpec[] = [
  ...QUEUE_FLAGS,
  { name: 'rough', kind: 'boolean', description: 'stop: abort the running jobs (they go back to the queue), as SIGINT does' },
  { name: 'timeout-ms', kind: 'value', placeholder: 'ms', description: 'How long the worker has to obey (default 10000)' },
  { name: 'json', kind: 'boolean', description: 'list: print JSON' },
];

export const WORKERS_USAGE = usage(
  'workers <list|stop|pause|resume> [id]',
  'Lists the live workers of a queue with their state and running jobs, or commands one, wherever it runs:\n' +
    'stop finishes its running jobs and exits (--rough puts them back on the queue), pause and resume hold\n' +
    "and restart its claiming. A command waits until the worker obeys; an unknown id or a worker that\ndoes not obey in time is an error. An id that starts with \"-\" goes last, after --.",
  FLAGS,
);

const ACTIONS = ['list', 'stop', 'pause', 'resume'] as const;

/** `skunq workers list | stop | pause | resume`. */
export async function workers(argv: string[], cwd: string): Promise<number> {
  const [action, ...rest] = argv;
  if (!ACTIONS.includes(action as (typeof ACTIONS)[number])) throw new UsageError(`expected one of ${ACTIONS.join(', ')}, got ${action === undefined ? 'nothing' : `"${action}"`}`);
  const { id, flags } = action !== 'list' ? parseIdAndFlags(rest, FLAGS, `workers ${action}`) : { id: undefined, flags: parseFlags(rest, FLAGS) };
  if (action !== 'list' && !id) throw new UsageError(`workers ${action} needs the worker's id (see skunq workers list)`);
  if (flags.rough && action !== 'stop') throw new UsageError('--rough goes with stop');
  const timeoutMs = flags['timeout-ms'] === undefined ? undefined : Number(flags['timeout-ms']);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs >= 100)) throw new UsageError(`--timeout-ms must be a whole number of ms, at least 100, got "${String(flags['timeout-ms'])}"`);
  const queue = await queueFromFlags(flags, cwd);
  try {
    if (action === 'list') {
      const live = await queue.workers();
      if (flags.json) sayJson(live);
      else printWorkers(queue.name, live);
      return 0;
    }
    const command: WorkerCommandName = action === 'stop' ? (flags.rough ? 'stop-rough' : 'stop') : (action as 'pause' | 'resume');
    const { outcome, command: done } = await queue.commandWorker(id!, command, timeoutMs === undefined ? {} : { timeoutMs });
    const when = done.obeyedAt ? ` after ${done.obeyedAt - done.sentAt} ms` : '';
    say(outcome === 'obeyed' ? `worker ${cell(id)} obeyed "${command}"${when}` : `worker ${cell(id)} stopped and left the queue`);
    return 0;
  } finally {
    await queue.close();
  }
}

function printWorkers(queue: string, live: WorkerInfo[]): void {
  say(`workers of queue ${cell(queue)} (${live.length})`);
  for (const w of live) {
    const running = w.runningJobIds.length ? w.runningJobIds.map(cell).join(', ') : '-';
    say(`  ${cell(w.id).padEnd(48)} ${cell(w.state).padEnd(9)} routes ${w.routes.map(cell).join(',').padEnd(12)} pid ${cell(w.pid).padEnd(8)} running ${running}`);
  }
}
