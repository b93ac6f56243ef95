import type { Options } from 'tsup';

/** How every @skq package builds: ESM + CJS with types, for Node 20. */
export const libraryBuild: Options = {
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
};
