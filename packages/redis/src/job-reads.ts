// The Redis backend's reads of jobs: one by id, a page of the listing, and a job's log lines.
import type { JobRecord, LogLine } from '@skq/core';
import type { ListJobsQuery } from '@skq/core/backend';
import type { CommandRunner } from './command-runner.js';
import { toDelivery, toJobRecord } from './records.js';
import { Script } from './script-runner.js';

const LIST_JOBS = new Script('list_jobs');
const READ_JOBS = new Script('read_jobs');

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

/** Jobs with their deliveries in one script call, skipping any gone. */
async function readJobs(runner: CommandRunner, queue: string, jobIds: string[]): Promise<JobRecord[]> {
  if (jobIds.length === 0) return [];
  const rows = (await runner.run('readJobs', queue, READ_JOBS, runner.keys(queue).jobs, jobIds)) as string[][][];
  const now = Date.now();
  const records: JobRecord[] = [];
  jobIds.forEach((id, j) => {
    const [job, ...rest] = (rows[j] ?? []).map(fields);
    if (!job?.name) return;
    const deliveries = Array.from({ length: Number(job.nd ?? 0) }, (_, i) => toDelivery(queue, `${id}.${i}`, i === 0 ? job : (rest[i - 1] ?? {}), now));
    records.push(toJobRecord(queue, id, job, deliveries));
  });
  return records;
}

/** A field/value list as an object. */
function fields(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}
