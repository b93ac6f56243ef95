import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// Tests run from source: no build needed.
export default defineConfig({
  resolve: {
    alias: {
      '@skq/core/backend': src('./packages/core/src/backend.ts'),
      '@skq/core': src('./packages/core/src/index.ts'),
      '@skq/sqlite': src('./packages/sqlite/src/index.ts'),
      '@skq/worker': src('./packages/worker/src/index.ts'),
      '@skq/redis': src('./packages/redis/src/index.ts'),
      '@skq/mongodb': src('./packages/mongodb/src/index.ts'),
      '@skq/postgres': src('./packages/postgres/src/index.ts'),
      '@skq/testing': src('./internal/testing/src/index.ts'),
      '@skq/cli': src('./apps/cli/src/index.ts'),
      '@skq/web': src('./packages/web/src/index.ts'),
      '@skq/foundationdb/simulator': src('./packages/foundationdb/src/simulator/index.ts'),
      '@skq/foundationdb': src('./packages/foundationdb/src/index.ts'),
    },
  },
  test: {
    include: ['{packages,apps,internal,examples}/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The JSON report feeds scripts/test-summary.mjs, which prints the plain pass/fail line CI reads.
    reporters: ['default', ['json', { outputFile: '.vitest/report.json' }]],
  },
});
