import { parseFlags, usage, type FlagSpec } from '../argv.js';
import { QUEUE_FLAGS, queueFromFlags } from '../queue-flags.js';
import { cell, say } from '../terminal-output.js';

const FLAGS: FlagSpec[] = [...QUEUE_FLAGS, { name: 'route', short: 'r', kind: 'value', placeholder: 'route', description: 'Only this route (default: the whole queue)' }];

export const PAUSE_USAGE = usage('pause', 'Pauses a queue, or one route: no worker claims from it until "skunq resume". Running jobs finish; enqueueing goes on.', FLAGS);
export const RESUME_USAGE = usage('resume', 'Resumes a paused queue or route; idle workers wake at once.', FLAGS);

/** `skunq pause` and `skunq resume`. */
export function pauseCommand(paused: boolean) {
  return async (argv: string[], cwd: string): Promise<number> => {
    const flags = parseFlags(argv, FLAGS);
    const queue = await queueFromFlags(flags, cwd);
    const route = flags.route as string | undefined;
    try {
      await (paused ? queue.pause(route) : queue.resume(route));
      say(`${paused ? 'paused' : 'resumed'} ${route ? `route ${cell(route)} of queue ${cell(queue.name)}` : `queue ${cell(queue.name)}`}`);
      return 0;
    } finally {
      await queue.close();
    }
  };
}
