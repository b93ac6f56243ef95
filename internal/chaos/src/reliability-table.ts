// `pnpm chaos:table <report.json>...`: the README's Reliability tables, from the reports of chaos runs.
import { readFileSync } from 'node:fs';
import type { ChaosResult } from './chaos-run.js';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: pnpm chaos:table .chaos/<run>/report.json ...');
  process.exit(2);
}
const int = (n: number) => n.toLocaleString('en');
for (const file of files) {
  const r = JSON.parse(readFileSync(file, 'utf8')) as ChaosResult;
  const f = r.report.figures;
  const { faults } = r;
  const why = Object.entries(f.duplicatesByReason)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${int(n)} ${reason}`)
    .join('; ');
  const recovery = f.recoveryMs.length ? `${int(f.recoveryMs[Math.floor(f.recoveryMs.length / 2)]!)} / ${int(f.recoveryMs.at(-1)!)} ms (${f.recoveryMs.length} runs taken back)` : 'no run was held';
  console.log(`#### ${r.backend}: ${r.description}\n`);
  console.log('| measure | value |\n|---|---|');
  const rows: [string, string][] = [
    ['run', `${Math.round(r.durationMs / 1000)} s, seed ${r.options.seed}, lease ${int(r.options.leaseMs)} ms, ${r.options.workers} + ${r.options.fanoutWorkers} worker processes, ${r.options.rate} jobs fired a second`],
    ['jobs acknowledged (handler runs)', `${int(f.acked)} (${int(f.runs)}), ${int(f.ticksFired)} schedule ticks`],
    ['kills', `${faults.kills} SIGKILL, ${faults.terms} SIGTERM, ${faults.ints} SIGINT`],
    ['restarts', r.backend === 'sqlite' ? `${faults.restarts} writers killed mid-transaction` : String(faults.restarts)],
    ['pauses (SIGSTOP past the lease)', `${faults.serverPauses} of the server, ${faults.workerPauses} of a worker`],
    ['**lost**', `**${f.lost}**`],
    ['**stuck**', `**${f.stuck}** (running past its lease: ${f.runningPastLease})`],
    ['duplicate runs', `${int(f.duplicates)}${why ? `: ${why}` : ''}`],
    ['recovery after a kill, p50 / max', recovery],
    ['failed deliveries', Object.entries(f.failedByCode).map(([code, n]) => `${int(n)} ${code}`).join(', ') || 'none'],
    // The checks of groups, on a backend that keeps them: most running per group, most starts per window, starvation.
    ...r.report.rows.filter((row) => row.check.startsWith('groups: ')).map((row): [string, string] => [row.check, row.value]),
    ['violations', String(r.report.violations.length)],
  ];
  for (const [measure, value] of rows) console.log(`| ${measure} | ${value} |`);
  console.log('');
}
