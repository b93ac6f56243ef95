import { z } from 'zod';
import { parseConfig, safeParseInput } from '../config.js';
import { SkqError, describeIssues, describeValue } from '../errors.js';
import { NameSchema } from '../job/names.js';
import { isStorageBackend } from '../storage/is-storage-backend.js';
import type { StorageBackend } from '../storage/storage-backend.js';
import { RetentionSchema } from '../storage/retention.js';

/**
 * Options of {@link SkunkQueue}.
 *
 * @example
 * ```ts
 * QueueOptionsSchema.parse({ backend: 'sqlite:jobs.db' }); // { backend: 'sqlite:jobs.db', type: 'direct' }
 * QueueOptionsSchema.safeParse({ type: 'fanout' }).success; // false: 'direct' or 'broadcast'
 * ```
 */
export const QueueOptionsSchema = z
  .object({
    /** A backend URL (`sqlite:path`, `redis://…`, `mongodb://…`) or a backend object. Default: `$SKQ_BACKEND`, else `sqlite:.skunq/skunq.db`. */
    backend: z.union([z.string().min(1), z.custom<StorageBackend>(isStorageBackend, 'must be a URL or a storage backend')]).optional(),
    /** `direct` (default): one worker per route takes each job. `broadcast`: every listening worker gets it. */
    type: z.enum(['direct', 'broadcast']).default('direct'),
    /** What to keep of succeeded jobs: `true` (none), `N` (the newest N) or `{ count?, ageMs? }`. Default: all. A fire option overrides it. */
    removeOnComplete: RetentionSchema.optional(),
    /** What to keep of failed and cancelled jobs, likewise. */
    removeOnFail: RetentionSchema.optional(),
  })
  .strict();

/**
 * `{ backend?, type?, removeOnComplete?, removeOnFail? }` for `new SkunkQueue(name, options)`.
 *
 * @example
 * ```ts
 * const options: QueueOptions = { backend: 'redis://localhost:6379', type: 'broadcast', removeOnComplete: 1_000 };
 * const alerts = new SkunkQueue('alerts', options);
 * ```
 */
export type QueueOptions = z.input<typeof QueueOptionsSchema>;

/**
 * Parses a queue's name and options once, throwing `CONFIG_INVALID` naming the field.
 *
 * @example
 * ```ts
 * parseQueueOptions('demo', { removeOnFail: 100 }); // { name: 'demo', options: { type: 'direct', removeOnFail: 100 } }
 * parseQueueOptions('my queue', {}); // throws CONFIG_INVALID, context.field 'name'
 * ```
 */
export function parseQueueOptions(name: unknown, options: unknown): { name: string; options: z.output<typeof QueueOptionsSchema> } {
  const parsedName = safeParseInput(NameSchema, name);
  if (!parsedName.success) {
    throw new SkqError('CONFIG_INVALID', `invalid queue name ${describeValue(name)}: ${describeIssues(parsedName.error.issues)}`, {
      context: { field: 'name' },
    });
  }
  const parsed = parseConfig(QueueOptionsSchema, options ?? {}, `options for queue "${parsedName.data}"`, 'options');
  return { name: parsedName.data, options: parsed };
}
