import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { timerMs } from '../delay.js';
import { parseConfig } from '../config.js';
import { SkqError } from '../errors.js';
import { MAX_PRIORITY, MIN_PRIORITY } from '../storage/contract.js';
import type { JobContext } from './context.js';
import { Invocation, type InvocationTarget } from './invocation.js';
import { RoutesSchema } from './names.js';
import type { RunnableJob } from './registry.js';
import { RetryOptionsSchema, toRunOptions } from './retry-policy.js';

/**
 * The reserved job name of shell tasks.
 *
 * @example
 * ```ts
 * const { jobs } = await queue.list({ name: SHELL_JOB, state: 'failed' });
 * ```
 */
export const SHELL_JOB = 'skq.shell';

/** Command arguments, paths and environment entries cannot hold NUL. */
const NoNul = z.string().regex(/^[^\0]*$/, 'must not contain a NUL character');

/**
 * Options of `queue.shell`.
 *
 * @example
 * ```ts
 * ShellOptionsSchema.parse({ routes: ['ops'], cwd: '/srv/app', timeout: 10_000 });
 * ShellOptionsSchema.safeParse({ routes: ['ops'], shell: '/bin/sh' }).success; // false: unknown key
 * ```
 */
export const ShellOptionsSchema = z
  .object({
    routes: RoutesSchema,
    /** Working directory on the worker. */
    cwd: NoNul.min(1).optional(),
    /** Variables added to the worker's environment. */
    env: z.record(NoNul.min(1), NoNul).optional(),
    /** Per-attempt timeout in ms: the process is killed, then the attempt fails with TIMEOUT. */
    timeout: timerMs().optional(),
    retry: RetryOptionsSchema.optional(),
    priority: z.number().int().min(MIN_PRIORITY).max(MAX_PRIORITY).optional(),
  })
  .strict();

/**
 * `{ routes, cwd?, env?, timeout?, retry?, priority? }` for `queue.shell`.
 *
 * @example
 * ```ts
 * const options: ShellOptions = { routes: ['ops'], cwd: '/srv/app', env: { NODE_ENV: 'production' }, timeout: 60_000 };
 * await queue.shell('npm run {script}', { script: 'migrate' }, options);
 * ```
 */
export type ShellOptions = z.input<typeof ShellOptionsSchema>;

/**
 * What a shell task's job returns.
 *
 * @example
 * ```ts
 * const handle = await queue.shell('uname -a', {}, { routes: ['ops'] });
 * const { exitCode, stdout }: ShellResult = await handle.result(); // a non-zero exit fails the job instead
 * ```
 */
export interface ShellResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Turns a command template into an argument vector. The template is split into words first
 * (whitespace separates words; '…' and "…" group them); placeholders are then filled inside each
 * word. A value is never seen by a shell, so `'; rm -rf /'` or `$(…)` stay literal text in one argument.
 *
 * @example
 * ```ts
 * commandArgv('id {name}', { name: 'root' });            // ['id', 'root']
 * commandArgv('echo {msg}', { msg: '$(reboot); ls' });   // ['echo', '$(reboot); ls']
 * ```
 */
export function commandArgv(template: string, values: Record<string, string | number | boolean>): string[] {
  if (typeof template !== 'string') throw new SkqError('ARGS_INVALID', `the shell command template must be a string, got ${typeof template}`, { context: { field: 'template' } });
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new SkqError('ARGS_INVALID', 'shell values must be an object of { name: string | number | boolean }', { context: { field: 'values' } });
  }
  const words: string[] = [];
  const pattern = /'([^']*)'|"([^"]*)"|(\S+)/g;
  let current: string | null = null;
  let lastEnd = 0;
  for (const match of template.matchAll(pattern)) {
    const part = match[1] ?? match[2] ?? match[3] ?? '';
    // Adjacent pieces without whitespace between them form one word (e.g. --name="{x}").
    if (current !== null && match.index === lastEnd) current += part;
    else {
      if (current !== null) words.push(current);
      current = part;
    }
    lastEnd = match.index + match[0].length;
  }
  if (current !== null) words.push(current);
  if (words.length === 0) throw new SkqError('ARGS_INVALID', 'the shell command template is empty', { context: { field: 'template' } });
  if (template.includes('\0')) throw new SkqError('ARGS_INVALID', 'the shell command template contains a NUL character, which no command argument can hold', { context: { field: 'template' } });
  return words.map((word) =>
    word.replace(PLACEHOLDER, (_, key: string) => {
      if (!Object.hasOwn(values, key)) throw new SkqError('ARGS_INVALID', `the shell template names {${key}} but no value was given`, { context: { field: key } });
      const value = values[key];
      if (!['string', 'number', 'boolean'].includes(typeof value)) {
        throw new SkqError('ARGS_INVALID', `shell value {${key}} must be a string, number or boolean`, { context: { field: key } });
      }
      const text = String(value);
      if (text.includes('\0')) throw new SkqError('ARGS_INVALID', `shell value {${key}} contains a NUL character, which no command argument can hold`, { context: { field: key } });
      return text;
    }),
  );
}

/**
 * Builds the invocation `queue.shell` enqueues: the argument vector is fixed at fire time.
 *
 * @example
 * ```ts
 * const backup = shellInvocation('pg_dump -f {file} app', { file: '/backups/app.sql' }, { routes: ['ops'] }, queue);
 * await queue.schedule('backup', backup, { cron: '0 2 * * *' });
 * ```
 */
export function shellInvocation(template: string, values: Record<string, string | number | boolean>, options: ShellOptions, target: InvocationTarget): Invocation {
  const parsed = parseConfig(ShellOptionsSchema, options, 'shell task options');
  const argv = commandArgv(template, values ?? {});
  return new Invocation(SHELL_JOB, [argv, { cwd: parsed.cwd ?? null, env: parsed.env ?? null }], {
    routes: parsed.routes,
    priority: parsed.priority ?? 0,
    runOptions: toRunOptions(parsed.retry, parsed.timeout),
  }, target);
}

const ShellArgsSchema = z.tuple([
  z.array(z.string()).min(1),
  z.object({ cwd: z.string().nullable(), env: z.record(z.string(), z.string()).nullable() }),
]);

/**
 * Runs shell tasks on a worker, with `execFile` and no shell. Refused (FORBIDDEN) unless the worker
 * allows them: any producer that can enqueue could otherwise run commands on it.
 *
 * @example
 * ```ts
 * registry.add('*', shellRunnable(true)); // this worker runs shell tasks; false refuses them with FORBIDDEN
 * ```
 */
export function shellRunnable(enabled: boolean): RunnableJob {
  return {
    name: SHELL_JOB,
    kind: 'function',
    argsSchema: ShellArgsSchema,
    async run(args, context) {
      if (!enabled) throw new SkqError('FORBIDDEN', 'shell tasks are disabled on this worker (WorkerPool allowShell / skunq work --allow-shell)', { context: { jobId: context.jobId } });
      const [argv, { cwd, env }] = args as z.output<typeof ShellArgsSchema>;
      if (cwd !== null) await requireDirectory(cwd, context);
      return runCommand(argv, cwd, env, context);
    },
  };
}

/** A missing working directory makes `spawn` report the command as missing (ENOENT): name the directory instead. */
async function requireDirectory(cwd: string, context: JobContext): Promise<void> {
  const info = await stat(cwd).catch(() => null);
  if (!info?.isDirectory()) {
    throw new SkqError('COMMAND_FAILED', `the shell task's working directory ${cwd} ${info ? 'is not a directory' : 'does not exist'} on this worker`, {
      context: { jobId: context.jobId, field: 'cwd' },
    });
  }
}

function runCommand(argv: string[], cwd: string | null, env: Record<string, string> | null, context: JobContext): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    execFile(
      argv[0]!,
      argv.slice(1),
      { cwd: cwd ?? undefined, env: env ? { ...process.env, ...env } : process.env, signal: context.signal, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        for (const line of stdout.split('\n').filter(Boolean)) context.log(`stdout: ${line}`);
        for (const line of stderr.split('\n').filter(Boolean)) context.log(`stderr: ${line}`);
        if (!error) return resolve({ exitCode: 0, stdout, stderr });
        if (context.signal.aborted) return reject(context.signal.reason);
        const exitCode = typeof error.code === 'number' ? error.code : null;
        const why = exitCode === null ? `could not run ${argv[0]}: ${error.message}` : `${argv[0]} exited with code ${exitCode}${stderr ? `: ${stderr.trim().slice(-500)}` : ''}`;
        reject(new SkqError('COMMAND_FAILED', why, { cause: error, context: { jobId: context.jobId, exitCode, stdout: stdout.slice(-4_000), stderr: stderr.slice(-4_000) } }));
      },
    );
  });
}
