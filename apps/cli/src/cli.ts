import { SkqError } from '@skq/core';
import { serializeError } from '@skq/core/backend';
import { UsageError } from './argv.js';
import { cell, complain } from './terminal-output.js';
import { GROUPS_USAGE, groups } from './commands/groups.js';
import { JOBS_USAGE, jobs } from './commands/jobs.js';
import { PAUSE_USAGE, RESUME_USAGE, pauseCommand } from './commands/pause.js';
import { SCHEDULE_USAGE, schedule } from './commands/schedule.js';
import { STATUS_USAGE, status } from './commands/status.js';
import { TRIGGERS_USAGE, triggers } from './commands/triggers.js';
import { WORK_USAGE, work } from './commands/work.js';
import { WEB_USAGE, web } from './commands/web.js';
import { WORKERS_USAGE, workers } from './commands/workers.js';

const COMMANDS: Record<string, { usage: string; run: (argv: string[], cwd: string) => Promise<number> }> = {
  work: { usage: WORK_USAGE, run: work },
  status: { usage: STATUS_USAGE, run: status },
  schedule: { usage: SCHEDULE_USAGE, run: schedule },
  triggers: { usage: TRIGGERS_USAGE, run: triggers },
  pause: { usage: PAUSE_USAGE, run: pauseCommand(true) },
  resume: { usage: RESUME_USAGE, run: pauseCommand(false) },
  workers: { usage: WORKERS_USAGE, run: workers },
  jobs: { usage: JOBS_USAGE, run: jobs },
  groups: { usage: GROUPS_USAGE, run: groups },
  web: { usage: WEB_USAGE, run: web },
};

export const MAIN_USAGE = `Usage: skunq <command> [options]

Commands:
  work     Run a worker pool on a queue's routes
  status   Show workers, paused routes and job counts of a queue
  jobs     List, show, retry, promote, remove or clean jobs
  workers  List workers, or stop, pause or resume one wherever it runs
  groups   List a queue's groups, or set and clear group and route limits
  pause    Pause a queue or one of its routes
  resume   Resume a paused queue or route
  schedule List, pause, resume or remove a queue's schedules
  triggers Run the MongoDB database-event triggers modules register
  web      Serve the monitor: live queues, jobs, workers and schedules, with actions

Run "skunq <command> --help" for a command's options.
`;

/**
 * Runs the CLI with `argv` (without node and the script) and resolves to the exit status:
 * 0 on success, 1 on a runtime error, 2 on a usage error.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(['status', '-q', 'demo']);
 * ```
 */
export async function runCli(argv: string[], cwd: string = process.cwd()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(MAIN_USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    complain(`skunq: unknown command "${cell(name)}"\n\n${MAIN_USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, cwd);
  } catch (err) {
    if (err instanceof UsageError) {
      complain(`skunq ${name}: ${err.message}\n\n${command.usage}`);
      return 2;
    }
    if (err instanceof SkqError) {
      // A configuration error is a usage error: show the usage too.
      const help = err.code === 'CONFIG_INVALID' ? `\n${command.usage}` : '';
      complain(`skunq ${name}: [${err.code}] ${err.message}\n${help}`);
      return err.code === 'CONFIG_INVALID' ? 2 : 1;
    }
    const { message, stack } = serializeError(err);
    complain(`skunq ${name}: ${stack ?? message}\n`);
    return 1;
  }
}
