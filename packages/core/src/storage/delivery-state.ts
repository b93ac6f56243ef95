import type { JobState } from './contract.js';

/**
 * The state a delivery is shown in: a queued delivery whose run time is still ahead is `scheduled`.
 * Stores keep it `queued` (so a due delivery needs no write to become claimable); every backend
 * reports it through this rule when it reads a delivery back.
 *
 * @example
 * ```ts
 * deliveryState('queued', Date.now() + 60_000, Date.now()); // 'scheduled'
 * deliveryState('queued', Date.now() - 1, Date.now()); // 'queued'
 * ```
 */
export function deliveryState(stored: string, runAt: number, now: number): JobState {
  return (stored === 'queued' && runAt > now ? 'scheduled' : stored) as JobState;
}
