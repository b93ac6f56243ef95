import type { WorkerInfo } from '@skq/core';
import { html, type SafeHtml } from '../html.js';
import { actionForm, ago, layout, seg, time, type PageContext } from './layout.js';

/** A queue's live workers with what they run, and pause, resume and stop for each. */
export function workersPage(ctx: PageContext, queue: string, workers: WorkerInfo[], now: number): SafeHtml {
  const here = `queues/${seg(queue)}/workers`;
  const body = html`<p class="crumbs"><a href="${ctx.root}queues/${seg(queue)}">${queue}</a> › workers</p>
<h1>Workers of ${queue}</h1>
<table class="workers">
<thead><tr><th>worker</th><th>host</th><th>pid</th><th>routes</th><th>state</th><th>running jobs</th><th>heartbeat</th><th>started</th><th></th></tr></thead>
<tbody>
${workers.length === 0 ? html`<tr><td colspan="9" class="empty">No live workers. Start one with <code>skunq work -q ${queue} -r &lt;route&gt; -f &lt;module&gt;</code>.</td></tr>` : null}
${workers.map((w) => {
  const action = `${here}/${seg(w.id)}`;
  return html`<tr data-worker-id="${w.id}">
<td class="mono">${w.id}</td><td>${w.hostname}</td><td>${w.pid}</td><td>${w.routes.join(', ')}</td>
<td><span class="state worker-${w.state}">${w.state}</span>${w.command && w.command.obeyedAt === null ? html` <span class="muted">(${w.command.command} sent)</span>` : null}</td>
<td>${w.runningJobIds.length === 0 ? html`<span class="muted">none</span>` : w.runningJobIds.map((id) => html`<a class="mono" href="${ctx.root}queues/${seg(queue)}/jobs/${seg(id)}">${id}</a> `)}</td>
<td>${ago(w.lastSeenAt, now)} ago</td>
<td>${time(w.startedAt)}</td>
<td class="actions">
  ${w.state === 'paused' ? actionForm(ctx, `${action}/resume`, 'Resume', { back: here }) : actionForm(ctx, `${action}/pause`, 'Pause', { back: here })}
  ${actionForm(ctx, `${action}/stop`, 'Stop gently', { back: here, confirm: `Stop ${w.id} after its running jobs?` })}
  ${actionForm(ctx, `${action}/stop-rough`, 'Stop roughly', { back: here, danger: true, confirm: `Stop ${w.id} now? Its running jobs are cancelled and retried.` })}
</td>
</tr>`;
})}
</tbody>
</table>`;
  return layout(ctx, `workers of ${queue}`, body, { queues: [queue], refreshMs: 2_000 });
}
