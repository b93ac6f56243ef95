import { runCli } from './cli.js';

// Exit explicitly: a loaded job module may hold handles open after the pool stopped.
process.exit(await runCli(process.argv.slice(2)));
