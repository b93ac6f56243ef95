// The monitor inside an Express app, at /admin/queues. Express strips the mount path itself.
import express, { type Express } from 'express';
import { createMonitor, type Monitor } from '@skq/web';

export function expressApp(options: { backend: string; token: string }): { app: Express; monitor: Monitor } {
  const monitor = createMonitor({ backend: options.backend, token: options.token });
  const app = express();
  app.get('/', (_req, res) => {
    res.send('my app');
  });
  app.use('/admin/queues', monitor.handle);
  return { app, monitor };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { app } = expressApp({ backend: process.env.SKQ_BACKEND ?? 'sqlite:.skunq/skunq.db', token: process.env.SKQ_WEB_TOKEN! });
  app.listen(3000, '127.0.0.1', () => console.log('monitor on http://127.0.0.1:3000/admin/queues/'));
}
