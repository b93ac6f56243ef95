import { resolve } from 'node:path';
import { redactUrl } from '@skq/core/backend';
import { parseFlags, usage, UsageError, type FlagSpec } from '../argv.js';
import { loadConfig } from '../config-file.js';
import { importModule } from '../module-loader.js';
import { say } from '../terminal-output.js';
import { registeredTriggerCount, startTriggers } from '../trigger-support.js';

const FLAGS: FlagSpec[] = [
  { name: 'file', short: 'f', kind: 'list', placeholder: 'module', description: 'Modules that register triggers with onEvent() (.ts, .mjs, .js)' },
  { name: 'backend', short: 'b', kind: 'value', placeholder: 'url', description: 'The MongoDB to watch, a replica set (default: $SKQ_BACKEND or the config)' },
  { name: 'name', kind: 'value', placeholder: 'name', description: 'Names the stored position; a runner with the same name resumes it (default "default")' },
];

export const TRIGGERS_USAGE = usage(
  'triggers',
  'Runs the database-event triggers the modules register: each matching insert, update or delete in MongoDB runs its handler or fires its job. Resumes where the last runner of the same name stopped. Runs until SIGTERM or SIGINT.',
  FLAGS,
);

/** `skunq triggers`: loads trigger modules and follows MongoDB's change streams until a signal. */
export async function triggers(argv: string[], cwd: string): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  const config = await loadConfig(cwd);
  const files = [...config.jobs, ...((flags.file as string[] | undefined) ?? []).map((f) => resolve(cwd, f))];
  if (files.length === 0) throw new UsageError('-f/--file needs at least one module');
  const url = (flags.backend as string | undefined) ?? config.backend ?? process.env.SKQ_BACKEND;
  if (!url) throw new UsageError('-b/--backend is required: the mongodb:// URL to watch');
  for (const file of files) await importModule(file);
  const count = await registeredTriggerCount();
  if (count === 0) throw new UsageError(`the modules register no triggers (use onEvent() from @skq/mongodb)`);
  const runner = await startTriggers(url, flags.name as string | undefined);
  say(`skunq: ${count} trigger${count === 1 ? '' : 's'} watching ${redactUrl(url)} (pid ${process.pid})`);
  let signal: string | null = null;
  const stopped = new Promise<void>((done) => {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(s, () => {
        signal ??= s;
        done();
      });
    }
  });
  let failure: unknown = null;
  await Promise.race([stopped, runner.done.catch((err) => (failure = err))]);
  await runner.stop().catch(() => {});
  const { changes, fired, failed } = runner.stats();
  say(`skunq: triggers stopped${signal ? ` on ${signal}` : ''} (${changes} changes, ${fired} fired, ${failed} failed)`);
  if (failure) throw failure;
  return signal === 'SIGINT' ? 130 : 0;
}
