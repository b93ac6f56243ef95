// skunq monitor: confirmations, live updates from the server-sent events, and page refreshes.
// A plain file with no dependencies, loaded under a CSP that allows no inline script.
'use strict';

(function () {
  const body = document.body;

  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  let reloading = null;
  /** Reads this page again and swaps its main part, keeping scroll and the stream. */
  function reloadMain() {
    if (reloading) return reloading;
    reloading = fetch(window.location.href, { headers: { accept: 'text/html' }, credentials: 'same-origin' })
      .then((res) => (res.ok ? res.text() : null))
      .then((text) => {
        if (text === null) return;
        const fresh = new DOMParser().parseFromString(text, 'text/html').getElementById('main');
        const main = document.getElementById('main');
        if (fresh && main) main.replaceChildren(...Array.from(fresh.childNodes).map((n) => document.importNode(n, true)));
      })
      .catch(() => {})
      .finally(() => {
        reloading = null;
      });
    return reloading;
  }

  const refreshMs = Number(body.dataset.refreshMs || 0);
  if (refreshMs > 0) setInterval(reloadMain, refreshMs);

  const source = body.dataset.events;
  if (!source || typeof EventSource === 'undefined') return;
  const status = document.getElementById('live-status');
  const stream = new EventSource(source);
  stream.addEventListener('open', () => status && (status.hidden = true));
  stream.addEventListener('error', () => status && (status.hidden = false));

  stream.addEventListener('jobs', (event) => {
    let stateChanged = false;
    for (const job of JSON.parse(event.data)) {
      for (const holder of document.querySelectorAll(`[data-job-id="${CSS.escape(job.id)}"]`)) {
        const badge = holder.querySelector('[data-field="state"]');
        if (badge && badge.textContent !== job.state) {
          stateChanged = true;
          badge.textContent = job.state;
          badge.className = `state state-${job.state}`;
        }
        const attempts = holder.querySelector('[data-field="attempts"]');
        if (attempts) attempts.textContent = String(job.attempts);
        const progress = holder.querySelector('[data-field="progress"]');
        if (progress && holder.tagName === 'TR') progress.textContent = job.progress === null ? '' : job.progress.slice(0, 40);
      }
      if (body.dataset.reloadOnChange) {
        const progress = document.querySelector('main > [data-field="progress"]');
        if (progress && job.progress !== null) {
          const pre = document.createElement('pre');
          pre.className = 'json';
          pre.textContent = indented(job.progress);
          progress.replaceChildren(pre);
        }
      }
    }
    if (stateChanged && body.dataset.reloadOnChange) reloadMain();
  });

  /** Progress arrives as JSON text, cut at 4 KB when longer: shown indented when it is whole. */
  function indented(text) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  }

  stream.addEventListener('counts', (event) => {
    const { queue, counts } = JSON.parse(event.data);
    const totals = {};
    for (const [route, byState] of Object.entries(counts)) {
      for (const [state, n] of Object.entries(byState)) {
        totals[state] = (totals[state] || 0) + n;
        for (const cell of document.querySelectorAll(`[data-count="${CSS.escape(`${queue}|${route}|${state}`)}"]`)) cell.textContent = String(n);
      }
    }
    for (const [state, n] of Object.entries(totals)) {
      for (const cell of document.querySelectorAll(`[data-count="${CSS.escape(`${queue}||${state}`)}"]`)) cell.textContent = String(n);
    }
  });

  let added = 0;
  stream.addEventListener('added', (event) => {
    const banner = document.getElementById('added');
    if (!banner) return;
    added += JSON.parse(event.data).count;
    const count = banner.querySelector('[data-added]');
    if (count) count.textContent = String(added);
    banner.hidden = false;
  });

  stream.addEventListener('refresh', () => {
    if (body.dataset.refreshMs || body.dataset.reloadOnChange) reloadMain();
  });
})();
