import { JOB_STATES, WHOLE_QUEUE } from '@skq/core';
import { parseFlags, usage, type FlagSpec } from '../argv.js';
import { QUEUE_FLAGS, queueFromFlags } from '../queue-flags.js';

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
      console.log(JSON.stringify({ queue: name, paused, workers, counts }, null, 2));
      return 0;
    }
    const pausedLine = paused.includes(WHOLE_QUEUE) ? 'the whole queue is PAUSED' : paused.length ? `PAUSED routes: ${paused.join(', ')}` : 'not paused';
    console.log(`queue ${name}: ${pausedLine}\n\nworkers (${workers.length})`);
    for (const w of workers) {
      console.log(`  ${w.id.padEnd(48)} ${w.state.padEnd(9)} routes ${w.routes.join(',').padEnd(12)} pid ${String(w.pid).padEnd(8)} running ${w.runningJobIds.length} seen ${Math.max(0, Date.now() - w.lastSeenAt)} ms ago`);
    }
    console.log(`\njobs per route\n  ${'route'.padEnd(16)}${JOB_STATES.map((s) => s.padStart(11)).join('')}`);
    for (const [route, byState] of Object.entries(counts)) {
      console.log(`  ${route.padEnd(16)}${JOB_STATES.map((s) => String(byState[s]).padStart(11)).join('')}`);
    }
    return 0;
  } finally {
    await queue.close();
  }
}
