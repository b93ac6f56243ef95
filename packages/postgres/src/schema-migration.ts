import type pg from 'pg';
import { SkqError } from '@skq/core';
import { mapPostgresError } from './postgres-errors.js';
import { SCHEMA_V1_SQL, SCHEMA_V2_SQL, SCHEMA_V3_SQL, SCHEMA_V4_SQL, SCHEMA_V5_SQL, SCHEMA_V6_SQL, SCHEMA_VERSION } from './schema.js';
import { quoteIdentifier } from './sql-text.js';

/** Each version's SQL, run in order on a schema older than {@link SCHEMA_VERSION}. */
const MIGRATIONS: Record<number, string> = { 1: SCHEMA_V1_SQL, 2: SCHEMA_V2_SQL, 3: SCHEMA_V3_SQL, 4: SCHEMA_V4_SQL, 5: SCHEMA_V5_SQL, 6: SCHEMA_V6_SQL };

/**
 * Creates or migrates skunq's schema, once, in one transaction under an advisory lock on its name:
 * of processes starting at once, the first makes it and the others wait, then find it current.
 * Reads: the schema's `meta.schema_version`. Writes: the schema, the tables of every version it
 * lacks, and the version. A schema of a newer skunq is refused (`INVALID_STATE`), untouched.
 *
 * @example
 * ```ts
 * await prepareSchema(pool, 'skunq');
 * ```
 */
export async function prepareSchema(pool: pg.Pool, schema: string): Promise<void> {
  const s = quoteIdentifier(schema);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw mapPostgresError(err, 'connect');
  }
  // A connection lost between statements is an 'error' event: the next statement fails instead.
  const lost = () => undefined;
  client.on('error', lost);
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`skunq schema ${schema}`]);
    // CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists: asked only if it does not.
    if ((await client.query<{ found: string | null }>('SELECT to_regnamespace($1)::text AS found', [s])).rows[0]!.found === null) await client.query(`CREATE SCHEMA ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.meta (key text PRIMARY KEY, value text NOT NULL)`);
    const stored = (await client.query<{ value: string }>(`SELECT value FROM ${s}.meta WHERE key = 'schema_version'`)).rows[0];
    const version = stored ? Number(stored.value) : 0;
    if (version > SCHEMA_VERSION) {
      throw new SkqError('INVALID_STATE', `postgres schema "${schema}" has skunq schema version ${version}, made by a newer skunq; this one knows up to version ${SCHEMA_VERSION}`, {
        context: { field: 'schema' },
      });
    }
    for (let next = version + 1; next <= SCHEMA_VERSION; next += 1) await client.query(MIGRATIONS[next]!.replaceAll('{s}', s));
    if (version < SCHEMA_VERSION) {
      await client.query(`INSERT INTO ${s}.meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [String(SCHEMA_VERSION)]);
    }
    await client.query('COMMIT');
    client.off('error', lost);
    client.release();
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.off('error', lost);
    client.release(true);
    throw mapPostgresError(err, 'prepare schema');
  }
}
