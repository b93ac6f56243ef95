import { SkqError, type LogLine, type WorkerInfo } from '@skq/core';
import { checkJobSizes, fitLogLine, type EnqueueResult, type NewJob } from '@skq/core/backend';
import { enqueueJob } from './queue/enqueue-transactions.js';
import { removeJobs } from './queue/job-control-transactions.js';
import { appendLogs, liveWorkers } from './queue/queue-state-transactions.js';
import { MAX_VALUE_BYTES } from './queue/records.js';
import type { TransactionRunner } from './transaction-runner.js';

/** Jobs per enqueue transaction: FDB limits a transaction to 10 MB and 5 seconds. */
const ENQUEUE_BATCH = 200;
/** Bytes of JSON per enqueue or log transaction, well under FDB's 10 MB: a batch is cut at whichever bound comes first. */
const BATCH_BYTES = 2_000_000;
/** Log lines per transaction: each takes a versionstamp's 16-bit user version. */
const LOG_BATCH = 5_000;

/**
 * Enqueue in transactions of at most {@link ENQUEUE_BATCH} jobs and about {@link BATCH_BYTES}, all
 * or nothing: sizes are checked before the first write, and a later transaction's failure takes
 * out what the earlier ones created before it is thrown (see `FdbBackend.enqueue`).
 */
export async function enqueueInBatches(runner: TransactionRunner, input: NewJob[], maxValueBytes: number | undefined): Promise<EnqueueResult[]> {
  checkJobSizes(input, maxValueBytes);
  const results: EnqueueResult[] = [];
  const created: NewJob[] = [];
  for (const batch of batches(input, ENQUEUE_BATCH, (job) => JSON.stringify(job).length)) {
    const byQueue = [...new Set(batch.map((j) => j.queue))];
    try {
      const stored = await runner.transact('enqueue', byQueue[0]!, async (tr) => {
        const out: { result: EnqueueResult; created: boolean }[] = [];
        for (const queue of byQueue) runner.addToDirectory(tr, queue);
        const workers = new Map<string, Promise<WorkerInfo[]>>();
        const existed = await Promise.all(batch.map(async (job) => (await runner.qt(tr, job.queue).job(job.id, true)) !== null));
        for (const [i, job] of batch.entries()) {
          const qt = runner.qt(tr, job.queue);
          const live = () => workers.get(job.queue) ?? (workers.set(job.queue, liveWorkers(qt)), workers.get(job.queue)!);
          const result = await enqueueJob(qt, job, live);
          out.push({ result, created: !existed[i] && !result.deduped });
          qt.flushEvents();
        }
        return out;
      });
      results.push(...stored.map((s) => s.result));
      created.push(...batch.filter((_, i) => stored[i]!.created));
    } catch (err) {
      if (created.length) await undoEnqueue(runner, created, err);
      throw err;
    }
  }
  runner.listedAfterCommit(input.map((j) => j.queue));
  return results;
}

/** Takes out the jobs an enqueue created before one of its transactions failed; what could not be taken out is named on `failure`. */
async function undoEnqueue(runner: TransactionRunner, created: NewJob[], failure: unknown): Promise<void> {
  const left: string[] = [];
  const byQueue = new Map<string, string[]>();
  for (const job of created) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job.id]);
  for (const [queue, ids] of byQueue) {
    for (let i = 0; i < ids.length; i += ENQUEUE_BATCH) {
      const chunk = ids.slice(i, i + ENQUEUE_BATCH);
      try {
        const removed = new Set(await runner.marked('enqueue (undo)', queue, (qt) => removeJobs(qt, chunk)));
        left.push(...chunk.filter((id) => !removed.has(id)));
      } catch {
        left.push(...chunk);
      }
    }
  }
  // A job a worker claimed meanwhile stays, and so does a batch the store refused to take out: the caller is told which.
  if (left.length && failure instanceof SkqError) Object.assign(failure.context, { storedJobIds: left });
}

/**
 * Log lines cut to fit a value, in order, in transactions of at most {@link LOG_BATCH} lines and
 * about {@link BATCH_BYTES}; a failure after earlier ones committed says how many lines are stored
 * in `context.linesStored` (see `FdbBackend.appendLogs`).
 */
export async function appendLogsInBatches(runner: TransactionRunner, queue: string, lines: LogLine[]): Promise<void> {
  const fitted = lines.map((line) => fitLogLine(line, MAX_VALUE_BYTES));
  let stored = 0;
  for (const batch of batches(fitted, LOG_BATCH, (line) => Buffer.byteLength(line.line))) {
    try {
      await runner.marked('appendLogs', queue, async (qt) => appendLogs(qt, batch));
    } catch (err) {
      if (stored > 0 && err instanceof SkqError) Object.assign(err.context, { linesStored: stored });
      throw err;
    }
    stored += batch.length;
  }
}

/** `items` in order, in batches of at most `count` items and about {@link BATCH_BYTES} (an item larger than that goes alone). */
function batches<T>(items: T[], count: number, size: (item: T) => number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = size(item);
    if (current.length && (current.length >= count || bytes + n > BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += n;
  }
  if (current.length) out.push(current);
  return out;
}
