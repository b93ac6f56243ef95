import { parseArgs } from 'node:util';
import { z } from 'zod';
import { SkqError } from '@skq/core';
import { parseConfig } from '@skq/core/backend';
import { CHAOS_BACKENDS, type ChaosBackend } from './backend-under-test.js';

const count = (min: number) => z.coerce.number().int().min(min);

/** The options of `pnpm chaos`, flags and defaults in one place. */
export const ChaosOptionsSchema = z
  .object({
    backend: z.enum(CHAOS_BACKENDS),
    /** Worker kills (SIGKILL, SIGTERM or SIGINT) before the run ends. */
    kills: count(1).default(100),
    killEveryMs: count(100).default(2_000),
    /** `skunq work` processes on the direct queue, and on the broadcast queue. */
    workers: count(1).default(4),
    fanoutWorkers: count(1).default(2),
    concurrency: count(1).default(4),
    leaseMs: count(200).default(2_000),
    registrationTtlMs: count(200).default(3_000),
    /** Jobs fired per second; default 30, and 10 on MongoDB (see {@link DEFAULT_RATE}). */
    rate: count(1).optional(),
    seed: count(0).default(1),
    /** A server restart (SQLite: a writer killed mid-transaction) after every this many kills; 0: none. */
    restartEvery: count(0).default(25),
    serverPauseEvery: count(0).default(25),
    workerPauseEvery: count(0).default(10),
    /** How long a pause lasts; default 1.5 leases. */
    pauseMs: count(1).optional(),
    /** Where the ledger and the report go; default .chaos/<backend>-<time>. */
    out: z.string().min(1).optional(),
  })
  .strict();

/**
 * Jobs fired per second when `--rate` is not given. MongoDB's run is on mongo-java-server, which reads
 * a whole collection for every query (it keeps no index but `_id`'s): at 30 a second its workers fall
 * behind the producer, each query slows as the backlog grows, and the run cannot drain.
 */
export const DEFAULT_RATE: Record<ChaosBackend, number> = { sqlite: 30, redis: 30, 'redis-cluster': 30, postgres: 30, mongodb: 10, foundationdb: 30 };

export type ChaosOptions = Omit<z.output<typeof ChaosOptionsSchema>, 'rate'> & { rate: number };

/** Each option's flag: its name in kebab case (`killEveryMs` → `--kill-every-ms`). */
const FLAGS = Object.fromEntries(Object.keys(ChaosOptionsSchema.shape).map((key) => [key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), key]));

export const CHAOS_USAGE = `pnpm chaos --backend ${CHAOS_BACKENDS.join('|')} [--${Object.keys(FLAGS).filter((f) => f !== 'backend').join(' n] [--')} n]`;

/** Flags to options; fails with `CONFIG_INVALID` naming the flag. */
export function parseChaosArgs(argv: string[]): ChaosOptions {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' as const }])), strict: true }));
  } catch (cause) {
    throw new SkqError('CONFIG_INVALID', `invalid pnpm chaos flags: ${(cause as Error).message}`, { cause });
  }
  const input: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(FLAGS)) if (values[flag] !== undefined) input[key] = values[flag];
  const options = parseConfig(ChaosOptionsSchema, input, 'pnpm chaos');
  return { ...options, rate: options.rate ?? DEFAULT_RATE[options.backend] };
}
