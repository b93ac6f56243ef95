// The Redis backend's reads of jobs: one by id, a page of the listing, and a job's log lines.
import type { Cluster, Redis } from 'ioredis';
import type { JobRecord, LogLine } from '@skq/core';
import type { ListJobsQuery } from '@skq/core/backend';
import type { CommandRunner } from './command-runner.js';
import { toDelivery, toJobRecord } from './records.js';
import { Script } from './script-runner.js';
import { LIST_JOBS_LUA } from './scripts/operations.js';

const LIST_JOBS = new Script('list-jobs', LIST_JOBS_LUA);

export async function getJob(runner: CommandRunner, queue: string, jobId: string): Promise<JobRecord | null> {
  return runner.call('getJob', queue, async () => (await readJobs(runner, queue, [jobId]))[0] ?? null);
}

/** The page's ids from the listing script, then the jobs (one gone meanwhile is skipped). */
export async function listJobs(runner: CommandRunner, query: ListJobsQuery): Promise<JobRecord[]> {
  const args = [query.limit, query.after ? Math.round(query.after.createdAt) : '', query.after?.id ?? ''];
  const ids = (await runner.run('listJobs', query.queue, LIST_JOBS, runner.keys(query.queue).jobs, args)) as string[];
  return runner.call('listJobs', query.queue, () => readJobs(runner, query.queue, ids));
}

export async function getLogs(runner: CommandRunner, queue: string, jobId: string): Promise<LogLine[]> {
  const entries = await runner.call('getLogs', queue, () => runner.client.lrange(runner.keys(queue).logs(jobId), 0, -1));
  return entries.map((entry) => JSON.parse(entry) as LogLine);
}

/** Jobs with their deliveries in two pipelined round trips (the keys share the queue's slot), skipping any gone. */
async function readJobs(runner: CommandRunner, queue: string, jobIds: string[]): Promise<JobRecord[]> {
  if (jobIds.length === 0) return [];
  const keys = runner.keys(queue);
  const jobs = (await pipelined(runner.client, jobIds.map((id) => ['hgetall', keys.job(id)]))) as Record<string, string>[];
  // Delivery 0 lives in the job's own hash; a job's further deliveries are read together.
  const extra = jobIds.flatMap((id, j) => Array.from({ length: Math.max(0, Number(jobs[j]!.nd ?? 0) - 1) }, (_, i) => `${id}.${i + 1}`));
  const hashes = (await pipelined(runner.client, extra.map((id) => ['hgetall', keys.delivery(id)]))) as Record<string, string>[];
  const byId = new Map(extra.map((id, i) => [id, hashes[i]!]));
  const now = Date.now();
  const records: JobRecord[] = [];
  jobIds.forEach((id, j) => {
    const job = jobs[j]!;
    if (!job.name) return;
    const deliveries = Array.from({ length: Number(job.nd ?? 0) }, (_, i) => toDelivery(queue, `${id}.${i}`, i === 0 ? job : (byId.get(`${id}.${i}`) ?? {}), now));
    records.push(toJobRecord(queue, id, job, deliveries));
  });
  return records;
}

/** Runs commands in one pipeline; the first failure is thrown. */
async function pipelined(client: Redis | Cluster, commands: [string, ...string[]][]): Promise<unknown[]> {
  if (commands.length === 0) return [];
  const replies = (await client.pipeline(commands).exec()) ?? [];
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
