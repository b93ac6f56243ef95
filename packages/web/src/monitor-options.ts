import { z } from 'zod';
import { NameSchema, isStorageBackend, type StorageBackend } from '@skq/core/backend';
import type { TriggerPositionsProvider } from './trigger-positions.js';

/**
 * Options of {@link createMonitor}.
 *
 * @example
 * ```ts
 * const options = MonitorOptionsSchema.parse({ token: process.env.SKQ_WEB_TOKEN, backend: 'redis://127.0.0.1:6379', readOnly: true });
 * ```
 */
export const MonitorOptionsSchema = z
  .object({
    /** A backend URL (`sqlite:…`, `redis://…`, `mongodb://…`) or an open backend. Default: `$SKQ_BACKEND`, else `sqlite:.skunq/skunq.db`. */
    backend: z.union([z.string().min(1), z.custom<StorageBackend>(isStorageBackend, 'must be a URL or a storage backend')]).optional(),
    /** The queues to show. Default: every queue the store holds, looked up again every minute. */
    queues: z.array(NameSchema).min(1).optional(),
    /**
     * The secret a browser gives once to sign in (it then keeps an HttpOnly, SameSite=Strict cookie).
     * `false` leaves authentication to the server the handler is mounted in; actions are still CSRF-checked.
     */
    token: z.union([z.string().min(16, 'must be at least 16 characters').max(512), z.literal(false)]),
    /** Shows everything and refuses every action. */
    readOnly: z.boolean().default(false),
    /**
     * The path the handler is mounted at on this server, such as `/admin/queues`, stripped from request URLs
     * that still carry it (node:http, Fastify). Express strips it itself. Pages use relative URLs only, so a
     * proxy may serve them under any further prefix.
     */
    basePath: z
      .string()
      .regex(/^\/[A-Za-z0-9._~\-/]*$/, 'must be a path starting with /')
      .transform((p) => p.replace(/\/+$/, ''))
      .optional(),
    /**
     * Reads the trigger runners' stored positions for the Trigger runners page, given the backend URL
     * (MongoDB: `(url) => TriggerRunner.positions(url)` from `@skq/mongodb`). Without it, or with an open
     * backend instead of a URL, the page is not offered.
     */
    triggerPositions: z.custom<TriggerPositionsProvider>((value) => typeof value === 'function', 'must be a function (url) => Promise<positions>').optional(),
  })
  .strict();

/** `{ token, backend?, queues?, readOnly?, basePath?, triggerPositions? }` for {@link createMonitor}. */
export type MonitorOptions = z.input<typeof MonitorOptionsSchema>;
export type ParsedMonitorOptions = z.output<typeof MonitorOptionsSchema>;
