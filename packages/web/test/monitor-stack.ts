import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, startCli, startMongoServer, startPostgres, startRedis, stopAll, type CliProcess } from '@skq/testing';

export const TOKEN = 'browser-test-token-0123456789';
const JOBS = 'packages/web/test/fixtures/monitor-jobs.ts';
const PRODUCER = join(REPO, 'packages/web/test/fixtures/produce.ts');

export type StackBackend = 'sqlite' | 'redis' | 'mongodb' | 'postgres';

/** A store on a real server (or file), with `skunq web` and `skunq work` running on it as processes. */
export interface MonitorStack {
  backendUrl: string;
  /** The monitor's root URL, ending with a slash. */
  url: string;
  web: CliProcess;
  worker: CliProcess;
  dir: string;
  /** Starts another `skunq work` on route main. */
  startWorker(): Promise<CliProcess>;
  /** Fires a job from a producer process; resolves to its id. */
  produce(name: 'echo' | 'gated' | 'needs-marker', args: unknown[], delayMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** Starts the store, the monitor and one worker. */
export async function startMonitorStack(kind: StackBackend): Promise<MonitorStack> {
  const dir = mkdtempSync(join(tmpdir(), `skq-web-${kind}-`));
  const server =
    kind === 'redis' ? await startRedis() : kind === 'mongodb' ? await startMongoServer('mongo-java-server') : kind === 'postgres' ? await startPostgres({ durable: false }) : null;
  const backendUrl = kind === 'sqlite' ? `sqlite:${join(dir, 'monitor.db')}` : server!.url;
  const env = { SKQ_BACKEND: backendUrl };
  const procs: CliProcess[] = [];
  const startWorker = async () => {
    const worker = startCli(['work', '-q', 'webq', '-r', 'main', '-f', JOBS, '--lease-ms', '5000'], env);
    procs.push(worker);
    await worker.waitFor('listening', 60_000);
    return worker;
  };
  try {
    const worker = await startWorker();
    // The queue exists once the worker has registered, so the monitor can be told to show it.
    const web = startCli(['web', '-q', 'webq', '--port', '0', '--token', TOKEN], env);
    procs.push(web);
    await web.waitFor('sign in', 60_000);
    const url = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(web.stdout())![1]!;
    return {
      backendUrl,
      url,
      web,
      worker,
      dir,
      startWorker,
      produce: (name, args, delayMs) => produce(env, name, args, delayMs),
      async stop() {
        await stopAll(procs);
        await server?.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll(procs);
    await server?.stop();
    throw err;
  }
}

function produce(env: Record<string, string>, name: string, args: unknown[], delayMs?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=skq-source', '--import', 'tsx', PRODUCER, name, JSON.stringify(args), ...(delayMs ? [String(delayMs)] : [])], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`the producer exited ${code}:\n${out}\n${err}`));
      resolve((JSON.parse(out.trim().split('\n').pop()!) as { id: string }).id);
    });
  });
}
