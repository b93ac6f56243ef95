import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SkunkQueue } from '@skq/core';
import { parseFdbUrl } from '@skq/foundationdb';
import { FdbError, SimulatedCluster } from '@skq/foundationdb/simulator';
import { runCliProcess } from '@skq/testing';
import { probeCluster, resolveClusterFile } from '../src/kv/cluster-checks.js';
import { loadBinding, openFoundationDb } from '../src/kv/foundationdb-binding.js';

const bindingLoads = await loadBinding().then(
  () => true,
  () => false,
);

// A cluster file naming a coordinator nothing listens on: it exists, so the checks after it run.
const dir = mkdtempSync(join(tmpdir(), 'skq-fdb-wiring-'));
const clusterFile = join(dir, 'fdb.cluster');
writeFileSync(clusterFile, 'wiring:test@127.0.0.1:4599\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const defaultClusterFile = process.platform === 'darwin' ? '/usr/local/etc/foundationdb/fdb.cluster' : '/etc/foundationdb/fdb.cluster';

describe('fdb: URLs reach the real binding', () => {
  it('parses the cluster file and options of an fdb: URL, and refuses unknown ones', () => {
    expect(parseFdbUrl('fdb:')).toEqual({});
    expect(parseFdbUrl('fdb:/etc/foundationdb/fdb.cluster?prefix=jobs&apiVersion=730')).toEqual({ clusterFile: '/etc/foundationdb/fdb.cluster', prefix: 'jobs', apiVersion: 730 });
    expect(() => parseFdbUrl('fdb:?replicas=3')).toThrow(/unknown parameter "replicas"/);
    expect(() => new SkunkQueue('q', { backend: 'fdb:' })).not.toThrow();
  });

  it('names the package to install when the foundationdb binding is missing', async () => {
    const missing = Object.assign(new Error("Cannot find package 'foundationdb' imported from /app/x.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    await expect(loadBinding(() => Promise.reject(missing))).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('npm install foundationdb') });
  });

  it('names FoundationDB\'s client library when the binding cannot load it', async () => {
    const noLibrary = new Error('libfdb_c.so: cannot open shared object file: No such file or directory');
    await expect(loadBinding(() => Promise.reject(noLibrary))).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('libfdb_c') });
  });

  it.skipIf(bindingLoads)('skunq work -b fdb: and SKQ_BACKEND=fdb: reach the binding, which names libfdb_c here', async () => {
    const work = await runCliProcess(['work', '-q', 'fdbq', '-r', 'r', '-b', 'fdb:'], { FDB_CLUSTER_FILE: clusterFile });
    expect(work.code).toBe(2);
    expect(work.stderr).toContain('libfdb_c');
    const status = await runCliProcess(['status', '-q', 'fdbq'], { SKQ_BACKEND: `fdb:${clusterFile}?prefix=skq` });
    expect(status.code).toBe(2);
    expect(status.stderr).toContain('libfdb_c');
    const queue = new SkunkQueue('fdbq', { backend: `fdb:${clusterFile}` });
    await expect(queue.counts()).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('libfdb_c') });
  });
});

// Each way a connection fails says which one it is, in its message and in context.reason.
describe('each failure to connect has its own message', () => {
  it('package not installed: a real failed import names npm install, not the client library', async () => {
    const err = await loadBinding(() => import('foundationdb-is-not-installed-here' as string)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', context: { reason: 'package-missing' }, message: expect.stringContaining('npm install foundationdb') });
    expect((err as Error).message).not.toContain('libfdb_c');
  });

  it.skipIf(bindingLoads)('libfdb_c missing: the installed binding fails to load its native part, which names the client library, not npm install', async () => {
    const err = await loadBinding().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', context: { reason: 'client-library' }, message: expect.stringContaining('libfdb_c') });
    expect((err as Error).message).not.toContain('npm install');
    expect((err as Error).message).toContain('could not be loaded');
  });

  it('libfdb_c too old: a client library refusing the API version is named as too old', async () => {
    // The binding as an old libfdb_c leaves it: it loads, and refuses the API version asked for (2203).
    const oldLibrary = {
      setAPIVersion() {
        throw new FdbError(2203, 'api_version_not_supported: API version not supported');
      },
    };
    const err = await openFoundationDb({ clusterFile, apiVersion: 730 }, async () => oldLibrary).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', context: { reason: 'client-library', field: 'apiVersion' }, message: expect.stringContaining('too old for API version 730') });
  });

  it('cluster file missing: named in the URL, by FDB_CLUSTER_FILE, or at the default places, before anything loads', async () => {
    const gone = join(dir, 'missing.cluster');
    await expect(openFoundationDb({ clusterFile: gone, apiVersion: 720 })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      context: { reason: 'cluster-file-missing' },
      message: expect.stringContaining(`no FoundationDB cluster file named in the fdb: URL: ${gone} does not exist`),
    });
    expect(() => resolveClusterFile(undefined, { FDB_CLUSTER_FILE: gone }, dir)).toThrow(`named by FDB_CLUSTER_FILE: ${gone}`);
    if (!existsSync(defaultClusterFile)) expect(() => resolveClusterFile(undefined, {}, join(dir, 'elsewhere'))).toThrow(`at FDB's default locations: ${join(dir, 'elsewhere', 'fdb.cluster')}, ${defaultClusterFile} does not exist`);
    // FDB's client looks in the working directory first.
    expect(resolveClusterFile(undefined, {}, dir)).toBe(clusterFile);
    const status = await runCliProcess(['status', '-q', 'fdbq', '-b', `fdb:${gone}`]);
    expect(status.code).toBe(2);
    expect(status.stderr).toContain('no FoundationDB cluster file');
  });

  it('cluster unreachable: the first read times out, naming the file and its coordinators; it connects once the cluster answers', async () => {
    const cluster = new SimulatedCluster();
    const db = cluster.open();
    cluster.setReachable(false);
    await expect(probeCluster(db, clusterFile, 200)).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
      context: { reason: 'cluster-unreachable' },
      message: expect.stringContaining(`the FoundationDB cluster in ${clusterFile} did not answer within 200 ms`),
    });
    await expect(probeCluster(db, clusterFile, 200)).rejects.toThrow('127.0.0.1:4599');
    cluster.setReachable(true);
    await expect(probeCluster(db, clusterFile, 200)).resolves.toBeUndefined();
  });
});
