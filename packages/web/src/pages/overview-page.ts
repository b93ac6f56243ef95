import { type ScheduleRecord, type StateCounts, type WorkerInfo } from '@skq/core';
import { JOB_STATES, WHOLE_QUEUE, type ThroughputBucket } from '@skq/core/backend';
import { html, type SafeHtml } from '../html.js';
import { totalsByState } from '../live-feed.js';
import { slotsOf, throughputChart } from '../throughput-chart.js';
import { layout, seg, type PageContext } from './layout.js';

/** What the overview shows of one queue. */
export interface QueueSummary {
  name: string;
  counts: StateCounts;
  paused: string[];
  workers: WorkerInfo[];
  schedules: ScheduleRecord[];
  /** The last 24 hours of minute buckets. */
  throughput: ThroughputBucket[];
}

/** Queues per page of the overview: each card is about 20 KB of counts and charts, and costs five reads. */
export const OVERVIEW_PAGE_SIZE = 25;

/** Which page of the overview this is, of how many, over how many queues. */
export interface OverviewPaging {
  number: number;
  count: number;
  queues: number;
}

/** The queues on page `number` (from 1) of the overview, of the sorted `names`. */
export function overviewPageQueues(names: string[], number: number): string[] {
  return names.slice((number - 1) * OVERVIEW_PAGE_SIZE, number * OVERVIEW_PAGE_SIZE);
}

/**
 * The overview: a page of queues, each with its routes, counts, paused state, workers and throughput.
 * Its live stream names the page, not its queues, so the URL stays short with long names.
 */
export function overviewPage(ctx: PageContext, summaries: QueueSummary[], now: number, triggers: boolean, paging: OverviewPaging): SafeHtml {
  const { number, count } = paging;
  const body = html`<h1>Overview</h1>
${summaries.length === 0 ? html`<p class="empty">No queues yet: fire a job, start a worker or save a schedule, and it shows up here.</p>` : null}
${count > 1 ? html`<p class="muted">Page ${number} of ${count}: ${paging.queues} queues, ${OVERVIEW_PAGE_SIZE} a page, by name.</p>` : null}
${summaries.map((s) => queueCard(ctx, s, now))}
${count > 1
  ? html`<nav class="pager">
  ${number > 1 ? html`<a rel="prev" href="${ctx.root}?page=${number - 1}">« previous</a>` : null}
  ${number < count ? html`<a rel="next" href="${ctx.root}?page=${number + 1}">next »</a>` : null}
</nav>`
  : null}
${triggers ? html`<p><a href="${ctx.root}triggers">Database-event trigger runners</a></p>` : null}`;
  return layout(ctx, 'Overview', body, summaries.length ? { queues: [], overviewPage: number } : undefined);
}

function queueCard(ctx: PageContext, s: QueueSummary, now: number): SafeHtml {
  const base = `${ctx.root}queues/${seg(s.name)}`;
  const totals = totalsByState(s.counts);
  const wholePaused = s.paused.includes(WHOLE_QUEUE);
  const byState = { running: 0, paused: 0, stopping: 0 } as Record<string, number>;
  for (const w of s.workers) byState[w.state] = (byState[w.state] ?? 0) + 1;
  const hour = slotsOf(s.throughput, now, 60, 60_000);
  const day = slotsOf(s.throughput, now, 24, 3_600_000);
  return html`<section class="card queue-card" data-queue="${s.name}">
<h2><a href="${base}">${s.name}</a> ${wholePaused ? html`<span class="badge paused">paused</span>` : null}</h2>
<table class="counts">
<thead><tr><th>route</th>${JOB_STATES.map((st) => html`<th><a href="${base}?state=${st}">${st}</a></th>`)}</tr></thead>
<tbody>
${Object.entries(s.counts).map(
  ([route, counts]) => html`<tr><th scope="row"><a href="${base}?route=${encodeURIComponent(route)}">${route}</a>${s.paused.includes(route) ? html` <span class="badge paused">paused</span>` : null}</th>${JOB_STATES.map(
    (st) => html`<td data-count="${s.name}|${route}|${st}">${counts[st]}</td>`,
  )}</tr>`,
)}
<tr class="total"><th scope="row">all</th>${JOB_STATES.map((st) => html`<td data-count="${s.name}||${st}">${totals[st]}</td>`)}</tr>
</tbody>
</table>
<p class="facts">
  <a href="${base}/workers">${s.workers.length} worker${s.workers.length === 1 ? '' : 's'}</a>
  (${byState.running} running, ${byState.paused} paused, ${byState.stopping} stopping)
  · <a href="${base}/schedules">${s.schedules.length} schedule${s.schedules.length === 1 ? '' : 's'}</a>
</p>
<div class="charts">
${throughputChart('Last hour, per minute', hour, (t) => new Date(t).toISOString().slice(11, 16))}
${throughputChart('Last day, per hour', day, (t) => new Date(t).toISOString().slice(5, 13).replace('T', ' ') + 'h')}
</div>
</section>`;
}
