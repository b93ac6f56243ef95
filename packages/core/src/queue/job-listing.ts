import { z } from 'zod';
import { safeParseInput } from '../config.js';
import { SkqError, describeIssues } from '../errors.js';
import { JOB_STATES, type JobPosition, type JobRecord, type JobState, type StorageCapabilities } from '../storage/contract.js';
import type { JobStorage } from '../storage/roles/job-storage.js';

/**
 * What `queue.list()` filters on.
 *
 * @example
 * ```ts
 * ListQuerySchema.parse({ state: 'failed' }); // { state: 'failed', limit: 50 }
 * ListQuerySchema.safeParse({ limit: 5_000 }).success; // false: at most 1,000 per page
 * ```
 */
export const ListQuerySchema = z
  .object({
    /** Only jobs in this (aggregate) state. */
    state: z.enum(JOB_STATES as [JobState, ...JobState[]]).optional(),
    /** Only jobs with this name. */
    name: z.string().min(1).optional(),
    /** Only jobs delivered to this route. */
    route: z.string().min(1).optional(),
    /** Jobs whose id starts with it, or whose name contains it. */
    search: z.string().min(1).max(512).optional(),
    /** At most this many jobs per page. */
    limit: z.number().int().min(1).max(1_000).default(50),
    /** The `nextCursor` of the previous page (a store that lists by state puts a key and a member in it). */
    cursor: z.string().min(1).max(16_384).optional(),
  })
  .strict();

/**
 * `{ state?, name?, route?, search?, limit?, cursor? }` for `queue.list()`.
 *
 * @example
 * ```ts
 * const query: ListQuery = { state: 'failed', name: 'charge', limit: 20 };
 * const { jobs } = await queue.list(query);
 * ```
 */
export type ListQuery = z.input<typeof ListQuerySchema>;

/**
 * A page of jobs, newest first.
 *
 * @example
 * ```ts
 * let page: JobPage = await queue.list({ state: 'failed' });
 * for (const job of page.jobs) console.log(job.id, job.name);
 * if (page.nextCursor) page = await queue.list({ state: 'failed', cursor: page.nextCursor });
 * ```
 */
export interface JobPage {
  jobs: JobRecord[];
  /** Pass it as `cursor` for the next page; null when there is none. */
  nextCursor: string | null;
}

/** The most jobs read from the backend per scan step; steps start at the page size and double up to it. */
const SCAN_BATCH = 1_000;
/**
 * A page stops after scanning this many jobs, even if it found fewer than `limit` (a filter that
 * matches rarely in a long queue); its cursor then continues the scan.
 */
const SCAN_BUDGET = 5_000;

/**
 * One page of a queue's jobs. Stores list in one of two ways (`capabilities.listing`): newest first
 * by creation, or one state at a time from their indexes. Filters apply here, once for every store.
 * By creation, the cursor is the position the page ended at, so jobs enqueued meanwhile never shift a
 * page: paging visits each older job exactly once. By state, the states come in {@link LISTING_ORDER}
 * (or only the one asked for), each in its own order, and the cursor is the store's place in it.
 *
 * @example
 * ```ts
 * let page = await listJobsPage(backend, 'demo', { state: 'failed' });
 * while (page.nextCursor) page = await listJobsPage(backend, 'demo', { state: 'failed', cursor: page.nextCursor });
 * ```
 */
export async function listJobsPage(backend: JobStorage & { capabilities?: StorageCapabilities }, queue: string, query: ListQuery): Promise<JobPage> {
  const parsed = safeParseInput(ListQuerySchema, query ?? {});
  if (!parsed.success) {
    throw new SkqError('ARGS_INVALID', `invalid list query: ${describeIssues(parsed.error.issues, 'query')}`, { cause: parsed.error, context: { queue } });
  }
  if (backend.capabilities?.listing === 'by-state') return listByState(backend, queue, parsed.data);
  if (!backend.listJobs) throw new SkqError('BACKEND_ERROR', 'the store lists jobs neither by creation nor by state', { context: { queue } });
  const listJobs = backend.listJobs.bind(backend);
  const { limit, cursor, ...filter } = parsed.data;
  let after = cursor === undefined ? null : decodeCursor(cursor, queue);
  const jobs: JobRecord[] = [];
  // Unfiltered, the first step is the page itself; a filter that skips jobs makes each step larger.
  let step = limit;
  for (let scanned = 0; scanned < SCAN_BUDGET; step = Math.min(SCAN_BATCH, step * 2)) {
    const asked = Math.min(step, SCAN_BUDGET - scanned);
    const batch = await listJobs({ queue, after, limit: asked });
    for (const job of batch) {
      after = positionOf(job);
      if (!matches(job, filter)) continue;
      jobs.push(job);
      if (jobs.length === limit) return { jobs, nextCursor: encodeCursor(after) };
    }
    scanned += batch.length;
    if (batch.length < asked) return { jobs, nextCursor: null };
  }
  return { jobs, nextCursor: after ? encodeCursor(after) : null };
}

/**
 * The order of states in a listing of every state from a store that lists by state: what is running
 * and waiting first, then what has ended.
 *
 * @example
 * ```ts
 * LISTING_ORDER[0]; // 'running'
 * ```
 */
export const LISTING_ORDER: readonly JobState[] = ['running', 'queued', 'scheduled', 'failed', 'cancelled', 'succeeded'];

async function listByState(backend: JobStorage, queue: string, query: z.output<typeof ListQuerySchema>): Promise<JobPage> {
  if (!backend.listJobsInState) throw new SkqError('BACKEND_ERROR', 'the store declares listing by state but cannot list a state', { context: { queue } });
  const { limit, cursor, ...filter } = query;
  const states = filter.state ? [filter.state] : LISTING_ORDER;
  let [at, place] = cursor === undefined ? [0, null] : decodeStateCursor(cursor, states.length, queue);
  const jobs: JobRecord[] = [];
  const seen = new Set<string>();
  // The store's cursor cannot stop inside a page it returned: each step asks for no more than the page still needs.
  for (let scanned = 0; scanned < SCAN_BUDGET; ) {
    const state = states[at]!;
    const page = await backend.listJobsInState({ queue, state, cursor: place, limit: Math.min(limit - jobs.length, SCAN_BUDGET - scanned) });
    scanned += page.jobs.length;
    for (const job of page.jobs) {
      // A job may sit in one state's index through several deliveries: it is listed once, under its own state.
      if (seen.has(job.id) || !matches(job, { ...filter, state })) continue;
      seen.add(job.id);
      jobs.push(job);
    }
    place = page.cursor;
    if (place === null) {
      at += 1;
      if (at === states.length) return { jobs, nextCursor: null };
    }
    if (jobs.length >= limit) break;
  }
  return { jobs, nextCursor: encodeStateCursor(at, place) };
}

/**
 * Every job that matches `filter`, in listing order, a batch at a time.
 *
 * @example
 * ```ts
 * for await (const batch of matchingJobs(backend, 'demo', { state: 'failed' })) console.log(batch.length);
 * ```
 */
export async function* matchingJobs(backend: JobStorage, queue: string, filter: Omit<ListQuery, 'limit' | 'cursor'>): AsyncGenerator<JobRecord[]> {
  let cursor: string | undefined;
  do {
    const page = await listJobsPage(backend, queue, { ...filter, limit: 500, cursor });
    if (page.jobs.length) yield page.jobs;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

function matches(job: JobRecord, filter: { state?: JobState; name?: string; route?: string; search?: string }): boolean {
  if (filter.state && job.state !== filter.state) return false;
  if (filter.name && job.name !== filter.name) return false;
  if (filter.route && !job.routes.includes(filter.route)) return false;
  if (filter.search && !job.id.startsWith(filter.search) && !job.name.includes(filter.search)) return false;
  return true;
}

function encodeStateCursor(at: number, place: string | null): string {
  return Buffer.from(JSON.stringify(['state', at, place])).toString('base64url');
}

function decodeStateCursor(cursor: string, states: number, queue: string): [number, string | null] {
  try {
    const [kind, at, place] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (kind === 'state' && Number.isInteger(at) && (at as number) >= 0 && (at as number) < states && (place === null || typeof place === 'string')) return [at as number, place as string | null];
  } catch {
    // Reported below.
  }
  throw new SkqError('ARGS_INVALID', 'invalid list query: query.cursor is not a cursor that list() returned', { context: { queue, field: 'cursor' } });
}

function positionOf(job: JobRecord): JobPosition {
  return { createdAt: job.createdAt, id: job.id };
}

function encodeCursor(position: JobPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

function decodeCursor(cursor: string, queue: string): JobPosition {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    // Every store keys its listing by these two: a time that is not a whole, safe ms (a forged 1.5) is not a position in any.
    if (Number.isSafeInteger(createdAt) && (createdAt as number) >= 0 && typeof id === 'string' && id.length > 0) return { createdAt: createdAt as number, id };
  } catch {
    // Reported below.
  }
  throw new SkqError('ARGS_INVALID', 'invalid list query: query.cursor is not a cursor that list() returned', { context: { queue, field: 'cursor' } });
}
