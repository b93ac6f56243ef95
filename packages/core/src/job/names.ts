import { z } from 'zod';

/** Queue, route and job names: letters, digits and `_ . : -`, 1 to 200 characters. */
export const NameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(/^[A-Za-z0-9_.:-]+$/, 'may hold only letters, digits and _ . : -');

/** A non-empty list of route names without duplicates. */
export const RoutesSchema = z
  .array(NameSchema)
  .min(1, 'needs at least one route')
  .refine((routes) => new Set(routes).size === routes.length, 'routes must not repeat');

/** The reserved job name of a conjunction (`a.and(b)`). */
export const CONJUNCTION_JOB = 'skq.conjunction';
