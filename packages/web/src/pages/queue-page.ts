import { type GroupPage, type JobPage, type JobState, type StateCounts } from '@skq/core';
import { JOB_STATES, WHOLE_QUEUE } from '@skq/core/backend';
import { html, type SafeHtml } from '../html.js';
import { ROW_JSON_LIMIT, previewJson } from '../json-preview.js';
import { totalsByState } from '../live-feed.js';
import { groupsSection } from './groups-page.js';
import { actionForm, layout, seg, stateBadge, time, type PageContext } from './layout.js';

/** The filters of a queue page, as its query string holds them. */
export interface QueueFilter {
  state: JobState | null;
  route: string | null;
  search: string | null;
  cursor: string | null;
}

/** What a queue page shows. */
export interface QueueView {
  name: string;
  counts: StateCounts;
  paused: string[];
  page: JobPage;
  filter: QueueFilter;
  /** The queue's first groups; null when its backend keeps no groups. */
  groups: GroupPage | null;
}

/** Ages offered by the clean form, in ms. */
const CLEAN_AGES: [string, number][] = [
  ['any age', 0],
  ['older than 1 hour', 3_600_000],
  ['older than 1 day', 86_400_000],
  ['older than 7 days', 7 * 86_400_000],
];

/** A queue (or one of its routes): tabs per state, a page of jobs, search and bulk actions. */
export function queuePage(ctx: PageContext, view: QueueView): SafeHtml {
  const { name, counts, paused, page, filter, groups } = view;
  const base = `queues/${seg(name)}`;
  const here = `${base}${queryOf({ ...filter, cursor: null })}`;
  const scoped: StateCounts = filter.route ? (counts[filter.route] ? { [filter.route]: counts[filter.route]! } : {}) : counts;
  const totals = totalsByState(scoped);
  const routes = [...new Set([...Object.keys(counts), ...paused.filter((r) => r !== WHOLE_QUEUE)])].sort();
  const wholePaused = paused.includes(WHOLE_QUEUE);
  const countKey = (st: string) => `${name}|${filter.route ?? ''}|${st}`;
  const body = html`<h1><a href="${ctx.root}${base}">${name}</a>${filter.route ? html` › route ${filter.route}` : null}
 ${wholePaused ? html`<span class="badge paused">paused</span>` : null}</h1>
<p class="subnav"><a href="${ctx.root}${base}/workers">Workers</a> · <a href="${ctx.root}${base}/schedules">Schedules</a>${groups ? html` · <a href="${ctx.root}${base}/groups">Groups</a>` : null}</p>
<section class="toolbar">
  ${wholePaused
    ? actionForm(ctx, `${base}/actions/resume`, 'Resume queue', { back: here })
    : actionForm(ctx, `${base}/actions/pause`, 'Pause queue', { back: here, confirm: `Pause every route of ${name}?` })}
  ${actionForm(ctx, `${base}/actions/retry-all`, 'Retry all failed', { back: here, confirm: `Retry every failed job of ${name}?` })}
  ${ctx.readOnly
    ? null
    : actionForm(ctx, `${base}/actions/clean`, 'Clean', {
        back: here,
        danger: true,
        confirm: 'Remove the jobs that match?',
        fields: html`<label>state <select name="state">${(['succeeded', 'failed', 'cancelled', 'scheduled', 'queued'] as const).map((s) => html`<option value="${s}">${s}</option>`)}</select></label>
<label>age <select name="olderThanMs">${CLEAN_AGES.map(([label, ms]) => html`<option value="${ms}">${label}</option>`)}</select></label>`,
      })}
</section>
<section class="routes">
  <h2>Routes</h2>
  <ul class="route-list">${routes.map(
    (r) => html`<li><a href="${ctx.root}${base}?route=${encodeURIComponent(r)}">${r}</a>${paused.includes(r) ? html` <span class="badge paused">paused</span>` : null}
 ${paused.includes(r) ? actionForm(ctx, `${base}/actions/resume`, 'resume', { back: here, fields: hiddenRoute(r) }) : actionForm(ctx, `${base}/actions/pause`, 'pause', { back: here, fields: hiddenRoute(r) })}</li>`,
  )}</ul>
</section>
${groups && !filter.route ? groupsSection(ctx, name, groups) : null}
<nav class="tabs">
  <a href="${ctx.root}${base}${queryOf({ ...filter, state: null, cursor: null })}"${filter.state === null ? html` class="current"` : null}>all</a>
  ${JOB_STATES.map((st) => html`<a href="${ctx.root}${base}${queryOf({ ...filter, state: st, cursor: null })}"${filter.state === st ? html` class="current"` : null}>${st} <span class="count" data-count="${countKey(st)}">${totals[st]}</span></a>`)}
</nav>
<form class="search" method="get" action="${ctx.root}${base}">
  ${filter.state ? html`<input type="hidden" name="state" value="${filter.state}">` : null}
  ${filter.route ? html`<input type="hidden" name="route" value="${filter.route}">` : null}
  <input type="search" name="search" value="${filter.search ?? ''}" placeholder="job id or name" aria-label="search by job id or name">
  <button>Search</button>
</form>
<p class="added" id="added" hidden><a href="${ctx.root}${here}"><span data-added>0</span> new jobs: show the newest</a></p>
<table class="jobs">
<thead><tr><th>id</th><th>name</th><th>state</th><th>attempts</th><th>progress</th><th>created</th><th>arguments</th></tr></thead>
<tbody>
${page.jobs.length === 0 ? html`<tr><td colspan="7" class="empty">No jobs here.</td></tr>` : null}
${page.jobs.map(
  (job) => html`<tr data-job-id="${job.id}">
<td><a class="mono" href="${ctx.root}${base}/jobs/${seg(job.id)}">${job.id}</a></td>
<td>${job.name}</td>
<td>${stateBadge(job.state)}</td>
<td data-field="attempts">${job.attempts}</td>
<td data-field="progress">${job.progress === null ? '' : previewJson(job.progress, 40, 0).text}</td>
<td>${time(job.createdAt)}</td>
<td class="mono preview">${previewJson(job.args, ROW_JSON_LIMIT, 0).text}</td>
</tr>`,
)}
</tbody>
</table>
<nav class="pager">
  ${filter.cursor ? html`<a href="${ctx.root}${base}${queryOf({ ...filter, cursor: null })}">« newest</a>` : null}
  ${page.nextCursor ? html`<a rel="next" href="${ctx.root}${base}${queryOf({ ...filter, cursor: page.nextCursor })}">older »</a>` : null}
</nav>`;
  return layout(ctx, filter.route ? `${name} › ${filter.route}` : name, body, { queues: [name], jobs: page.jobs.map((j) => j.id) });
}

function hiddenRoute(route: string): SafeHtml {
  return html`<input type="hidden" name="route" value="${route}">`;
}

/** The query string of a filter, empty parts left out. */
export function queryOf(filter: QueueFilter): string {
  const params = new URLSearchParams();
  for (const key of ['state', 'route', 'search', 'cursor'] as const) if (filter[key]) params.set(key, filter[key]!);
  const text = params.toString();
  return text ? `?${text}` : '';
}
