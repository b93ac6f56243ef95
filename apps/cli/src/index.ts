export { runCli, MAIN_USAGE } from './cli.js';
export { defineConfig, SkunqConfigSchema, type SkunqConfig } from './config-file.js';
