import { MongoInvalidArgumentError, MongoServerError } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SkunkQueue } from '@skq/core';
import { deliveryId } from '@skq/core/backend';
import { MongoBackend } from '@skq/mongodb';
import { WorkerPool } from '@skq/worker';
import { mapMongoError } from '../src/mongo-errors.js';
import { missingMongoServer, mongoServerName, newJob, startMongoServer, uniqueQueue, type MongoTestServer } from '@skq/testing';

/** MongoDB's document limit: 16 MiB of BSON. */
const DOCUMENT_LIMIT = 16 * 1024 * 1024;

// A document stops at 16 MiB: the backend declares a value limit under it, so core refuses an
// oversize job before anything is written and a worker refuses an oversize result once; what still
// reaches the driver over the limit is ARGS_INVALID, which the worker records as refused.
for (const kind of ['mongo-java-server', 'ferretdb'] as const) {
  const missing = missingMongoServer(kind);
  describe.skipIf(missing)(`MongoDB values over the document limit, on ${mongoServerName(kind)}${missing ? ` (skipped: ${missing})` : ''}`, () => {
    let server: MongoTestServer;
    let backend: MongoBackend;
    beforeAll(async () => {
      server = await startMongoServer(kind);
      backend = await MongoBackend.connect({ url: server.url.replace('/?', `/skq_limits_${process.pid}?`), logger: false, wakeups: 'poll', pollIntervalMs: 50 });
    }, 60_000);
    afterAll(async () => {
      await backend?.close();
      await server?.stop();
    });

    it('declares a value limit that leaves room in a delivery for its arguments, result and progress', () => {
      const limit = backend.capabilities.maxValueBytes!;
      expect(limit).toBeGreaterThan(1_000_000);
      expect(2 * limit + 16_384).toBeLessThan(DOCUMENT_LIMIT);
    });

    it('refuses a batch holding a job over the limit before writing any of it', async () => {
      const queue = uniqueQueue('limit-batch');
      const batch = [newJob(queue), newJob(queue), newJob(queue, { args: ['x'.repeat(DOCUMENT_LIMIT + 1_000)] }), newJob(queue)];
      await expect(backend.enqueue(batch)).rejects.toMatchObject({ name: 'SkqError', code: 'ARGS_INVALID', message: expect.stringContaining('none of the 4 was stored') });
      const between = [newJob(queue), newJob(queue, { args: ['y'.repeat(backend.capabilities.maxValueBytes! + 1_000)] })];
      await expect(backend.enqueue(between)).rejects.toMatchObject({ code: 'ARGS_INVALID' });
      expect(await backend.listJobs({ queue, limit: 10 })).toEqual([]);
    }, 60_000);

    it('maps a document the driver refuses for its size to ARGS_INVALID', async () => {
      const queue = uniqueQueue('limit-driver');
      const job = newJob(queue);
      await backend.enqueue([job]);
      // Past core's checks, straight to the store: the driver's own check of an insertMany document.
      const line = { deliveryId: deliveryId(job.id, 0), at: Date.now(), stream: 'log' as const, line: 'l'.repeat(DOCUMENT_LIMIT + 1_000) };
      await expect(backend.appendLogs(queue, [line])).rejects.toMatchObject({ code: 'ARGS_INVALID', message: expect.stringContaining('16 MiB') });
      expect(await backend.getLogs(queue, job.id)).toEqual([]);
    }, 60_000);

    it('records a result over the limit once, refused with a typed error, and runs the handler once', async () => {
      const queue = new SkunkQueue(uniqueQueue('limit-result'), { backend });
      let runs = 0;
      const huge = queue.job({ name: 'huge', routes: ['r'], retry: { attempts: 3 } }, async () => {
        runs += 1;
        return 'h'.repeat(backend.capabilities.maxValueBytes! + 1_000);
      });
      const pool = new WorkerPool({ queue, routes: ['r'], leaseMs: 2_000, handleSignals: false, pollIntervalMs: 50, logger: false });
      await pool.start();
      try {
        const handle = await huge.fire();
        const record = await queue.waitForEnd(handle.id, 45_000);
        expect(record.state).toBe('failed');
        expect(record.deliveries[0]).toMatchObject({ attempts: 1, recoveries: 0, error: { code: 'RESULT_TOO_LARGE' } });
        expect(runs).toBe(1);
      } finally {
        await pool.close();
      }
    }, 90_000);
  });
}

// The server's answers to a document over the limit (a real MongoDB's; neither test server gives
// them: mongo-java-server drops the connection, FerretDB v1 stores it): each is the caller's to
// shrink, so the worker records the outcome as refused once instead of retrying the store.
describe('mapMongoError on size errors', () => {
  it.each([
    ['BSONObjectTooLarge (10334)', new MongoServerError({ code: 10334, codeName: 'BSONObjectTooLarge', errmsg: 'BSONObj size: 16793600 (0x1004000) is invalid. Size must be between 0 and 16793600(16MB)' })],
    ['an update result too large (17419)', new MongoServerError({ code: 17419, errmsg: 'Resulting document after update is larger than 16777216' })],
    ['the serializer running out of buffer', Object.assign(new RangeError('The value of "offset" is out of range.'), { code: 'ERR_OUT_OF_RANGE' })],
    ['the driver\'s own check', new MongoInvalidArgumentError('Document is larger than the maximum size 16777216')],
  ])('maps %s to ARGS_INVALID', (_what, err) => {
    expect(mapMongoError(err, 'complete')).toMatchObject({ code: 'ARGS_INVALID', cause: err });
  });

  it('maps a command cut short by a server shutting down (FerretDB\'s "context canceled") to BACKEND_UNAVAILABLE', () => {
    const err = new MongoServerError({ code: 1, errmsg: '[msg_insert.go:168 handler.(*Handler).MsgInsert] [db.go:134 fsql.(*DB).InTransaction] context canceled' });
    expect(mapMongoError(err, 'enqueue')).toMatchObject({ code: 'BACKEND_UNAVAILABLE', cause: err });
  });

  it('still maps other invalid-argument errors to CONFIG_INVALID and other server errors to BACKEND_ERROR', () => {
    expect(mapMongoError(new MongoInvalidArgumentError('Unsupported option'), 'open')).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(mapMongoError(new MongoServerError({ code: 2, errmsg: 'bad value' }), 'claim')).toMatchObject({ code: 'BACKEND_ERROR' });
  });
});
