import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { startRedis } from '@skq/testing/servers';
import { LIBRARIES } from './libraries.js';
const server = await startRedis();
const lib = LIBRARIES.find(l => l.name === (process.env.LIB ?? 'skunq'))!;
const JOBS = 20000;
const phase = process.env.PHASE ?? 'process';
const session = new Session(); session.connect();
await session.post('Profiler.enable');
const p = await lib.producer(server.port, 'q');
if (phase === 'bulk') await session.post('Profiler.start');
let t = performance.now();
for (let n = 0; n < JOBS; n += 1000) await p.addBulk(Array.from({ length: 1000 }, (_, i) => ({ n: n + i })));
console.log('bulk ms', (performance.now() - t).toFixed(0));
if (phase === 'bulk') { const { profile } = await session.post('Profiler.stop'); writeFileSync('/tmp/prof/x.cpuprofile', JSON.stringify(profile)); }
if (phase === 'process') await session.post('Profiler.start');
const c = await lib.consumer(server.port, 'q', Number(process.env.C ?? 100));
t = performance.now();
await c.done(JOBS);
console.log('process ms', (performance.now() - t).toFixed(0));
if (phase === 'process') { const { profile } = await session.post('Profiler.stop'); writeFileSync('/tmp/prof/x.cpuprofile', JSON.stringify(profile)); }
await c.close(); await p.close(); await server.stop(); process.exit(0);
