// Property tests, on a fixed seed, of the text a user hands skunq across its packages: backend URLs
// and options of every backend, cron expressions and time zones, and the CLI's flags. Every input ends
// in a value or a typed SkqError, within a bound; nothing else escapes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SkqError } from '@skq/core';
import { backendScheme, nextCron, redactUrl } from '@skq/core/backend';
import { runCli } from '@skq/cli';
import { FdbBackend, parseFdbUrl } from '@skq/foundationdb';
import { MongoBackend, parseMongoUrl } from '@skq/mongodb';
import { RedisBackend, parseRedisUrl } from '@skq/redis';
import { SqliteBackend, parseSqliteUrl } from '@skq/sqlite';

const SEED = 20_261_126;

/** Ends in a value or a typed SkqError with `code`; anything else fails the property. */
async function valueOrSkqError(call: () => unknown, codes: string[] = ['CONFIG_INVALID']): Promise<unknown> {
  try {
    return await call();
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(SkqError);
    expect(codes).toContain((err as SkqError).code);
    return err;
  }
}

const urlish = (schemes: string[]) =>
  fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.tuple(
      fc.constantFrom(...schemes),
      fc.constantFrom('', 'user:pa%ss@', ':@', '%zz@', 'u@'),
      fc.constantFrom('127.0.0.1', '[::1]', 'localhost', '', '127.0.0.1:99999', '127.0.0.1:-1', '127.0.0.1:abc', '%00', 'h o s t'),
      fc.constantFrom('', '/', '/0', '/db', '/../../etc', '//x', '/%zz'),
      fc.array(fc.tuple(fc.constantFrom('cluster', 'nodes', 'keyPrefix', 'prefix', 'apiVersion', 'busyTimeoutMs', 'skqWakeups', 'collectionPrefix', 'connectTimeoutMs', 'x', ''), fc.string({ maxLength: 12 })), { maxLength: 3 }),
    ).map(([scheme, auth, host, path, query]) => `${scheme}${auth}${host}${path}${query.length ? `?${query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}` : ''}`),
  );

describe('backend URLs and options, fuzzed', () => {
  // A fuzzed SQLite path that is valid opens a file relative to the working directory: keep it in a temp dir.
  const cwd = process.cwd();
  const scratch = mkdtempSync(join(tmpdir(), 'skq-url-fuzz-'));
  beforeAll(() => process.chdir(scratch));
  afterAll(() => {
    process.chdir(cwd);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('parses or refuses any URL of each backend with CONFIG_INVALID', async () => {
    await fc.assert(
      fc.asyncProperty(urlish(['redis://', 'rediss://', 'mongodb://', 'mongodb+srv://', 'sqlite:', 'fdb:', 'http://', '']), async (url) => {
        for (const parse of [parseRedisUrl, parseMongoUrl, parseSqliteUrl, parseFdbUrl]) await valueOrSkqError(() => parse(url));
        await valueOrSkqError(() => backendScheme(url));
        expect(typeof redactUrl(url)).toBe('string');
      }),
      { seed: SEED, numRuns: 1_000 },
    );
  });

  it('refuses options of any other shape at connect, before touching the network', async () => {
    const options = fc.oneof(fc.anything({ maxDepth: 2 }), fc.record({ url: fc.anything(), cluster: fc.anything(), keyPrefix: fc.anything() }, { requiredKeys: [] }), fc.record({ path: fc.anything(), busyTimeoutMs: fc.anything() }, { requiredKeys: [] }));
    await fc.assert(
      fc.asyncProperty(options, async (input) => {
        for (const open of [(o: never) => RedisBackend.connect(o), (o: never) => MongoBackend.connect(o), (o: never) => new SqliteBackend(o), (o: never) => FdbBackend.connect(o)]) {
          const opened = await valueOrSkqError(() => open(input as never), ['CONFIG_INVALID']);
          // Whatever opened (only a valid SQLite path can) is closed again.
          if (opened && !(opened instanceof SkqError)) await (opened as { close(): Promise<void> }).close();
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('inputs the fuzzing found refused wrongly, kept as regressions', () => {
  it('refuses a malformed %-escape in a FoundationDB or MongoDB URL, and a Redis URL that is not one, with CONFIG_INVALID', async () => {
    expect(() => parseFdbUrl('fdb:127.0.0.1/%zz')).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    await expect(MongoBackend.connect('mongodb://127.0.0.1:1/%zz')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(RedisBackend.connect({ url: ' ' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('cron expressions and time zones, fuzzed', () => {
  const field = fc.constantFrom('*', '*/5', '0', '59', '60', '1-5', '5-1', '1,2,3', 'L', 'W', '#', '?', 'MON', 'JAN-DEC', '*/0', '-1', '1/0', 'H', '99999999999', '0-59/7', '');
  const expression = fc.oneof(fc.string({ maxLength: 40 }), fc.array(field, { minLength: 1, maxLength: 7 }).map((parts) => parts.join(' ')));
  const zone = fc.constantFrom(null, 'UTC', 'Europe/Paris', 'America/New_York', 'Mars/Olympus', '', '+25:00', 'Etc/GMT+14');
  it('gives the next instant or refuses the expression with CONFIG_INVALID, quickly', async () => {
    await fc.assert(
      fc.asyncProperty(expression, zone, fc.integer({ min: 0, max: 4_102_444_800_000 }), async (expr, tz, after) => {
        const started = Date.now();
        const next = await valueOrSkqError(() => nextCron(expr, tz, after));
        if (typeof next === 'number') expect(next).toBeGreaterThan(after);
        expect(Date.now() - started).toBeLessThan(1_000);
      }),
      { seed: SEED, numRuns: 1_000 },
    );
  });
});

describe('CLI flags, fuzzed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skq-cli-fuzz-'));
  let saved: string | undefined;
  beforeAll(() => {
    saved = process.env.SKQ_BACKEND;
    process.env.SKQ_BACKEND = `sqlite:${join(dir, 'cli.db')}`;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.SKQ_BACKEND;
    else process.env.SKQ_BACKEND = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  // The commands that end by themselves (work, web and triggers listen until a signal).
  const command = fc.constantFrom('status', 'jobs', 'workers', 'pause', 'resume', 'schedule', 'nope', '');
  const token = fc.oneof(
    fc.constantFrom('-q', '--queue', 'fuzzq', '-r', '--route', '-b', '--backend', `sqlite:${join(dir, 'other.db')}`, 'redis://127.0.0.1:1', '--json', '--limit', '0', '-1', '1e9', 'NaN',
      'list', 'show', 'retry', 'promote', 'remove', 'clean', 'stop', '--state', 'failed', '--older-than', '--id', '--', '-', '--=', '--queue=', '-qx', '--help=no'),
    fc.string({ maxLength: 12 }),
  );
  it('exits 0, 1 with a typed error, or 2 with the usage, for any flags', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let stderr = '';
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
    try {
      await fc.assert(
        fc.asyncProperty(command, fc.array(token, { maxLength: 7 }), async (name, rest) => {
          stderr = '';
          const code = await runCli([name, ...rest], dir);
          expect([0, 1, 2], stderr).toContain(code);
          // A runtime failure is reported as a typed error, never as a stack.
          if (code === 1) expect(stderr).toMatch(/\[[A-Z_]+\]/);
        }),
        { seed: SEED, numRuns: 300 },
      );
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });
});
