// The jobs of the quick start. A worker loads this module to know how to run them:
//   pnpm skunq work -q demo -r foo -f examples/quickstart/jobs.ts
import { z } from 'zod';
import { JobMixin, SkunkQueue, currentJob } from '@skq/core';

// No backend given: $SKQ_BACKEND, else the embedded SQLite file .skunq/skunq.db.
export const queue = new SkunkQueue('demo');

// A function-style job. The zod schema checks arguments when the job is fired.
export const add = queue.job(
  { name: 'add', routes: ['foo'], args: z.tuple([z.number(), z.number()]), retry: 3 },
  async (a, b) => {
    currentJob().log(`adding ${a} and ${b}`);
    return a + b;
  },
);

// Class-style jobs: the work goes in work(); register the class so workers can find it by name.
export class SayHello extends JobMixin {
  override routes = ['foo'];
  work() {
    console.log('hello!');
    return 'said hello';
  }
}

export class SayHelloToSomeone extends JobMixin {
  override routes = ['foo'];
  work(name: string) {
    console.log('hello', name, '!');
    return `said hello to ${name}`;
  }
}

queue.register(SayHello);
queue.register(SayHelloToSomeone);
