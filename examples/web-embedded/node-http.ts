// The monitor inside a plain node:http server, at /admin/queues.
import { createServer } from 'node:http';
import { createMonitor } from '@skq/web';

export function nodeHttpServer(options: { backend: string; token: string }) {
  const monitor = createMonitor({ backend: options.backend, token: options.token, basePath: '/admin/queues' });
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/admin/queues' || path.startsWith('/admin/queues/') || path.startsWith('/admin/queues?')) return monitor.handle(req, res);
    res.end('my app');
  });
  return { server, monitor };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { server } = nodeHttpServer({ backend: process.env.SKQ_BACKEND ?? 'sqlite:.skunq/skunq.db', token: process.env.SKQ_WEB_TOKEN! });
  server.listen(3000, '127.0.0.1', () => console.log('monitor on http://127.0.0.1:3000/admin/queues/'));
}
