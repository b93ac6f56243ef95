import type { ScheduleDefinition } from './contract.js';

/**
 * What saving a schedule did: see {@link scheduleSaveOutcome}.
 *
 * @example
 * ```ts
 * const outcome: ScheduleSaveOutcome = await backend.saveSchedule('demo', definition);
 * if (outcome === 'updated') console.log(`schedule ${definition.id} changed: its ticks start again`);
 * ```
 */
export type ScheduleSaveOutcome = 'created' | 'updated' | 'unchanged';

/**
 * The text a backend stores with a schedule and compares on the next save: its rule and job as
 * JSON. Two saves of the same definition give the same text, so a process that starts again and
 * saves its schedules keeps their runtime state (next tick, counts, adaptive state).
 *
 * @example
 * ```ts
 * const definition = scheduleFingerprint(def); // '{"rule":{…},"job":{…}}'
 * ```
 */
export function scheduleFingerprint(def: Pick<ScheduleDefinition, 'rule' | 'job'>): string {
  return JSON.stringify({ rule: def.rule, job: def.job });
}

/**
 * What saving a schedule whose fingerprint is `fingerprint` does, given the fingerprint stored
 * under its id (`null` or `undefined` when there is none): `created` when there is no stored
 * schedule, `unchanged` when the stored one has the same fingerprint (its runtime state is kept),
 * else `updated` (the definition is replaced and its runtime state starts again). A store whose
 * decision runs inside a script (Redis's Lua) applies the same rule there.
 *
 * @example
 * ```ts
 * const outcome = scheduleSaveOutcome(existing?.definition, scheduleFingerprint(def));
 * if (outcome === 'created') insert(def);
 * else if (outcome === 'updated') redefine(def);
 * ```
 */
export function scheduleSaveOutcome(stored: string | null | undefined, fingerprint: string): ScheduleSaveOutcome {
  if (stored === null || stored === undefined) return 'created';
  return stored === fingerprint ? 'unchanged' : 'updated';
}
