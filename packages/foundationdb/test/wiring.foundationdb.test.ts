import { describe, expect, it } from 'vitest';
import { SkunkQueue } from '@skq/core';
import { parseFdbUrl } from '@skq/foundationdb';
import { runCliProcess } from '@skq/testing';
import { loadBinding } from '../src/kv/foundationdb-binding.js';

const bindingLoads = await loadBinding().then(
  () => true,
  () => false,
);

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
    const work = await runCliProcess(['work', '-q', 'fdbq', '-r', 'r', '-b', 'fdb:']);
    expect(work.code).toBe(2);
    expect(work.stderr).toContain('libfdb_c');
    const status = await runCliProcess(['status', '-q', 'fdbq'], { SKQ_BACKEND: 'fdb:/etc/foundationdb/fdb.cluster?prefix=skq' });
    expect(status.code).toBe(2);
    expect(status.stderr).toContain('libfdb_c');
    const queue = new SkunkQueue('fdbq', { backend: 'fdb:' });
    await expect(queue.counts()).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('libfdb_c') });
  });
});
