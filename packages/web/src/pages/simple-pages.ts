import { html, type SafeHtml } from '../html.js';
import type { TriggerPositionView } from '../trigger-positions.js';
import { layout, time, type PageContext } from './layout.js';

/** The trigger runners and where each has got to, as the monitor's trigger-positions reader tells. */
export function triggersPage(ctx: PageContext, positions: TriggerPositionView[]): SafeHtml {
  const body = html`<h1>Trigger runners</h1>
<p>Each runner (<code>skunq triggers --name …</code>) stores the position of every change stream it follows; a restarted runner resumes there.</p>
<table><thead><tr><th>runner</th><th>collection</th><th>position stored</th></tr></thead><tbody>
${positions.length === 0 ? html`<tr><td colspan="3" class="empty">No trigger runner has stored a position yet.</td></tr>` : null}
${positions.map((p) => html`<tr><td class="mono">${p.runner}</td><td class="mono">${p.collection === '*' ? 'every collection' : p.collection}</td><td>${time(p.at)}</td></tr>`)}
</tbody></table>`;
  return layout(ctx, 'Trigger runners', body);
}

/** The sign-in form: the token is asked once, then a cookie stands for it. */
export function loginPage(root: string, problem: string | null): SafeHtml {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · skunq</title><link rel="stylesheet" href="${root}assets/monitor.css"></head>
<body class="login"><main>
<h1>skunq</h1>
<form method="post" action="${root}login">
<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button>Sign in</button>
${problem ? html`<p class="error-message" role="alert">${problem}</p>` : null}
<p class="muted">The token is printed when <code>skunq web</code> starts, or set with <code>--token</code> or <code>SKQ_WEB_TOKEN</code>.</p>
</form>
</main></body></html>`;
}

/** A failure, said plainly, with a way back. */
export function errorPage(ctx: PageContext, status: number, code: string, message: string): SafeHtml {
  return layout(ctx, `${status}`, html`<h1>${status === 404 ? 'Not found' : status === 403 ? 'Refused' : 'That did not work'}</h1>
<p class="error-message"><span class="badge">${code}</span> ${message}</p>
<p><a href="${ctx.root}">Back to the overview</a></p>`);
}

