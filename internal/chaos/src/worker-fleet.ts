// The `skunq work` processes of a chaos run: started from source, replaced when the fault plan kills one.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LedgerWriter } from './ledger.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../../apps/cli/src/main.ts', import.meta.url));
const JOBS = fileURLToPath(new URL('./chaos-jobs.ts', import.meta.url));

export interface FleetOptions {
  url: string;
  ledgerDir: string;
  leaseMs: number;
  registrationTtlMs: number;
  concurrency: number;
}

export interface WorkerProcess {
  pid: number;
  queue: string;
  child: ChildProcess;
  exited: Promise<void>;
  /** True once it printed that it listens; until then the loop that started it owns its retries. */
  listening: boolean;
  /** The last of its output, for a failure message (all of it is in `worker-<pid>.log` beside the ledger). */
  output(): string;
}

export class WorkerFleet {
  readonly workers = new Set<WorkerProcess>();
  /** Set by {@link WorkerFleet.stopAll}: a replacement still being started then is killed, never left behind. */
  private closed = false;

  constructor(
    private readonly options: FleetOptions,
    private readonly ledger: LedgerWriter,
  ) {
    // A driver that dies before stopAll (a crash) takes its workers with it: left running, they kept
    // polling a dead run's server for half an hour beside the next run.
    process.once('exit', () => {
      for (const w of this.workers) w.child.kill('SIGKILL');
    });
  }

  /** Starts `skunq work` on `queue` and resolves once it listens. */
  async start(queue: string, route: string): Promise<WorkerProcess> {
    const { url, leaseMs, registrationTtlMs, concurrency, ledgerDir } = this.options;
    const args = ['work', '-q', queue, '-r', route, '-f', JOBS, '-b', url, '-c', String(concurrency), '--lease-ms', String(leaseMs), '--registration-ttl-ms', String(registrationTtlMs)];
    if (this.closed) throw new Error('the fleet is stopped');
    const child = spawn(process.execPath, ['--conditions=skq-source', '--import', 'tsx', CLI, ...args], {
      cwd: REPO,
      env: { ...process.env, SKQ_CHAOS_LEDGER: ledgerDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    // Each worker's output goes to <out>/worker-<pid>.log, for the post-mortem of a violation.
    const log = createWriteStream(join(ledgerDir, '..', `worker-${child.pid}.log`));
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.on('data', (chunk) => {
        out = (out + chunk).slice(-20_000);
        log.write(`${Date.now()} ${String(chunk).trimEnd().replace(/\n/g, `\n${Date.now()} `)}\n`);
      });
    }
    child.once('exit', () => log.end());
    const worker: WorkerProcess = {
      pid: child.pid!,
      queue,
      child,
      output: () => out,
      listening: false,
      exited: new Promise((resolve) =>
        child.once('exit', (code, signal) => {
          this.ledger.write({ t: 'exited', at: Date.now(), pid: child.pid!, code, signal });
          this.workers.delete(worker);
          resolve();
        }),
      ),
    };
    this.workers.add(worker);
    this.ledger.write({ t: 'spawned', at: Date.now(), pid: worker.pid, queue });
    const deadline = Date.now() + 60_000;
    while (!out.includes('skunq: listening')) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`skunq work exited before listening:\n${out}`);
      if (Date.now() > deadline) throw new Error(`skunq work did not listen within 60 s:\n${out}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    worker.listening = true;
    return worker;
  }

  /** The workers of `queue` that are running (not stopped by SIGSTOP, not exiting). */
  alive(queue?: string): WorkerProcess[] {
    return [...this.workers].filter((w) => (queue === undefined || w.queue === queue) && w.child.exitCode === null && w.child.signalCode === null);
  }

  /** SIGTERM to every worker, then SIGKILL to what is left after `graceMs`. */
  async stopAll(graceMs = 30_000): Promise<void> {
    this.closed = true;
    const all = [...this.workers];
    for (const w of all) {
      w.child.kill('SIGCONT');
      w.child.kill('SIGTERM');
    }
    const timer = setTimeout(() => {
      for (const w of all) w.child.kill('SIGKILL');
    }, graceMs);
    await Promise.all(all.map((w) => w.exited));
    clearTimeout(timer);
  }
}
