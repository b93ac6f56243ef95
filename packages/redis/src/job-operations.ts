// The Redis backend's writes to jobs: enqueue, then cancel, reschedule, retry and remove by id, each
// one script call; and log lines, appended to their job's list.
import { type LogLine } from '@skq/core';
import { jobIdOfDelivery, type EnqueueResult, type NewJob, type RetentionRule } from '@skq/core/backend';
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

/** One script call per queue; the results come back in the order of `jobs`. */
export async function enqueue(runner: CommandRunner, jobs: NewJob[]): Promise<EnqueueResult[]> {
  const byQueue = new Map<string, NewJob[]>();
  for (const job of jobs) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
  const results = new Map<string, EnqueueResult>();
  for (const [queue, batch] of byQueue) {
    if (!runner.isListed(queue)) await runner.addToDirectory(queue);
    const args = batch.flatMap(enqueueArgs);
    const out = (await runner.run('enqueue', queue, SCRIPTS.enqueue, runner.keys(queue).seq, args)) as (string | number)[];
    batch.forEach((job, i) => results.set(job.id, { id: String(out[i * 3]), deduped: Number(out[i * 3 + 1]) === 1, deliveries: Number(out[i * 3 + 2]) }));
  }
  return jobs.map((job) => results.get(job.id)!);
}

export async function cancel(runner: CommandRunner, queue: string, jobId: string): Promise<boolean> {
  return Number(await runner.run('cancel', queue, SCRIPTS.cancel, runner.keys(queue).jobs, [jobId])) === 1;
}

export async function reschedule(runner: CommandRunner, queue: string, jobId: string, runAt: number): Promise<boolean> {
  return Number(await runner.run('reschedule', queue, SCRIPTS.reschedule, runner.keys(queue).jobs, [jobId, Math.round(runAt)])) > 0;
}

export async function retryJob(runner: CommandRunner, queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number> {
  return Number(await runner.run('retryJob', queue, SCRIPTS.retryJob, runner.keys(queue).jobs, [jobId, Math.round(request.runAt), request.attempts]));
}

export async function removeJobs(runner: CommandRunner, queue: string, jobIds: string[]): Promise<string[]> {
  if (jobIds.length === 0) return [];
  return (await runner.run('removeJobs', queue, SCRIPTS.removeJobs, runner.keys(queue).jobs, jobIds)) as string[];
}

/** Lines appended to their job's list, one RPUSH per job. */
export async function appendLogs(runner: CommandRunner, queue: string, lines: LogLine[]): Promise<void> {
  if (lines.length === 0) return;
  const keys = runner.keys(queue);
  const byJob = new Map<string, string[]>();
  for (const line of lines) {
    const jobId = jobIdOfDelivery(line.deliveryId);
    byJob.set(jobId, [...(byJob.get(jobId) ?? []), JSON.stringify(line)]);
  }
  await runner.call('appendLogs', queue, () => Promise.all([...byJob].map(([jobId, entries]) => runner.client.rpush(keys.logs(jobId), ...entries))));
}

/** A job's own retention as the scripts take it: '<count>,<ageMs>' (-1: no limit), '' for the backend's. */
function keepArg(rule: RetentionRule | null | undefined): string {
  return rule ? `${rule.count ?? -1},${rule.ageMs ?? -1}` : '';
}

/** A job in the enqueue script's 13-entry layout. */
export function enqueueArgs(job: NewJob): (string | number)[] {
  return [
    job.id,
    job.name,
    JSON.stringify(job.args),
    job.routes.join(','),
    job.type,
    job.priority,
    Math.round(job.runAt),
    job.options.attempts,
    job.dedupeKey ?? '',
    Math.round(job.createdAt),
    encodeRunOptions(job.options),
    keepArg(job.options.removeOnComplete),
    keepArg(job.options.removeOnFail),
  ];
}
