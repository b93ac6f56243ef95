// The FoundationDB simulator as a process of its own, so that a chaos run can pause it (SIGSTOP) and its
// clients can be killed. Prints `listening <port>` once it serves.
import { SimulatedCluster } from '@skq/foundationdb/simulator';
import { chaosFaults, serveSimulator } from './fdb-remote-simulator.js';

const seed = Number(process.argv[2] ?? 1);
const served = await serveSimulator(new SimulatedCluster(chaosFaults(seed)));
console.log(`listening ${served.port}`);
process.on('SIGTERM', () => process.exit(0));
