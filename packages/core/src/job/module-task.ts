import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { timerMs } from '../delay.js';
import { parseConfig } from '../config.js';
import { SkqError, describeValue } from '../errors.js';
import { MAX_PRIORITY, MIN_PRIORITY } from '../storage/contract.js';
import { Invocation, type InvocationTarget } from './invocation.js';
import { jsonArgs } from './job-args.js';
import { RoutesSchema } from './names.js';
import type { RunnableJob } from './registry.js';
import { RetryOptionsSchema, toRunOptions } from './retry-policy.js';

/**
 * The reserved job name of module tasks.
 *
 * @example
 * ```ts
 * const { jobs } = await queue.list({ name: CALL_JOB, state: 'failed' });
 * for (const job of jobs) console.log(job.args[0]); // './workers/tasks.js:resize'
 * ```
 */
export const CALL_JOB = 'skq.call';

/**
 * Options of `queue.call`.
 *
 * @example
 * ```ts
 * CallOptionsSchema.parse({ routes: ['images'], timeout: 60_000 });
 * CallOptionsSchema.safeParse({ routes: ['images'], cwd: '/tmp' }).success; // false: cwd is a shell task option
 * ```
 */
export const CallOptionsSchema = z
  .object({
    routes: RoutesSchema,
    timeout: timerMs().optional(),
    retry: RetryOptionsSchema.optional(),
    priority: z.number().int().min(MIN_PRIORITY).max(MAX_PRIORITY).optional(),
  })
  .strict();

/**
 * `{ routes, timeout?, retry?, priority? }` for `queue.call`.
 *
 * @example
 * ```ts
 * const options: CallOptions = { routes: ['images'], timeout: 60_000, retry: 3 };
 * await queue.call('./workers/tasks.js:resize', [{ width: 200 }], options);
 * ```
 */
export type CallOptions = z.input<typeof CallOptionsSchema>;

const TARGET = /^(.+):([A-Za-z_$][A-Za-z0-9_$]*)$/;

/**
 * Builds the invocation `queue.call('./workers/tasks.js:myTask', args)` enqueues.
 *
 * @example
 * ```ts
 * moduleInvocation('./workers/tasks.js:resize', [{ width: 200 }], { routes: ['images'] }, queue);
 * ```
 */
export function moduleInvocation(target: string, args: unknown[], options: CallOptions, queue: InvocationTarget): Invocation {
  const parsed = parseConfig(CallOptionsSchema, options, 'module task options');
  if (typeof target !== 'string' || !TARGET.test(target)) {
    throw new SkqError('ARGS_INVALID', `a module task is "path/to/module.js:exportName", got ${describeValue(target)}`, { context: { field: 'target' } });
  }
  if (!Array.isArray(args)) throw new SkqError('ARGS_INVALID', 'module task arguments must be an array', { context: { field: 'args' } });
  const wire = jsonArgs(args, 'module task arguments');
  return new Invocation(CALL_JOB, [target, wire], { routes: parsed.routes, priority: parsed.priority ?? 0, runOptions: toRunOptions(parsed.retry, parsed.timeout) }, queue);
}

/**
 * How a worker loads a module; the CLI passes one that also loads TypeScript.
 *
 * @example
 * ```ts
 * const importer: ModuleImporter = (path) => import(pathToFileURL(path).href);
 * const modules: ModuleTaskPolicy = { allow: ['./workers'], importer };
 * ```
 */
export type ModuleImporter = (path: string) => Promise<Record<string, unknown>>;

/**
 * What a worker allows module tasks to load.
 *
 * @example
 * ```ts
 * const modules: ModuleTaskPolicy = { allow: ['./workers'], baseDir: '/srv/app' };
 * const pool = new WorkerPool({ queue: 'demo', routes: ['images'], modules });
 * ```
 */
export interface ModuleTaskPolicy {
  /** Directories modules may come from; none means module tasks are refused. */
  allow: string[];
  /** What relative module paths are resolved against. Default: the working directory. */
  baseDir?: string;
  importer?: ModuleImporter;
}

const CallArgsSchema = z.tuple([z.string().regex(TARGET), z.array(z.unknown())]);

/**
 * Runs module tasks on a worker: imports the module, only from an allowed directory (checked
 * after resolving symbolic links), and calls the named export with the arguments.
 *
 * @example
 * ```ts
 * const registry = new JobRegistry(defaultJobRegistry);
 * registry.add('*', moduleRunnable({ allow: ['./workers'] }));
 * ```
 */
export function moduleRunnable(policy: ModuleTaskPolicy): RunnableJob {
  const baseDir = policy.baseDir ?? process.cwd();
  const allowed = policy.allow.map((dir) => realpathOrSelf(resolve(baseDir, dir)));
  const importer: ModuleImporter = policy.importer ?? ((path) => import(pathToFileURL(path).href) as Promise<Record<string, unknown>>);
  return {
    name: CALL_JOB,
    kind: 'function',
    argsSchema: CallArgsSchema,
    async run(args, context) {
      const [target, callArgs] = args as z.output<typeof CallArgsSchema>;
      const [, modulePath, exportName] = TARGET.exec(target)!;
      if (allowed.length === 0) {
        throw new SkqError('FORBIDDEN', 'module tasks are disabled on this worker (WorkerPool modules.allow / skunq work --allow-modules DIR)', { context: { jobId: context.jobId } });
      }
      const file = realpathOrSelf(resolve(baseDir, modulePath!));
      if (!allowed.some((dir) => isInside(file, dir))) {
        throw new SkqError('FORBIDDEN', `module ${modulePath} (${file}) is outside the directories this worker allows: ${allowed.join(', ')}`, { context: { jobId: context.jobId } });
      }
      const mod = await importer(file).catch((cause: unknown) => {
        // No module there (or a directory): the job names nothing this worker can run.
        const code = (cause as { code?: unknown }).code;
        if (typeof code === 'string' && NOT_A_MODULE.has(code)) throw new SkqError('UNKNOWN_JOB', `module ${modulePath} cannot be loaded: ${code}`, { cause, context: { jobId: context.jobId, jobName: target } });
        throw cause;
      });
      const fn = mod[exportName!];
      if (typeof fn !== 'function') throw new SkqError('UNKNOWN_JOB', `module ${modulePath} has no function export "${exportName}"`, { context: { jobId: context.jobId, jobName: target } });
      return (fn as (...a: unknown[]) => unknown).apply(context, callArgs);
    },
  };
}

/** Import failures that mean "no module at this path", as opposed to a module that fails as it loads. */
const NOT_A_MODULE = new Set(['ERR_MODULE_NOT_FOUND', 'ERR_UNSUPPORTED_DIR_IMPORT', 'ERR_UNKNOWN_FILE_EXTENSION', 'ENOENT', 'EISDIR']);

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function isInside(file: string, dir: string): boolean {
  const rel = relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}
