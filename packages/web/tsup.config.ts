import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.base.js';

// `shims` gives the CommonJS build an import.meta.url, which finds the assets beside dist/.
export default defineConfig({ ...libraryBuild, shims: true });
