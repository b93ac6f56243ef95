import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type PostgresServer } from './postgres-server.js';

/**
 * A suite's throwaway server without fsync, started before its tests and stopped after them: call it
 * in a `describe` and read the server from the returned function inside tests.
 *
 * @example
 * ```ts
 * describe('postgres', () => {
 *   const server = usePostgresServer();
 *   it('connects', async () => void (await PostgresBackend.connect(server().url)).close());
 * });
 * ```
 */
export function usePostgresServer(): () => PostgresServer {
  let server: PostgresServer | undefined;
  beforeAll(async () => {
    server = await startPostgres({ durable: false });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => server!;
}
