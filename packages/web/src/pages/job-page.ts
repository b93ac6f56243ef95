import { type Delivery, type JobRecord, type LogLine } from '@skq/core';
import { CONJUNCTION_JOB, TERMINAL_STATES, type JobCall } from '@skq/core/backend';
import { html, type SafeHtml } from '../html.js';
import { JOB_PAGE_JSON_LIMIT, formatSize, previewJson, previewText } from '../json-preview.js';
import { actionForm, layout, seg, stateBadge, time, type PageContext } from './layout.js';

/** Log lines a job page shows; the rest are counted. */
const MAX_LOG_LINES = 500;
/** Characters of log lines a job page shows, newest lines first: 500 lines of 4 KB would make a 2 MB page. */
const LOG_CHARS = 128 * 1_024;
/** Characters of each step of the timeline: the whole error is in its delivery, a link away. */
const TIMELINE_TEXT_LIMIT = 500;

/** Delays offered by the reschedule form, in ms ('' runs it its original delay from now). */
const RESCHEDULE_DELAYS: [string, string][] = [
  ['its delay from now', ''],
  ['in 1 minute', '60000'],
  ['in 10 minutes', '600000'],
  ['in 1 hour', '3600000'],
  ['in 1 day', '86400000'],
];

/** One job: its arguments, result, errors, progress, deliveries, every attempt on a timeline, logs and actions. */
export function jobPage(ctx: PageContext, queue: string, job: JobRecord, logs: LogLine[], now: number): SafeHtml {
  const base = `queues/${seg(queue)}/jobs/${seg(job.id)}`;
  const pending = !TERMINAL_STATES.has(job.state);
  const queued = job.deliveries.some((d) => d.state === 'queued');
  const body = html`<p class="crumbs"><a href="${ctx.root}queues/${seg(queue)}">${queue}</a> › job</p>
<h1 data-job-id="${job.id}"><span class="mono">${job.id}</span> ${stateBadge(job.state)}</h1>
<section class="toolbar">
  ${pending ? actionForm(ctx, `${base}/cancel`, 'Cancel', { back: base, confirm: 'Cancel this job?' }) : null}
  ${job.state === 'failed' || job.state === 'cancelled' ? actionForm(ctx, `${base}/retry`, 'Retry', { back: base }) : null}
  ${job.state === 'scheduled' ? actionForm(ctx, `${base}/promote`, 'Run now', { back: base }) : null}
  ${queued
    ? actionForm(ctx, `${base}/reschedule`, 'Reschedule', {
        back: base,
        fields: html`<select name="delayMs" aria-label="when">${RESCHEDULE_DELAYS.map(([label, ms]) => html`<option value="${ms}">${label}</option>`)}</select>`,
      })
    : null}
  ${job.state !== 'running' ? actionForm(ctx, `${base}/remove`, 'Remove', { back: `queues/${seg(queue)}`, confirm: 'Remove this job and its logs?', danger: true }) : null}
</section>
<dl class="facts-grid">
  <dt>name</dt><dd>${job.name}</dd>
  <dt>routes</dt><dd>${job.routes.join(', ')} (${job.type})</dd>
  <dt>priority</dt><dd>${job.priority}</dd>
  <dt>attempts</dt><dd data-field="attempts">${job.attempts}</dd>
  <dt>created</dt><dd>${time(job.createdAt)}</dd>
  <dt>started</dt><dd>${time(job.startedAt)}</dd>
  <dt>finished</dt><dd>${time(job.finishedAt)}</dd>
  ${job.dedupeKey ? html`<dt>dedupe key</dt><dd>${job.dedupeKey}</dd>` : null}
  <dt>options</dt><dd class="mono">${previewJson(job.options, 400, 0).text}</dd>
</dl>
<h2>Arguments</h2>
${jsonBlock(ctx, `${base}/json?part=args`, job.args)}
${job.name === CONJUNCTION_JOB ? conjunctionParts(job) : null}
<h2>Progress</h2>
<div data-field="progress">${job.progress === null ? html`<p class="muted">none reported</p>` : html`<pre class="json">${previewJson(job.progress, JOB_PAGE_JSON_LIMIT).text}</pre>`}</div>
<h2>Deliveries</h2>
${job.deliveries.map((d) => delivery(ctx, base, d, now))}
<h2>Timeline</h2>
${timeline(job, logs)}
<h2>Logs</h2>
${logTable(ctx, `${base}/json?part=logs`, logs)}`;
  return layout(ctx, `job ${job.id}`, body, { queues: [queue], jobs: [job.id], reloadOnChange: true });
}

function delivery(ctx: PageContext, base: string, d: Delivery, now: number): SafeHtml {
  return html`<section class="card delivery">
<h3>route ${d.route}${d.targetWorker ? html` → worker <span class="mono">${d.targetWorker}</span>` : null} ${stateBadge(d.state)}</h3>
<dl class="facts-grid">
  <dt>attempts</dt><dd>${d.attempts} of ${d.maxAttempts}${d.recoveries ? ` (${d.recoveries} taken back after a lost lease)` : ''}</dd>
  <dt>runs at</dt><dd>${time(d.runAt)}</dd>
  <dt>worker</dt><dd class="mono">${d.workerId ?? '—'}</dd>
  <dt>started</dt><dd>${time(d.startedAt)}</dd>
  ${d.leaseUntil !== null && d.state === 'running' ? html`<dt>lease until</dt><dd>${time(d.leaseUntil)} (${Math.round((d.leaseUntil - now) / 1000)} s)</dd>` : null}
  <dt>finished</dt><dd>${time(d.finishedAt)}</dd>
  ${d.cancelRequested ? html`<dt>cancel</dt><dd>requested</dd>` : null}
</dl>
${d.state === 'succeeded' ? html`<h4>Result</h4>${jsonBlock(ctx, `${base}/json?part=result&delivery=${encodeURIComponent(d.id)}`, d.result)}` : null}
${d.error ? errorBlock(ctx, `${base}/json?part=error&delivery=${encodeURIComponent(d.id)}`, d.error) : null}
</section>`;
}

/** An error's message and stack, each cut at a few KB, with a link to all of it. */
function errorBlock(ctx: PageContext, link: string, error: NonNullable<Delivery['error']>): SafeHtml {
  const message = previewText(error.message, JOB_PAGE_JSON_LIMIT);
  const stack = error.stack ? previewText(error.stack, JOB_PAGE_JSON_LIMIT) : null;
  const cut = [message, stack].filter((p) => p?.cut);
  return html`<h4>Error</h4><p class="error-message">${error.name ? `${error.name}: ` : ''}${message.text}${error.code ? html` <span class="badge">${error.code}</span>` : null}</p>
${stack ? html`<details open><summary>remote stack</summary><pre class="stack">${stack.text}</pre></details>` : null}
${cut.length ? html`<p class="cut">Cut at ${formatSize(JOB_PAGE_JSON_LIMIT)} of ${cut.map((p) => formatSize(p!.length)).join(' and ')}: <a href="${ctx.root}${link}">the whole error</a></p>` : null}`;
}

function conjunctionParts(job: JobRecord): SafeHtml {
  const parts = (Array.isArray(job.args[0]) ? job.args[0] : []) as JobCall[];
  const results = job.deliveries.find((d) => d.state === 'succeeded' && Array.isArray(d.result))?.result as unknown[] | undefined;
  return html`<h2>Parts</h2>
<table class="parts"><thead><tr><th>#</th><th>job</th><th>arguments</th><th>result</th></tr></thead><tbody>
${parts.map(
  (part, i) => html`<tr><td>${i + 1}</td><td>${part?.name ?? '?'}</td><td class="mono preview">${previewJson(part?.args, 200, 0).text}</td><td class="mono preview">${results && i < results.length ? previewJson(results[i], 200, 0).text : html`<span class="muted">—</span>`}</td></tr>`,
)}
</tbody></table>`;
}

/** A value's JSON, cut at a few KB with a link to all of it. */
function jsonBlock(ctx: PageContext, link: string, value: unknown): SafeHtml {
  const preview = previewJson(value, JOB_PAGE_JSON_LIMIT);
  return html`<pre class="json">${preview.text}</pre>${preview.cut ? html`<p class="cut">Cut at ${formatSize(JOB_PAGE_JSON_LIMIT)} of ${formatSize(preview.length)}: <a href="${ctx.root}${link}">the full JSON</a></p>` : null}`;
}

interface Moment {
  at: number;
  what: string;
  delivery: string | null;
  kind: string;
}

/**
 * Every step a job went through that the store keeps: its creation, each delivery's due time,
 * each attempt that did not succeed (the worker records them), the last attempt's start, and the end.
 */
function timeline(job: JobRecord, logs: LogLine[]): SafeHtml {
  const moments: Moment[] = [{ at: job.createdAt, what: `created, for ${job.routes.join(', ')}`, delivery: null, kind: 'created' }];
  for (const d of job.deliveries) {
    if (d.runAt > job.createdAt + 1) moments.push({ at: d.runAt, what: `due on ${d.route}`, delivery: d.id, kind: 'due' });
    if (d.startedAt !== null) moments.push({ at: d.startedAt, what: `attempt ${d.attempts} started on ${d.workerId ?? 'a worker'}`, delivery: d.id, kind: 'started' });
    if (d.finishedAt !== null) moments.push({ at: d.finishedAt, what: `${d.state}${d.error ? `: ${d.error.message}` : ''}`, delivery: d.id, kind: d.state });
  }
  for (const line of logs) if (line.stream === 'attempt') moments.push({ at: line.at, what: line.line, delivery: line.deliveryId, kind: 'attempt' });
  moments.sort((a, b) => a.at - b.at);
  return html`<ol class="timeline">${moments.map(
    (m) => html`<li class="moment moment-${m.kind}">${time(m.at, true)} <span>${previewText(m.what, TIMELINE_TEXT_LIMIT).text}</span>${m.delivery && job.deliveries.length > 1 ? html` <span class="muted mono">(${m.delivery})</span>` : null}</li>`,
  )}</ol>`;
}

/**
 * The newest log lines that fit {@link LOG_CHARS}, at most {@link MAX_LOG_LINES}, each cut at a few KB;
 * when anything is left out, a link to every line whole.
 */
function logTable(ctx: PageContext, link: string, logs: LogLine[]): SafeHtml {
  const lines = logs.filter((l) => l.stream !== 'attempt');
  if (lines.length === 0) return html`<p class="muted">no log lines</p>`;
  const shown: { line: LogLine; text: string }[] = [];
  let chars = 0;
  let cut = false;
  for (let i = lines.length - 1; i >= 0 && shown.length < MAX_LOG_LINES; i -= 1) {
    const preview = previewText(lines[i]!.line, JOB_PAGE_JSON_LIMIT);
    if (shown.length > 0 && chars + preview.text.length > LOG_CHARS) break;
    chars += preview.text.length;
    cut ||= preview.cut;
    shown.unshift({ line: lines[i]!, text: preview.text });
  }
  const whole = html`<a href="${ctx.root}${link}">every line, whole, as JSON</a>`;
  return html`${lines.length > shown.length ? html`<p class="cut">The last ${shown.length} of ${lines.length} lines: ${whole}.</p>` : null}
${cut ? html`<p class="cut">Lines over ${formatSize(JOB_PAGE_JSON_LIMIT)} are cut: ${whole}.</p>` : null}
<table class="logs"><tbody>${shown.map(({ line: l, text }) => html`<tr class="log-${l.stream}"><td>${time(l.at, true)}</td><td>${l.stream}</td><td class="mono">${text}</td></tr>`)}</tbody></table>`;
}
