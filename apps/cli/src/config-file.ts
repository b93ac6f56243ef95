import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { SkqError } from '@skq/core';
import { describeIssues } from '@skq/core/backend';
import { importModule } from './module-loader.js';

/** The shape of `skunq.config.{ts,mjs,js}`. */
export const SkunqConfigSchema = z
  .object({
    /** Backend URL used by the CLI's commands. */
    backend: z.string().min(1).optional(),
    /** Job modules every `skunq work` loads, relative to the config file's folder. */
    jobs: z.array(z.string().min(1)).default([]),
    /** Default queue for commands run without `-q`. */
    queue: z.string().min(1).optional(),
    /** Default routes for `skunq work` without `-r`. */
    routes: z.array(z.string().min(1)).optional(),
    /** Default concurrency per route. */
    concurrency: z.number().int().min(1).optional(),
  })
  .strict();

/** `skunq.config.ts` contents. */
export type SkunqConfig = z.input<typeof SkunqConfigSchema>;

/**
 * Types a `skunq.config.ts` file.
 *
 * @example
 * ```ts
 * // skunq.config.ts
 * export default defineConfig({ backend: 'sqlite:.skunq/skunq.db', jobs: ['./jobs.ts'] });
 * ```
 */
export function defineConfig(config: SkunqConfig): SkunqConfig {
  return config;
}

const CONFIG_NAMES = ['skunq.config.ts', 'skunq.config.mjs', 'skunq.config.js'];

/** Loads the config file of `dir` when there is one, with `jobs` made absolute. */
export async function loadConfig(dir: string): Promise<z.output<typeof SkunqConfigSchema> & { file: string | null }> {
  const file = CONFIG_NAMES.map((name) => resolve(dir, name)).find((path) => existsSync(path));
  if (!file) return { jobs: [], file: null };
  const mod = (await importModule(file)) as { default?: unknown };
  const parsed = SkunqConfigSchema.safeParse(mod.default ?? {});
  if (!parsed.success) {
    throw new SkqError('CONFIG_INVALID', `invalid ${file}: ${describeIssues(parsed.error.issues)}`, { context: { field: String(parsed.error.issues[0]?.path[0] ?? '') } });
  }
  return { ...parsed.data, jobs: parsed.data.jobs.map((job) => resolve(dir, job)), file };
}
