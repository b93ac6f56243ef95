import { JOB_STATES, WHOLE_QUEUE } from '@skq/core/backend';
import { parseFlags, usage, type FlagSpec } from '../argv.js';
import { QUEUE_FLAGS, queueFromFlags } from '../queue-flags.js';
import { cell, say, sayJson } from '../terminal-output.js';

const FLAGS: FlagSpec[] = [
  ...QUEUE_FLAGS,
  { name: 'json', kind: 'boolean', description: 'Print JSON instead of tables' },
];

export const STATUS_USAGE = usage('status', 'Shows what of a queue is paused, its live workers with their state, and its job counts per route and state.', FLAGS);

/** `skunq status`: workers and job counts per route and state. */
export async function status(argv: string[], cwd: string): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  const queue = await queueFromFlags(flags, cwd);
  const name = queue.name;
  try {
    const [workers, counts, paused] = await Promise.all([queue.workers(), queue.counts(), queue.pausedRoutes()]);
    if (flags.json) {
      sayJson({ queue: name, paused, workers, counts });
      return 0;
    }
    const pausedLine = paused.includes(WHOLE_QUEUE) ? 'the whole queue is PAUSED' : paused.length ? `PAUSED routes: ${paused.map(cell).join(', ')}` : 'not paused';
    say(`queue ${cell(name)}: ${pausedLine}\n\nworkers (${workers.length})`);
    for (const w of workers) {
      say(`  ${cell(w.id).padEnd(48)} ${cell(w.state).padEnd(9)} routes ${w.routes.map(cell).join(',').padEnd(12)} pid ${cell(w.pid).padEnd(8)} running ${w.runningJobIds.length} seen ${Math.max(0, Date.now() - w.lastSeenAt)} ms ago`);
    }
    say(`\njobs per route\n  ${'route'.padEnd(16)}${JOB_STATES.map((s) => s.padStart(11)).join('')}`);
    for (const [route, byState] of Object.entries(counts)) {
      say(`  ${cell(route).padEnd(16)}${JOB_STATES.map((s) => String(byState[s]).padStart(11)).join('')}`);
    }
    return 0;
  } finally {
    await queue.close();
  }
}
