import type { ScheduleRecord, ScheduleRule } from '@skq/core';
import { html, type SafeHtml } from '../html.js';
import { actionForm, layout, seg, time, type PageContext } from './layout.js';

/** A queue's schedules: kind, next tick, fired count, last run, and pause, resume and remove. */
export function schedulesPage(ctx: PageContext, queue: string, schedules: ScheduleRecord[]): SafeHtml {
  const here = `queues/${seg(queue)}/schedules`;
  const body = html`<p class="crumbs"><a href="${ctx.root}queues/${seg(queue)}">${queue}</a> › schedules</p>
<h1>Schedules of ${queue}</h1>
<table class="schedules">
<thead><tr><th>schedule</th><th>kind</th><th>job</th><th>next tick</th><th>fired</th><th>last run</th><th></th></tr></thead>
<tbody>
${schedules.length === 0 ? html`<tr><td colspan="7" class="empty">No schedules.</td></tr>` : null}
${schedules.map((s) => {
  const action = `${here}/${seg(s.id)}`;
  return html`<tr data-schedule-id="${s.id}">
<td class="mono">${s.id}${s.paused ? html` <span class="badge paused">paused</span>` : null}</td>
<td>${describeRule(s.rule)}</td>
<td>${s.job.name} → ${s.job.routes.join(', ')}</td>
<td>${s.nextRunAt === null ? html`<span class="muted">after job ${s.waitingJobId ?? '?'} ends</span>` : time(s.nextRunAt)}</td>
<td>${s.firedCount}</td>
<td>${time(s.lastFiredAt)}${s.lastJobId ? html` <a class="mono" href="${ctx.root}queues/${seg(queue)}/jobs/${seg(s.lastJobId)}">${s.lastJobId}</a>` : null}</td>
<td class="actions">
  ${s.paused ? actionForm(ctx, `${action}/resume`, 'Resume', { back: here }) : actionForm(ctx, `${action}/pause`, 'Pause', { back: here })}
  ${actionForm(ctx, `${action}/remove`, 'Remove', { back: here, danger: true, confirm: `Remove schedule ${s.id}?` })}
</td>
</tr>`;
})}
</tbody>
</table>`;
  return layout(ctx, `schedules of ${queue}`, body);
}

const POLICY_NAMES: Record<string, string> = { aimd: 'AIMD', rto: 'RTO', 'slow-start': 'slow start' };

/** A rule as people read it: every 5 s, cron "0 * * * *" (UTC), after 10 s, AIMD. */
export function describeRule(rule: ScheduleRule): string {
  switch (rule.kind) {
    case 'every':
      return `every ${duration(rule.everyMs)}`;
    case 'cron':
      return `cron "${rule.expression}"${rule.timezone ? ` (${rule.timezone})` : ''}`;
    case 'after':
      return `${duration(rule.delayMs)} after each run ends`;
    case 'adaptive':
      return `${POLICY_NAMES[rule.policy] ?? rule.policy} (adaptive)`;
  }
}

function duration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}
