import type { GroupInfo, GroupLimits, GroupPage } from '@skq/core';
import { html, type SafeHtml } from '../html.js';
import { layout, seg, time, type PageContext } from './layout.js';

/** How many groups the queue page shows before linking to the groups page. */
export const QUEUE_PAGE_GROUPS = 10;

/** A queue's groups a page at a time: queued and running jobs, own limits, and holds. */
export function groupsPage(ctx: PageContext, queue: string, page: GroupPage, cursor: string | null, defaults: GroupLimits | null): SafeHtml {
  const base = `queues/${seg(queue)}/groups`;
  const body = html`<p class="crumbs"><a href="${ctx.root}queues/${seg(queue)}">${queue}</a> › groups</p>
<h1>Groups of ${queue}</h1>
<p>Every group without limits of its own: ${describeLimits(defaults)}.</p>
${groupsTable(page.groups)}
<nav class="pager">
  ${cursor ? html`<a href="${ctx.root}${base}">« first</a>` : null}
  ${page.cursor ? html`<a rel="next" href="${ctx.root}${base}?cursor=${encodeURIComponent(page.cursor)}">next »</a>` : null}
</nav>`;
  return layout(ctx, `groups of ${queue}`, body, { queues: [queue], refreshMs: 2_000 });
}

/** The queue page's section: its first groups, and a link to them all. */
export function groupsSection(ctx: PageContext, queue: string, page: GroupPage): SafeHtml | null {
  if (page.groups.length === 0) return null;
  return html`<section class="groups">
  <h2>Groups</h2>
  ${groupsTable(page.groups)}
  ${page.cursor ? html`<p><a href="${ctx.root}queues/${seg(queue)}/groups">all groups »</a></p>` : null}
</section>`;
}

function groupsTable(groups: GroupInfo[]): SafeHtml {
  return html`<table class="groups">
<thead><tr><th>group</th><th>queued</th><th>running</th><th>own limits</th><th>held until</th></tr></thead>
<tbody>
${groups.length === 0 ? html`<tr><td colspan="5" class="empty">No groups: no job fired with a group waits or runs, and no group has limits.</td></tr>` : null}
${groups.map(
  (g) => html`<tr data-group="${g.group}">
<td class="mono">${g.group}</td><td data-field="queued">${g.queued}</td><td data-field="running">${g.running}</td>
<td data-field="limits">${g.limits ? describeLimits(g.limits) : html`<span class="muted">default</span>`}</td>
<td data-field="held">${g.limitedUntil === null ? '' : time(g.limitedUntil)}</td>
</tr>`,
)}
</tbody>
</table>`;
}

/** Limits in words: "2 at once, 100 per 60 s". */
export function describeLimits(limits: GroupLimits | null): string {
  if (!limits) return 'no limits';
  const parts: string[] = [];
  if (limits.concurrency !== undefined) parts.push(`${limits.concurrency} at once`);
  if (limits.rate) parts.push(`${limits.rate.max} per ${limits.rate.perMs % 1_000 === 0 ? `${limits.rate.perMs / 1_000} s` : `${limits.rate.perMs} ms`}`);
  return parts.join(', ');
}
