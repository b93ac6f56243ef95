import { z } from 'zod';
import { SkqError } from '@skq/core';
import { NameSchema, parseConfig } from '@skq/core/backend';

/**
 * Options of {@link FdbBackend.connect}.
 *
 * @example
 * ```ts
 * const backend = await FdbBackend.connect({ clusterFile: '/etc/foundationdb/fdb.cluster', prefix: 'jobs' });
 * ```
 */
export const FdbOptionsSchema = z
  .object({
    /** The cluster file; default: `$FDB_CLUSTER_FILE`, else FDB's default location (`/etc/foundationdb/fdb.cluster`). */
    clusterFile: z.string().min(1).optional(),
    /** Every key starts with this tuple element, so several skunq stores can share a cluster. */
    prefix: NameSchema.default('skq'),
    /** The FDB API version to select; 720 (FoundationDB 7.2) or newer. */
    apiVersion: z.number().int().min(720).default(720),
  })
  .strict();

/** `{ clusterFile?, prefix?, apiVersion? }`, or an `fdb:` URL: `fdb:`, `fdb:/etc/foundationdb/fdb.cluster?prefix=jobs`. */
export type FdbOptions = z.input<typeof FdbOptionsSchema>;
export type ParsedFdbOptions = z.output<typeof FdbOptionsSchema>;

/**
 * Options from an `fdb:` URL: the path after the scheme is the cluster file (none: the default),
 * and `prefix` and `apiVersion` are query parameters.
 *
 * @example
 * ```ts
 * parseFdbUrl('fdb:/etc/foundationdb/fdb.cluster?prefix=jobs'); // { clusterFile: '/etc/foundationdb/fdb.cluster', prefix: 'jobs' }
 * ```
 */
export function parseFdbUrl(url: string): FdbOptions {
  const match = /^fdb:([^?]*)(?:\?(.*))?$/i.exec(url);
  if (!match) throw new SkqError('CONFIG_INVALID', `invalid FoundationDB URL "${url}": expected fdb: or fdb:/path/to/fdb.cluster`, { context: { field: 'url' } });
  const options: Record<string, unknown> = {};
  let path: string;
  try {
    path = decodeURIComponent(match[1]!.replace(/^\/\/(?=\/)/, ''));
  } catch (cause) {
    throw new SkqError('CONFIG_INVALID', `invalid FoundationDB URL "${url}": the path has a malformed %-escape (write % as %25)`, { cause, context: { field: 'url' } });
  }
  if (path) options.clusterFile = path;
  for (const [key, value] of new URLSearchParams(match[2] ?? '')) {
    if (key === 'prefix') options.prefix = value;
    else if (key === 'apiVersion') options.apiVersion = Number(value);
    else throw new SkqError('CONFIG_INVALID', `invalid FoundationDB URL "${url}": unknown parameter "${key}" (known: prefix, apiVersion)`, { context: { field: key } });
  }
  return options as FdbOptions;
}

/** Options or a URL, parsed once. */
export function resolveFdbOptions(input: FdbOptions | string): ParsedFdbOptions {
  return parseConfig(FdbOptionsSchema, typeof input === 'string' ? parseFdbUrl(input) : input, 'foundationdb options');
}
