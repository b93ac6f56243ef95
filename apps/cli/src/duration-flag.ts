import { UsageError } from './argv.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration flag in ms: a bare number of ms, or a number with a unit (1500ms, 30s, 15m, 12h, 7d).
 *
 * @example
 * ```ts
 * durationFlag('30s', '--connect-timeout'); // 30000
 * ```
 */
export function durationFlag(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value);
  if (!match) throw new UsageError(`${flag} takes ms or a duration such as 30s, 15m, 12h or 7d, got "${value}"`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 'ms']!);
}
