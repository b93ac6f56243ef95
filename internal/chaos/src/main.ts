// `pnpm chaos --backend sqlite|redis|redis-cluster|postgres|mongodb|foundationdb [flags]`: see chaos-options.ts.
import { isSkqError } from '@skq/core';
import { CHAOS_USAGE, parseChaosArgs } from './chaos-options.js';
import { runChaos } from './chaos-run.js';

try {
  const result = await runChaos(parseChaosArgs(process.argv.slice(2)));
  process.exit(result.report.violations.length ? 1 : 0);
} catch (err) {
  if (isSkqError(err, 'CONFIG_INVALID')) console.error(`${err.message}\nusage: ${CHAOS_USAGE}`);
  else console.error(err);
  process.exit(2);
}
