import { z } from 'zod';

/** Where skunq's pools, backends and trigger runners report what they cannot hand to a caller. */
export interface Logger {
  warn(message: string): void;
  info(message: string): void;
}

/**
 * The default logger: the console's `warn` and `info`, prefixed with `[skunq]`.
 *
 * @example
 * ```ts
 * const pool = new WorkerPool({ queue: 'demo', routes: ['foo'], logger: consoleLogger });
 * ```
 */
export const consoleLogger: Logger = {
  warn: (message) => console.warn(`[skunq] ${message}`),
  info: (message) => console.info(`[skunq] ${message}`),
};

/**
 * A `logger` option: any object with `warn` and `info` methods (pino, winston and the console all fit).
 *
 * @example
 * ```ts
 * const pool = new WorkerPool({ queue: 'demo', routes: ['foo'], logger: pino() });
 * ```
 */
export const LoggerSchema = z.custom<Logger>(
  (v) => typeof (v as Logger | null)?.warn === 'function' && typeof (v as Logger | null)?.info === 'function',
  'must have warn() and info() methods',
);
