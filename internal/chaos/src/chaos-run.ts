// One chaos run: start the backend's server, the workers and the producer; let the fault plan abuse them;
// drain, stop, read the backend and check it against the ledger.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SkqError, type JobRecord } from '@skq/core';
import { matchingJobs, openBackend, scheduledJobId, type StorageBackend } from '@skq/core/backend';
import { startBackend, type BackendUnderTest } from './backend-under-test.js';
import type { ChaosOptions } from './chaos-options.js';
import { checkRun, formatReport, type CheckReport } from './checker.js';
import { runFaultPlan, type FaultCounts } from './fault-plan.js';
import { LedgerWriter, readLedger } from './ledger.js';
import { SeededChoice } from './seeded-choice.js';
import { WorkerFleet } from './worker-fleet.js';

export interface ChaosResult {
  backend: string;
  description: string;
  options: ChaosOptions;
  faults: FaultCounts;
  produced: { acked: number; refused: number };
  durationMs: number;
  report: CheckReport;
}

const QUEUES = ['chaos', 'chaos-fanout'] as const;

export async function runChaos(options: ChaosOptions, log: (line: string) => void = (l) => console.log(`[chaos] ${l}`)): Promise<ChaosResult> {
  const started = Date.now();
  const out = resolve(options.out ?? join('.chaos', `${options.backend}-${new Date(started).toISOString().replace(/[:.]/g, '-')}`));
  const ledgerDir = join(out, 'ledger');
  // A ledger is one run's: mixing two would report the other run's jobs as lost.
  if (existsSync(ledgerDir) && readdirSync(ledgerDir).length > 0) throw new SkqError('CONFIG_INVALID', `${ledgerDir} holds another run's ledger: give a new --out`, { context: { field: 'out' } });
  mkdirSync(ledgerDir, { recursive: true });
  const ledger = new LedgerWriter(ledgerDir, 'harness');
  const random = new SeededChoice(options.seed);
  const pauseMs = options.pauseMs ?? Math.round(options.leaseMs * 1.5);

  const backend = await startBackend(options.backend, options.seed);
  log(`${backend.description}: ${backend.url}`);
  // The producer's queues (the jobs module) read $SKQ_BACKEND when they first open.
  process.env.SKQ_BACKEND = backend.url;
  const { Producer } = await import('./producer.js');
  const { queue, tick, TICK_EVERY_MS, TICK_SCHEDULE, CHAOS_QUEUE, setGroupLimits, GROUP_CONCURRENCY, GROUP_RATE, RATED_GROUP } = await import('./chaos-jobs.js');
  const fleet = new WorkerFleet({ url: backend.url, ledgerDir, leaseMs: options.leaseMs, registrationTtlMs: options.registrationTtlMs, concurrency: options.concurrency }, ledger);
  let store: StorageBackend | null = null;
  let sampler: NodeJS.Timeout | null = null;
  try {
    // The sampler and the checker read through a connection of their own, apart from the producer's
    // (the queues'), so that a producer client that fails does not blind the check.
    store = await openBackend(backend.url);
    await queue.schedule(TICK_SCHEDULE, tick.with(), { every: { millis: TICK_EVERY_MS } });
    const groups = store.capabilities.groups === true;
    if (groups) await setGroupLimits();
    await Promise.all([
      ...Array.from({ length: options.workers }, () => fleet.start('chaos', 'main')),
      ...Array.from({ length: options.fanoutWorkers }, () => fleet.start('chaos-fanout', 'all')),
    ]);
    log(`${options.workers} workers on "chaos", ${options.fanoutWorkers} on the broadcast queue "chaos-fanout"`);
    sampler = sampleRegistrations(store, ledger);
    const producer = new Producer({ rate: options.rate, leaseMs: options.leaseMs, groups }, ledger, random, log);
    producer.start();
    const faults = await runFaultPlan(
      { kills: options.kills, killEveryMs: options.killEveryMs, pauseMs, restartEvery: options.restartEvery, serverPauseEvery: options.serverPauseEvery, workerPauseEvery: options.workerPauseEvery },
      { backend, fleet, ledger, random, log, replace: (gone) => startReplacing(fleet, gone.queue, log) },
    );
    await producer.stop();
    log(`faults done: ${JSON.stringify(faults)}; ${producer.counts.acked} jobs acknowledged, ${producer.counts.refused} refused`);
    // Through the observer's connection: the producer's may be what failed.
    await retrying(() => store!.setSchedulePaused(CHAOS_QUEUE, TICK_SCHEDULE, true));
    await drain(store, options.leaseMs, log);
    await fleet.stopAll();
    // Registrations of the last workers, and of any that died, must go within their TTL.
    await new Promise((resolve) => setTimeout(resolve, options.registrationTtlMs + 1_000));
    clearInterval(sampler);
    sampler = null;
    const checkedAt = Date.now();
    const jobs = (await Promise.all(QUEUES.map((q) => retrying(() => listAll(store!, q))))).flat();
    const schedule = (await retrying(() => store!.listSchedules(CHAOS_QUEUE))).find((s) => s.id === TICK_SCHEDULE) ?? null;
    const report = checkRun({
      ledger: readLedger(ledgerDir),
      jobs,
      schedule,
      tickEveryMs: TICK_EVERY_MS,
      tickJobPrefix: scheduledJobId(CHAOS_QUEUE, TICK_SCHEDULE, 0).replace(/0$/, ''),
      registrationTtlMs: options.registrationTtlMs,
      leaseMs: options.leaseMs,
      sharedWriteLock: options.backend === 'sqlite',
      checkedAt,
      ...(groups && { groups: { concurrency: GROUP_CONCURRENCY, rated: RATED_GROUP, rate: GROUP_RATE } }),
    });
    const result: ChaosResult = {
      backend: options.backend,
      description: backend.description,
      options,
      faults,
      produced: { acked: producer.counts.acked, refused: producer.counts.refused },
      durationMs: Date.now() - started,
      report,
    };
    writeFileSync(join(out, 'report.json'), JSON.stringify(result, null, 2));
    console.log(formatReport(`\nchaos on ${options.backend} (${backend.description}), seed ${options.seed}, ${Math.round(result.durationMs / 1000)} s: ${faults.kills} SIGKILL, ${faults.terms} SIGTERM, ${faults.ints} SIGINT, ${faults.restarts} restarts, ${faults.serverPauses} server pauses, ${faults.workerPauses} worker pauses`, report));
    console.log(`ledger and report: ${out}`);
    return result;
  } finally {
    if (sampler) clearInterval(sampler);
    await fleet.stopAll(5_000).catch(() => undefined);
    await queue.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await stopBackend(backend, log);
  }
}

/**
 * Starts a worker like one that went, as a supervisor would: again and again until it listens, since
 * the fault loop may kill it while it still waits for a server that is down or paused right now.
 */
async function startReplacing(fleet: WorkerFleet, queue: string, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await fleet.start(queue, queue === 'chaos' ? 'main' : 'all');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      log(`a replacement worker did not start; starting another (${String(err).split('\n').slice(0, 2).join(' ')})`);
    }
  }
}

async function stopBackend(backend: BackendUnderTest, log: (line: string) => void): Promise<void> {
  for (const pid of backend.serverPids()) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone
    }
  }
  await backend.stop().catch((err: unknown) => log(`stopping the server: ${String(err)}`));
}

function sampleRegistrations(store: StorageBackend, ledger: LedgerWriter): NodeJS.Timeout {
  let busy = false;
  return setInterval(() => {
    if (busy) return;
    busy = true;
    void Promise.all(
      QUEUES.map(async (queue) => {
        // Stamped when asked: the listing is true as of some instant after this one.
        const at = Date.now();
        const workers = await store.listWorkers(queue);
        ledger.write({ t: 'registrations', at, queue, workers: workers.map((w) => ({ id: w.id, pid: w.pid })) });
      }),
    )
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, 250);
}

/** Waits until no job on the chaos queues is waiting or running, or the deadline passes. */
async function drain(store: StorageBackend, leaseMs: number, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + 60_000 + 4 * leaseMs;
  let open = -1;
  while (Date.now() < deadline) {
    open = await Promise.all(QUEUES.map((q) => store.countByState(q)))
      .then((all) => all.flatMap((counts) => Object.values(counts)).reduce((sum, c) => sum + c.scheduled + c.queued + c.running, 0))
      .catch(() => -1);
    if (open === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  log(`drain deadline passed with ${open} jobs open`);
}

/** Every job of the queue, once each (a store that lists by state may list a job in two states' pages). */
async function listAll(store: StorageBackend, queue: string): Promise<JobRecord[]> {
  const jobs = new Map<string, JobRecord>();
  for await (const batch of matchingJobs(store, queue, {})) for (const job of batch) jobs.set(job.id, job);
  return [...jobs.values()];
}

/** Retries a call while the server comes back, for a minute. */
async function retrying<T>(call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
