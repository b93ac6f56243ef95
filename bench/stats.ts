// Figures shared by the benchmarks: medians, percentiles and number formatting.
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function fmt(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Samples by case, then by library. */
export type Samples = Record<string, Record<string, number[]>>;

/**
 * Prints the comparison table: each library's median (min–max) per case, and skunq's ratio to each peer as
 * "times better" (throughput skunq/other; for cases where lower is better, other/skunq). `partial` holds
 * `case|library` pairs whose step hit its time budget; they are marked †.
 */
export function printComparison(
  samples: Samples,
  names: string[],
  options: { lowerIsBetter(name: string): boolean; digits(name: string): number; partial?: ReadonlySet<string> },
): void {
  const peers = names.filter((n) => n !== 'skunq');
  console.log(`| case | ${names.map((n) => `${n} median (min–max)`).join(' | ')} | ${peers.map((p) => `skunq vs ${p}`).join(' | ')} |`);
  console.log(`|---|${names.map(() => '---:').join('|')}|${peers.map(() => '---:').join('|')}|`);
  for (const [name, byLib] of Object.entries(samples)) {
    const digits = options.digits(name);
    const med = (lib: string) => median(byLib[lib] ?? [NaN]);
    // A case only some libraries have (skunq's prefetch) shows — for the others.
    const has = (lib: string) => (byLib[lib]?.length ?? 0) > 0;
    const cells = names.map((lib) => {
      if (!has(lib)) return '—';
      const values = byLib[lib]!;
      const mark = options.partial?.has(`${name}|${lib}`) ? ' †' : '';
      return `${fmt(med(lib), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})${mark}`;
    });
    const ratios = peers.map((other) =>
      has('skunq') && has(other) ? `${(options.lowerIsBetter(name) ? med(other) / med('skunq') : med('skunq') / med(other)).toFixed(2)}x` : '—',
    );
    console.log(`| ${name} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  if (options.partial?.size) console.log('\n† the step hit its time budget (BENCH_STEP_BUDGET_MS) before all jobs were done; the figure is the rate of what it did.');
}
