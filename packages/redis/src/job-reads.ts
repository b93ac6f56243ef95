// The Redis backend's reads of jobs: one by id, a page of a state's listing, and a job's log lines.
import type { JobRecord, LogLine } from '@skq/core';
import type { StateListPage, StateListQuery } from '@skq/core/backend';
import type { CommandRunner } from './command-runner.js';
import { storedFields, toDelivery, toJobRecord } from './records.js';
import { Script } from './script-runner.js';

const LIST_STATE = new Script('list_state');
const READ_JOBS = new Script('read_jobs');

export async function getJob(runner: CommandRunner, queue: string, jobId: string): Promise<JobRecord | null> {
  return runner.call('getJob', queue, async () => (await readJobs(runner, queue, [jobId]))[0] ?? null);
}

/** A page of the jobs one state's index holds, with the records, in one call. */
export async function listJobsInState(runner: CommandRunner, query: StateListQuery): Promise<StateListPage> {
  const args = [query.state, query.cursor ?? '', query.limit];
  const [cursor, ids, rows] = (await runner.run('listJobsInState', query.queue, LIST_STATE, runner.keys(query.queue).counts, args)) as [string | null, string[], (string | number)[][][]];
  return { jobs: toRecords(query.queue, ids, rows), cursor: cursor || null };
}

export async function getLogs(runner: CommandRunner, queue: string, jobId: string): Promise<LogLine[]> {
  const entries = await runner.call('getLogs', queue, () => runner.client.lrange(runner.keys(queue).logs(jobId), 0, -1));
  return entries.map((entry) => JSON.parse(entry) as LogLine);
}

/** Jobs with their deliveries in one script call, skipping any gone. */
async function readJobs(runner: CommandRunner, queue: string, jobIds: string[]): Promise<JobRecord[]> {
  if (jobIds.length === 0) return [];
  const rows = (await runner.run('readJobs', queue, READ_JOBS, runner.keys(queue).counts, jobIds)) as (string | number)[][][];
  return toRecords(queue, jobIds, rows);
}

/** Jobs from their records' field lists (the job with delivery 0, then its further deliveries); a job gone is skipped. */
function toRecords(queue: string, jobIds: string[], rows: (string | number)[][][]): JobRecord[] {
  const now = Date.now();
  const records: JobRecord[] = [];
  jobIds.forEach((id, j) => {
    const [first, ...more] = rows[j] ?? [];
    const job = first && storedFields(first);
    if (!job?.name) return;
    const rest = more.map((flat) => storedFields(flat, job));
    const deliveries = Array.from({ length: Number(job.nd ?? 0) }, (_, i) => toDelivery(queue, `${id}.${i}`, i === 0 ? job : (rest[i - 1] ?? {}), now));
    records.push(toJobRecord(queue, id, job, deliveries));
  });
  return records;
}
