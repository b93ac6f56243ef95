// The killer: every `killEveryMs` it stops a worker process (SIGKILL mostly, SIGTERM or SIGINT now and
// then) and starts a replacement; at set points it restarts the server, pauses it with SIGSTOP for
// longer than the lease, and pauses a worker likewise.
import { spawn } from 'node:child_process';
import type { BackendUnderTest } from './backend-under-test.js';
import { restarts } from './backend-under-test.js';
import type { LedgerWriter } from './ledger.js';
import type { SeededChoice } from './seeded-choice.js';
import type { WorkerFleet, WorkerProcess } from './worker-fleet.js';

export interface FaultPlanOptions {
  kills: number;
  killEveryMs: number;
  /** How long a pause (server or worker) lasts: longer than the lease. */
  pauseMs: number;
  /** A server restart after every this many kills (0: never). */
  restartEvery: number;
  /** A server pause after every this many kills (0: never). */
  serverPauseEvery: number;
  /** A worker pause after every this many kills (0: never). */
  workerPauseEvery: number;
}

export interface FaultCounts {
  kills: number;
  terms: number;
  ints: number;
  restarts: number;
  serverPauses: number;
  workerPauses: number;
}

/** Runs the plan to its last kill; `replace` starts a worker like the one that went. */
export async function runFaultPlan(
  plan: FaultPlanOptions,
  deps: { backend: BackendUnderTest; fleet: WorkerFleet; ledger: LedgerWriter; random: SeededChoice; replace: (gone: WorkerProcess) => Promise<unknown>; log: (line: string) => void },
): Promise<FaultCounts> {
  const { backend, fleet, ledger, random, replace, log } = deps;
  const counts: FaultCounts = { kills: 0, terms: 0, ints: 0, restarts: 0, serverPauses: 0, workerPauses: 0 };
  const pauses: Promise<void>[] = [];
  const replacements: Promise<unknown>[] = [];
  for (let n = 1; n <= plan.kills; n += 1) {
    await new Promise((resolve) => setTimeout(resolve, plan.killEveryMs));
    const victim = random.pick(fleet.alive());
    if (victim) {
      const roll = random.next();
      const signal = roll < 0.1 ? 'SIGTERM' : roll < 0.2 ? 'SIGINT' : 'SIGKILL';
      ledger.write({ t: 'fault', at: Date.now(), action: signal, pid: victim.pid, role: 'worker' });
      victim.child.kill(signal);
      if (signal === 'SIGKILL') counts.kills += 1;
      else if (signal === 'SIGTERM') counts.terms += 1;
      else counts.ints += 1;
      // A gentle stop may take as long as its longest job: the replacement starts at once. A victim that
      // had not listened yet is some replacement's current try, and that loop starts the next one: a
      // second replacement here would grow the fleet by one worker each time.
      if (victim.listening) replacements.push(replace(victim).catch((err: unknown) => log(`replacement failed: ${String(err)}`)));
    }
    if (plan.restartEvery && n % plan.restartEvery === 0 && restarts(backend)) {
      const started = Date.now();
      const { pid, role, at } = await backend.restart();
      ledger.write({ t: 'fault', at, action: role === 'writer' ? 'killed-in-transaction' : 'restart', pid, role, until: Date.now() });
      counts.restarts += 1;
      log(`${role === 'writer' ? 'killed a writer mid-transaction' : 'restarted the server'} (${Date.now() - started} ms)`);
    }
    if (plan.serverPauseEvery && n % plan.serverPauseEvery === Math.floor(plan.serverPauseEvery / 2) && backend.serverPids().length) {
      const pid = random.pick(backend.serverPids())!;
      pauses.push(pause(pid, 'server', plan.pauseMs, ledger));
      counts.serverPauses += 1;
      log(`paused the server (pid ${pid}) for ${plan.pauseMs} ms`);
    }
    if (plan.workerPauseEvery && n % plan.workerPauseEvery === Math.floor(plan.workerPauseEvery / 2)) {
      const worker = random.pick(fleet.alive());
      if (worker) {
        pauses.push(pause(worker.pid, 'worker', plan.pauseMs, ledger));
        counts.workerPauses += 1;
      }
    }
  }
  await Promise.all([...pauses, ...replacements]);
  return counts;
}

/**
 * SIGSTOP now, SIGCONT from a separate process after `ms`: this process may itself be blocked meanwhile
 * (SQLite's calls are synchronous and wait for a write lock that the paused process may hold).
 */
async function pause(pid: number, role: 'server' | 'worker', ms: number, ledger: LedgerWriter): Promise<void> {
  const at = Date.now();
  try {
    process.kill(pid, 'SIGSTOP');
  } catch {
    return; // already gone
  }
  ledger.write({ t: 'fault', at, action: 'SIGSTOP', pid, role, until: at + ms });
  const resumer = spawn('sh', ['-c', `sleep ${ms / 1000}; kill -CONT ${pid} 2>/dev/null; true`], { stdio: 'ignore' });
  await new Promise((resolve) => resumer.once('exit', resolve));
  ledger.write({ t: 'fault', at: Date.now(), action: 'SIGCONT', pid, role });
}
