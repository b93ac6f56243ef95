import { z } from 'zod';

/**
 * Queue, route and job names: letters, digits and `_ . : -`, 1 to 200 characters.
 *
 * @example
 * ```ts
 * NameSchema.parse('emails.send'); // 'emails.send'
 * NameSchema.safeParse('send email').success; // false: no spaces
 * ```
 */
export const NameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(/^[A-Za-z0-9_.:-]+$/, 'may hold only letters, digits and _ . : -');

/**
 * A non-empty list of route names without duplicates.
 *
 * @example
 * ```ts
 * RoutesSchema.parse(['images', 'thumbnails']);
 * RoutesSchema.safeParse(['images', 'images']).success; // false: routes must not repeat
 * ```
 */
export const RoutesSchema = z
  .array(NameSchema)
  .min(1, 'needs at least one route')
  .refine((routes) => new Set(routes).size === routes.length, 'routes must not repeat');

/**
 * The reserved job name of a conjunction (`a.and(b)`).
 *
 * @example
 * ```ts
 * const record = await queue.getRecord(jobId);
 * if (record?.name === CONJUNCTION_JOB) console.log((record.args[0] as JobCall[]).map((part) => part.name));
 * ```
 */
export const CONJUNCTION_JOB = 'skq.conjunction';
