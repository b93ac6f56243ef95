import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.base.js';

export default defineConfig([
  libraryBuild,
  { ...libraryBuild, entry: ['src/main.ts'], format: ['esm'], dts: false, clean: false, banner: { js: '#!/usr/bin/env node' } },
]);
