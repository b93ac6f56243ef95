import { html, type SafeHtml } from '../html.js';

/** What every page needs to know about the request it answers. */
export interface PageContext {
  /** The relative path from this page to the monitor's root, such as `../../`; every link starts with it. */
  root: string;
  csrf: string;
  readOnly: boolean;
  /** Whether a sign-out button makes sense (the monitor has a token). */
  signedIn: boolean;
  queues: string[];
  /** A message from the action that led here. */
  notice: string | null;
}

/** Queues the header links to; past them, a link to the overview says how many more there are. */
const NAV_QUEUES = 20;

/** What a page's live stream follows. */
export interface LiveOptions {
  queues: string[];
  /** The overview's page whose queues the stream follows (instead of `queues`, which long names would make too long a URL). */
  overviewPage?: number;
  jobs?: string[];
  /** Read the page again on a `refresh` message or every `refreshMs` (workers page). */
  refreshMs?: number;
  /** Read the page again whenever a followed job changes state (job page). */
  reloadOnChange?: boolean;
}

/**
 * The page around every view. Assets and links are relative, so the monitor works under any path
 * and behind a proxy; the one script is a file (no inline script, for a strict CSP).
 */
export function layout(ctx: PageContext, title: string, body: SafeHtml, live?: LiveOptions): SafeHtml {
  const stream = !live
    ? null
    : live.overviewPage !== undefined
      ? `${ctx.root}events?overview=${live.overviewPage}`
      : `${ctx.root}events?${new URLSearchParams({ queues: live.queues.join(','), jobs: (live.jobs ?? []).join(',') })}`;
  const more = ctx.queues.length - NAV_QUEUES;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · skunq</title>
<link rel="stylesheet" href="${ctx.root}assets/monitor.css">
<link rel="icon" href="${ctx.root}assets/favicon.svg" type="image/svg+xml">
<script src="${ctx.root}assets/monitor.js" defer></script>
</head>
<body${stream ? html` data-events="${stream}"` : null}${live?.refreshMs ? html` data-refresh-ms="${live.refreshMs}"` : null}${live?.reloadOnChange ? html` data-reload-on-change="true"` : null}>
<header class="top">
  <a class="brand" href="${ctx.root}">skunq</a>
  <nav>${ctx.queues.slice(0, NAV_QUEUES).map((q) => html`<a href="${ctx.root}queues/${encodeURIComponent(q)}">${q}</a>`)}${more > 0 ? html`<a href="${ctx.root}">${more} more…</a>` : null}</nav>
  <span class="live-status" id="live-status" hidden>reconnecting…</span>
  ${ctx.readOnly ? html`<span class="badge read-only">read-only</span>` : null}
  ${ctx.signedIn ? html`<form method="post" action="${ctx.root}logout" class="inline"><input type="hidden" name="_csrf" value="${ctx.csrf}"><button class="link">sign out</button></form>` : null}
</header>
<main id="main">
${ctx.notice ? html`<p class="notice" role="status">${ctx.notice}</p>` : null}
${body}
</main>
</body>
</html>`;
}

/**
 * A POST form for one action: the CSRF token, where to return, an optional confirmation, and
 * nothing at all on a read-only monitor.
 */
export function actionForm(ctx: PageContext, action: string, label: string, options: { back: string; confirm?: string; fields?: SafeHtml; danger?: boolean; name?: string }): SafeHtml | null {
  if (ctx.readOnly) return null;
  return html`<form method="post" action="${ctx.root}${action}" class="action"${options.confirm ? html` data-confirm="${options.confirm}"` : null}>
<input type="hidden" name="_csrf" value="${ctx.csrf}"><input type="hidden" name="back" value="${options.back}">${options.fields ?? null}<button${options.danger ? html` class="danger"` : null}${options.name ? html` name="${options.name}"` : null}>${label}</button></form>`;
}

/** A link path segment. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

/** An instant as UTC text (to the ms when `precise`), with a machine-readable `datetime`. */
export function time(at: number | null | undefined, precise = false): SafeHtml {
  if (at === null || at === undefined) return html`<span class="muted">—</span>`;
  const iso = new Date(at).toISOString();
  return html`<time datetime="${iso}">${precise ? iso.replace('T', ' ') : iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`;
}

/** How long ago, for heartbeats: 850 ms, 4 s, 3 min. */
export function ago(at: number, now: number): string {
  const ms = Math.max(0, now - at);
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

/** A job or delivery state as a coloured badge. */
export function stateBadge(state: string): SafeHtml {
  return html`<span class="state state-${state}" data-field="state">${state}</span>`;
}
