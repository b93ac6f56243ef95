// The Redis backend's writes to jobs: enqueue, then cancel, reschedule, retry and remove by id, each
// one script call; and log lines, appended to their job's list.
import { type LogLine } from '@skq/core';
import { argsJson, jobIdOfDelivery, type EnqueueResult, type NewJob, type RetentionRule } from '@skq/core/backend';
import type { CommandRunner } from './command-runner.js';
import { encodeRunOptions } from './records.js';
import { Script } from './script-runner.js';

const SCRIPTS = {
  enqueue: new Script('enqueue'),
  cancel: new Script('cancel'),
  reschedule: new Script('reschedule'),
  removeJobs: new Script('remove_jobs'),
  retryJob: new Script('retry_job'),
};

/**
 * Jobs per enqueue call. A larger batch goes as several calls sent one after another without waiting,
 * so Redis stores one part while the next is encoded; each call is atomic, a batch as a whole is not
 * (an enqueue that failed part-way is safe to send again: a stored id is answered as it is).
 */
const CALL_JOBS = 100;

/** Enqueue calls per queue; the results come back in the order of `jobs`. */
export async function enqueue(runner: CommandRunner, jobs: NewJob[]): Promise<EnqueueResult[]> {
  // One job (a fire): one call, without the sorting a batch needs.
  if (jobs.length === 1 && runner.isListed(jobs[0]!.queue)) {
    const job = jobs[0]!;
    const out = (await runner.run('enqueue', job.queue, SCRIPTS.enqueue, runner.keys(job.queue).seq, enqueueBatchArgs(jobs))) as (string | number)[];
    return [enqueued(job, out[0]!)];
  }
  const byQueue = new Map<string, NewJob[]>();
  for (const job of jobs) {
    const batch = byQueue.get(job.queue);
    if (batch) batch.push(job);
    else byQueue.set(job.queue, [job]);
  }
  const results = new Map<string, EnqueueResult>();
  const calls: Promise<void>[] = [];
  for (const [queue, batch] of byQueue) {
    if (!runner.isListed(queue)) await runner.addToDirectory(queue);
    for (let start = 0; start < batch.length; start += CALL_JOBS) {
      const part = batch.slice(start, start + CALL_JOBS);
      const sent = runner.run('enqueue', queue, SCRIPTS.enqueue, runner.keys(queue).seq, enqueueBatchArgs(part)) as Promise<(string | number)[]>;
      calls.push(sent.then((out) => part.forEach((job, i) => results.set(job.id, enqueued(job, out[i]!)))));
    }
  }
  await Promise.all(calls);
  return jobs.map((job) => results.get(job.id)!);
}

/** A job's entry in the enqueue function's answer: its deliveries, or '=' and the job its dedupe key names. */
function enqueued(job: NewJob, entry: string | number): EnqueueResult {
  if (typeof entry === 'number') return { id: job.id, deduped: false, deliveries: entry };
  return { id: entry.slice(1), deduped: true, deliveries: 0 };
}

export async function cancel(runner: CommandRunner, queue: string, jobId: string): Promise<boolean> {
  return Number(await runner.run('cancel', queue, SCRIPTS.cancel, runner.keys(queue).jobRecords, [jobId])) === 1;
}

export async function reschedule(runner: CommandRunner, queue: string, jobId: string, runAt: number): Promise<boolean> {
  return Number(await runner.run('reschedule', queue, SCRIPTS.reschedule, runner.keys(queue).jobRecords, [jobId, Math.round(runAt)])) > 0;
}

export async function retryJob(runner: CommandRunner, queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number> {
  return Number(await runner.run('retryJob', queue, SCRIPTS.retryJob, runner.keys(queue).jobRecords, [jobId, Math.round(request.runAt), request.attempts]));
}

export async function removeJobs(runner: CommandRunner, queue: string, jobIds: string[]): Promise<string[]> {
  if (jobIds.length === 0) return [];
  return (await runner.run('removeJobs', queue, SCRIPTS.removeJobs, runner.keys(queue).jobRecords, jobIds)) as string[];
}

/** Lines appended to their job's list, one RPUSH per job. */
export async function appendLogs(runner: CommandRunner, queue: string, lines: LogLine[]): Promise<void> {
  if (lines.length === 0) return;
  const keys = runner.keys(queue);
  const byJob = new Map<string, string[]>();
  for (const line of lines) {
    const jobId = jobIdOfDelivery(line.deliveryId);
    const entries = byJob.get(jobId);
    if (entries) entries.push(JSON.stringify(line));
    else byJob.set(jobId, [JSON.stringify(line)]);
  }
  await runner.call('appendLogs', queue, () => Promise.all([...byJob].map(([jobId, entries]) => runner.client.rpush(keys.logs(jobId), ...entries))));
}

/** A job's own retention as the scripts take it: '<count>,<ageMs>' (-1: no limit), '' for the backend's. */
function keepArg(rule: RetentionRule | null | undefined): string {
  return rule ? `${rule.count ?? -1},${rule.ageMs ?? -1}` : '';
}

/**
 * Jobs as the enqueue step takes them (scripts/enqueue.ts): the templates their shared fields make, then
 * per job its id, its args as JSON and its template's number. Jobs fired together share one template.
 */
export function enqueueBatchArgs(jobs: NewJob[]): (string | number)[] {
  const templates: (string | number)[][] = [];
  const numbers = new Map<string, number>();
  const rows: (string | number)[] = [];
  let previous: NewJob | undefined;
  let number = 0;
  for (const job of jobs) {
    // Jobs fired together mostly follow one another with the same fields: compared first, keyed only when they differ.
    if (jobs.length === 1) {
      templates.push(templateOf(job));
      number = 1;
    } else if (!previous || !sameTemplate(previous, job)) {
      const template = templateOf(job);
      // Fields are text or numbers, none holds a NUL: joined with one, they name the template.
      const key = template.join('\u0000');
      const known = numbers.get(key);
      if (known === undefined) {
        templates.push(template);
        numbers.set(key, (number = templates.length));
      } else number = known;
      previous = job;
    }
    rows.push(job.id, argsJson(job.args), number);
  }
  return [templates.length, ...templates.flat(), ...rows];
}

/** A job's template: the fields jobs fired together share (scripts/enqueue.ts). */
function templateOf(job: NewJob): (string | number)[] {
  return [
    job.name,
    job.routes.length === 1 ? job.routes[0]! : job.routes.join(','),
    job.type,
    job.priority,
    Math.round(job.runAt),
    job.options.attempts,
    job.dedupeKey ?? '',
    Math.round(job.createdAt),
    encodeRunOptions(job.options),
    keepArg(job.options.removeOnComplete),
    keepArg(job.options.removeOnFail),
    job.group ?? '',
  ];
}

/** Whether two jobs share every field of a template (same values, or the same option objects). */
function sameTemplate(a: NewJob, b: NewJob): boolean {
  const x = a.options;
  const y = b.options;
  return (
    a.name === b.name &&
    (a.routes === b.routes || a.routes.join(',') === b.routes.join(',')) &&
    a.type === b.type &&
    a.priority === b.priority &&
    a.runAt === b.runAt &&
    a.createdAt === b.createdAt &&
    (a.dedupeKey ?? null) === (b.dedupeKey ?? null) &&
    (a.group ?? null) === (b.group ?? null) &&
    (x === y ||
      (x.attempts === y.attempts && x.timeoutMs === y.timeoutMs && x.backoff === y.backoff && x.removeOnComplete === y.removeOnComplete && x.removeOnFail === y.removeOnFail && x.delayMs === y.delayMs))
  );
}
