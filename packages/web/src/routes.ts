import type { IncomingMessage, ServerResponse } from 'node:http';
import { SkqError, type JobState, type WorkerCommandName } from '@skq/core';
import { JOB_STATES, WORKER_COMMANDS } from '@skq/core/backend';
import type { LiveFeed } from './live-feed.js';
import { MAX_WATCHED_JOBS } from './live-feed.js';
import type { MonitorMetrics } from './prometheus.js';
import type { QueueDirectory } from './queue-directory.js';
import { jobPage } from './pages/job-page.js';
import type { PageContext } from './pages/layout.js';
import { OVERVIEW_PAGE_SIZE, overviewPage, overviewPageQueues } from './pages/overview-page.js';
import { QUEUE_PAGE_GROUPS, groupsPage } from './pages/groups-page.js';
import { queuePage, type QueueFilter } from './pages/queue-page.js';
import { schedulesPage } from './pages/schedules-page.js';
import { triggersPage } from './pages/simple-pages.js';
import { workersPage } from './pages/workers-page.js';
import { SECURITY_HEADERS, sendHtml, sendText } from './request-io.js';
import type { TriggerPositionsProvider } from './trigger-positions.js';

/** What a route handler gets. */
export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string | undefined>;
  query: URLSearchParams;
  page: PageContext;
  directory: QueueDirectory;
  feed: LiveFeed;
  metrics: MonitorMetrics;
  /** Reads the trigger runners' positions for the store at the monitor's URL; null: no Trigger runners page. */
  triggerPositions: TriggerPositionsProvider | null;
}

/** What an action did, for the notice on the page it returns to. */
export interface ActionOutcome {
  notice: string;
  /** Where to go instead of the form's `back` (after removing the job a page shows). */
  back?: string;
}

export type PageRoute = (r: RouteRequest) => Promise<void>;
export type ActionRoute = (r: RouteRequest, form: Record<string, string>) => Promise<ActionOutcome>;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The pages, each a GET. */
export const PAGES: Record<string, PageRoute> = {
  '/': async ({ res, page, query, directory, triggerPositions }) => {
    const now = Date.now();
    const all = await directory.names();
    const pageCount = Math.max(1, Math.ceil(all.length / OVERVIEW_PAGE_SIZE));
    const number = Math.min(pageCount, boundedInt(query.get('page') ?? '1', 'page', 1, Number.MAX_SAFE_INTEGER));
    const names = overviewPageQueues(all, number);
    const summaries = await Promise.all(
      names.map(async (name) => {
        const queue = await directory.queue(name);
        const [counts, paused, workers, schedules, throughput] = await Promise.all([
          directory.counts(name),
          queue.pausedRoutes(),
          queue.workers(),
          queue.schedules(),
          queue.metrics({ minutes: 1_440 }),
        ]);
        return { name, counts, paused, workers, schedules, throughput };
      }),
    );
    sendHtml(res, 200, overviewPage(page, summaries, now, triggerPositions !== null && directory.url() !== null, { number, count: pageCount, queues: all.length }));
  },

  '/queues/:queue': async ({ res, page, params, query, directory }) => {
    const queue = await directory.queue(params.queue!);
    const filter = filterOf(query);
    // A search for a whole id shows that job at once, however deep in the queue it is, with no scan.
    const exact = filter.search && !filter.cursor ? await queue.getRecord(filter.search) : null;
    const counts = await directory.counts(queue.name);
    // A job's state is one of its deliveries' states, so a tab whose state no delivery is in (as of the
    // counts, at most a second old) has nothing to list: no scan. Not for `cancelled`, which also
    // holds broadcast jobs that found no listener and have no delivery at all.
    const empty =
      filter.state !== null &&
      filter.state !== 'cancelled' &&
      !Object.entries(counts).some(([route, byState]) => (!filter.route || route === filter.route) && byState[filter.state!] > 0);
    const grouped = (await queue.backend()).capabilities.groups === true;
    const [paused, groups, listed] = await Promise.all([
      queue.pausedRoutes(),
      grouped ? queue.groups({ limit: QUEUE_PAGE_GROUPS }) : null,
      exact || empty
        ? { jobs: exact ? [exact] : [], nextCursor: null }
        : queue.list({
            ...(filter.state && { state: filter.state }),
            ...(filter.route && { route: filter.route }),
            ...(filter.search && { search: filter.search }),
            ...(filter.cursor && { cursor: filter.cursor }),
          }),
    ]);
    sendHtml(res, 200, queuePage(page, { name: queue.name, counts, paused, page: listed, filter, groups }));
  },

  '/queues/:queue/jobs/:id': async ({ res, page, params, directory }) => {
    const queue = await directory.queue(params.queue!);
    const [job, logs] = await Promise.all([queue.getRecord(params.id!), queue.logs(params.id!)]);
    if (!job) throw new SkqError('JOB_NOT_FOUND', `job ${params.id} not found in queue "${queue.name}"`, { context: { queue: queue.name, jobId: params.id! } });
    sendHtml(res, 200, jobPage(page, queue.name, job, logs, Date.now()));
  },

  '/queues/:queue/jobs/:id/json': async ({ res, params, query, directory }) => {
    const queue = await directory.queue(params.queue!);
    const job = await queue.getRecord(params.id!);
    if (!job) throw new SkqError('JOB_NOT_FOUND', `job ${params.id} not found in queue "${queue.name}"`, { context: { queue: queue.name, jobId: params.id! } });
    const part = query.get('part') ?? 'job';
    const delivery = job.deliveries.find((d) => d.id === query.get('delivery'));
    const value =
      part === 'args'
        ? job.args
        : part === 'progress'
          ? job.progress
          : part === 'result'
            ? delivery?.result
            : part === 'error'
              ? delivery?.error
              : part === 'logs'
                ? await queue.logs(job.id)
                : part === 'job'
                  ? job
                  : undefined;
    if (value === undefined) throw new SkqError('ARGS_INVALID', 'part must be job, args, progress, logs, or result or error with a delivery id');
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'application/json; charset=utf-8',
      'content-disposition': `inline; filename="${safeFileName(`${job.id}-${part}`)}.json"`,
      'cache-control': 'no-store',
    });
    res.end(JSON.stringify(value, null, 2));
  },

  '/queues/:queue/workers': async ({ res, page, params, directory }) => {
    const queue = await directory.queue(params.queue!);
    sendHtml(res, 200, workersPage(page, queue.name, await queue.workers(), Date.now()));
  },

  '/queues/:queue/groups': async ({ res, page, params, query, directory }) => {
    const queue = await directory.queue(params.queue!);
    const cursor = query.get('cursor') || null;
    const [groups, defaults] = await Promise.all([queue.groups({ limit: 100, ...(cursor && { cursor }) }), queue.groupLimits('*')]);
    sendHtml(res, 200, groupsPage(page, queue.name, groups, cursor, defaults));
  },

  '/queues/:queue/schedules': async ({ res, page, params, directory }) => {
    const queue = await directory.queue(params.queue!);
    sendHtml(res, 200, schedulesPage(page, queue.name, await queue.schedules()));
  },

  '/triggers': async ({ res, page, directory, triggerPositions }) => {
    const url = directory.url();
    if (triggerPositions === null || url === null) {
      throw new SkqError(
        'UNSUPPORTED',
        'this monitor shows no trigger runners: it was given no triggerPositions reader (skunq web gives MongoDB\'s for a mongodb:// URL), or an open backend instead of a URL',
      );
    }
    sendHtml(res, 200, triggersPage(page, await triggerPositions(url)));
  },

  // `?queues=a,b&jobs=x,y` (a queue or job page), or `?overview=N`: the queues of the overview's page N, so
  // that page's URL stays short however many queues the store holds.
  '/events': async ({ res, query, directory, feed }) => {
    const shown = await directory.names();
    const overview = query.get('overview');
    const queues =
      overview !== null
        ? overviewPageQueues(shown, boundedInt(overview, 'overview', 1, Math.max(1, Math.ceil(shown.length / OVERVIEW_PAGE_SIZE))))
        : listParam(query, 'queues', MAX_STREAM_QUEUES);
    const known = new Set(shown);
    const unknown = queues.find((q) => !known.has(q));
    if (unknown !== undefined || queues.length === 0) throw new SkqError('QUEUE_NOT_FOUND', `events need queues this monitor shows${unknown ? `, not "${unknown.slice(0, 200)}"` : ''}`);
    const jobs = listParam(query, 'jobs', MAX_WATCHED_JOBS);
    // A followed job is looked up in each queue of the stream: one queue keeps that one read per job.
    if (jobs.length > 0 && queues.length > 1) throw new SkqError('ARGS_INVALID', `jobs are followed in one queue, not ${queues.length}`, { context: { field: 'jobs' } });
    await feed.open(res, queues, jobs);
  },

  '/metrics': async ({ res, metrics }) => {
    sendText(res, 200, await metrics.metrics(), { 'content-type': metrics.registry.contentType });
  },
};

/** The actions, each a POST with a CSRF-checked form. */
export const ACTIONS: Record<string, ActionRoute> = {
  '/queues/:queue/jobs/:id/:action': async ({ params, directory }, form) => {
    const queue = await directory.queue(params.queue!);
    const id = params.id!;
    switch (params.action) {
      case 'cancel':
        return { notice: (await queue.cancel(id)) ? `Cancelled job ${id}.` : `Job ${id} had nothing left to cancel.` };
      case 'retry':
        await queue.retry(id);
        return { notice: `Job ${id} is queued again.` };
      case 'promote':
        await queue.promote(id);
        return { notice: `Job ${id} runs now.` };
      case 'reschedule': {
        const delay = form.delayMs ? boundedInt(form.delayMs, 'delayMs', 0, 365 * 86_400_000) : undefined;
        await queue.reschedule(id, delay);
        return { notice: `Job ${id} is rescheduled.` };
      }
      case 'remove':
        await queue.remove(id);
        return { notice: `Removed job ${id}.`, back: `queues/${encodeURIComponent(queue.name)}` };
      default:
        throw new SkqError('ARGS_INVALID', `no job action "${params.action}": cancel, retry, promote, reschedule or remove`);
    }
  },

  '/queues/:queue/actions/:action': async ({ params, directory }, form) => {
    const queue = await directory.queue(params.queue!);
    const route = form.route || undefined;
    switch (params.action) {
      case 'pause':
        await queue.pause(route);
        return { notice: `Paused ${route ? `route ${route}` : `queue ${queue.name}`}.` };
      case 'resume':
        await queue.resume(route);
        return { notice: `Resumed ${route ? `route ${route}` : `queue ${queue.name}`}.` };
      case 'retry-all':
        return { notice: `Queued ${plural(await queue.retryAll({ state: 'failed' }), 'failed job')} again.` };
      case 'clean': {
        const state = stateOf(form.state);
        if (!state) throw new SkqError('ARGS_INVALID', `clean needs a state: ${JOB_STATES.join(', ')}`);
        const olderThan = form.olderThanMs ? boundedInt(form.olderThanMs, 'olderThanMs', 0, 3_650 * 86_400_000) : 0;
        return { notice: `Removed ${plural(await queue.clean({ state, olderThan }), `${state} job`)}.` };
      }
      default:
        throw new SkqError('ARGS_INVALID', `no queue action "${params.action}": pause, resume, retry-all or clean`);
    }
  },

  '/queues/:queue/workers/:worker/:command': async ({ params, directory }) => {
    const queue = await directory.queue(params.queue!);
    const command = params.command as WorkerCommandName;
    if (!WORKER_COMMANDS.includes(command)) throw new SkqError('ARGS_INVALID', `no worker command "${params.command}": ${WORKER_COMMANDS.join(', ')}`);
    const outcome = await queue.commandWorker(params.worker!, command, { timeoutMs: 15_000 });
    return { notice: outcome.outcome === 'exited' ? `Worker ${params.worker} has exited.` : `Worker ${params.worker} obeyed "${command}".` };
  },

  '/queues/:queue/schedules/:schedule/:action': async ({ params, directory }) => {
    const queue = await directory.queue(params.queue!);
    const id = params.schedule!;
    switch (params.action) {
      case 'pause':
        await queue.pauseSchedule(id, true);
        return { notice: `Paused schedule ${id}.` };
      case 'resume':
        await queue.pauseSchedule(id, false);
        return { notice: `Resumed schedule ${id}.` };
      case 'remove':
        await queue.removeSchedule(id);
        return { notice: `Removed schedule ${id}.` };
      default:
        throw new SkqError('ARGS_INVALID', `no schedule action "${params.action}": pause, resume or remove`);
    }
  },
};

/** Queues a stream follows by name: a page of the overview's worth. */
export const MAX_STREAM_QUEUES = OVERVIEW_PAGE_SIZE;

/**
 * A comma-separated list of a query, each name once. More than `max` names (counting repeats) is
 * refused: a stream's work grows with its list, and no page of the monitor asks for more.
 */
function listParam(query: URLSearchParams, field: string, max: number): string[] {
  const given = (query.get(field) ?? '').split(',').filter(Boolean);
  if (given.length > max) throw new SkqError('ARGS_INVALID', `${field} takes at most ${max} names, got ${given.length}`, { context: { field } });
  return [...new Set(given)];
}

function filterOf(query: URLSearchParams): QueueFilter {
  const state = query.get('state') || null;
  if (state !== null && !stateOf(state)) throw new SkqError('ARGS_INVALID', `state must be one of ${JOB_STATES.join(', ')}`);
  return { state: state as JobState | null, route: query.get('route') || null, search: query.get('search')?.trim() || null, cursor: query.get('cursor') || null };
}

function stateOf(value: string | undefined): JobState | null {
  return value !== undefined && (JOB_STATES as readonly string[]).includes(value) ? (value as JobState) : null;
}

function boundedInt(value: string, field: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new SkqError('ARGS_INVALID', `${field} must be a whole number from ${min} to ${max}, got "${value.slice(0, 40)}"`, { context: { field } });
  return n;
}

function safeFileName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
}
