import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../../apps/cli/src/main.ts', import.meta.url));

/** A `skunq` process running from source (`apps/cli/src/main.ts`), with its output collected. */
export interface CliProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves once stdout contains `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
}

export function startCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, ['--conditions=skq-source', '--import', 'tsx', MAIN, ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  child.stderr!.on('data', (chunk) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(text, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!out.includes(text)) {
        if (child.exitCode !== null) throw new Error(`skunq exited (${child.exitCode}) before printing "${text}":\n${out}\n${err}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for "${text}":\n${out}\n${err}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
  };
}

/** Runs `skunq` to completion. */
export async function runCliProcess(args: string[], env: Record<string, string> = {}) {
  const proc = startCli(args, env);
  const code = await proc.exited;
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

/** Kills what is still running of `procs` (emptying the list) and waits until each has exited. */
export async function stopAll(procs: CliProcess[]): Promise<void> {
  for (const proc of procs.splice(0)) {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await proc.exited;
  }
}
