import type { ThroughputBucket } from '@skq/core/backend';
import { html, type SafeHtml } from './html.js';

/** One bar of a chart: the jobs that ended in one slot of time. */
interface Slot {
  start: number;
  completed: number;
  failed: number;
}

/**
 * Sums minute buckets (every route) into `slots` slots of `slotMs`, the last one holding `now`.
 * The hour chart has 60 one-minute slots; the day chart 24 one-hour slots.
 */
export function slotsOf(buckets: ThroughputBucket[], now: number, slots: number, slotMs: number): Slot[] {
  const lastStart = now - (now % slotMs);
  const firstStart = lastStart - (slots - 1) * slotMs;
  const out: Slot[] = Array.from({ length: slots }, (_, i) => ({ start: firstStart + i * slotMs, completed: 0, failed: 0 }));
  for (const b of buckets) {
    const i = Math.floor((b.minute - firstStart) / slotMs);
    if (i < 0 || i >= slots) continue;
    out[i]!.completed += b.completed;
    out[i]!.failed += b.failed;
  }
  return out;
}

/**
 * A stacked bar chart as inline SVG (completed below, failed above), drawn on the server: no
 * script, no inline style, so it passes a strict CSP. Each bar has a title with its numbers.
 */
export function throughputChart(title: string, slots: Slot[], label: (start: number) => string): SafeHtml {
  const width = 600;
  const height = 120;
  const max = Math.max(1, ...slots.map((s) => s.completed + s.failed));
  const barWidth = width / slots.length;
  const total = slots.reduce((n, s) => ({ completed: n.completed + s.completed, failed: n.failed + s.failed }), { completed: 0, failed: 0 });
  const bars = slots.map((s, i) => {
    const x = (i * barWidth).toFixed(1);
    const w = Math.max(1, barWidth - 1).toFixed(1);
    const hc = (s.completed / max) * height;
    const hf = (s.failed / max) * height;
    return html`<g><title>${label(s.start)}: ${s.completed} completed, ${s.failed} failed</title><rect class="bar-completed" x="${x}" y="${(height - hc).toFixed(1)}" width="${w}" height="${hc.toFixed(1)}"></rect><rect class="bar-failed" x="${x}" y="${(height - hc - hf).toFixed(1)}" width="${w}" height="${hf.toFixed(1)}"></rect></g>`;
  });
  return html`<figure class="chart">
  <figcaption>${title}: <span class="ok">${total.completed} completed</span>, <span class="bad">${total.failed} failed</span>${total.completed + total.failed > 0 ? ` (at most ${max} in one bar)` : ''}</figcaption>
  <svg viewBox="0 0 ${width} ${height}" width="100%" height="${height}" preserveAspectRatio="none" role="img" aria-label="${title}">${bars}</svg>
  <div class="chart-axis"><span>${label(slots[0]!.start)}</span><span>${label(slots[slots.length - 1]!.start)}</span></div>
</figure>`;
}
