import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.base.js';

// The simulator is its own entry (`@skq/foundationdb/simulator`): no URL a user might type opens it.
export default defineConfig({ ...libraryBuild, entry: { index: 'src/index.ts', 'simulator/index': 'src/simulator/index.ts' }, external: ['foundationdb'] });
