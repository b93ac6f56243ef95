import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.base.js';

// Two entries, the application face and the backend face, share one copy of each module: with
// splitting on (also for CJS), `SkqError` thrown by a backend is the class an application catches.
export default defineConfig({ ...libraryBuild, entry: ['src/index.ts', 'src/backend.ts'], splitting: true });
