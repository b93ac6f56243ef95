// URLs and options the driver itself refuses fail as configuration errors, before any server is asked.
import { describe, expect, it } from 'vitest';
import { SkqError } from '@skq/core';
import { MongoBackend } from '@skq/mongodb';

describe('mongodb URLs the driver refuses', () => {
  for (const url of ['mongodb://', 'mongodb://127.0.0.1:27017/db?tls=maybe', 'mongodb://127.0.0.1:27017/db?readPreference=bogus']) {
    it(`${url} → CONFIG_INVALID`, async () => {
      const err = await MongoBackend.connect({ url, connectTimeoutMs: 500 }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SkqError);
      expect(err).toMatchObject({ code: 'CONFIG_INVALID', context: { field: 'backend' } });
    });
  }
});
