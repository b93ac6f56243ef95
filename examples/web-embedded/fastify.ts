// The monitor inside a Fastify app, at /admin/queues. Its requests are handed over in `onRequest`,
// before Fastify parses bodies, and the monitor strips the mount path (`basePath`).
import Fastify from 'fastify';
import { createMonitor } from '@skq/web';

export function fastifyApp(options: { backend: string; token: string }) {
  const monitor = createMonitor({ backend: options.backend, token: options.token, basePath: '/admin/queues' });
  const app = Fastify();
  app.addHook('onRequest', (request, reply, done) => {
    const path = request.raw.url ?? '';
    if (path === '/admin/queues' || path.startsWith('/admin/queues/') || path.startsWith('/admin/queues?')) {
      reply.hijack();
      monitor.handle(request.raw, reply.raw);
      return;
    }
    done();
  });
  app.get('/', async () => 'my app');
  app.addHook('onClose', () => monitor.close());
  return { app, monitor };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { app } = fastifyApp({ backend: process.env.SKQ_BACKEND ?? 'sqlite:.skunq/skunq.db', token: process.env.SKQ_WEB_TOKEN! });
  await app.listen({ port: 3000, host: '127.0.0.1' });
  console.log('monitor on http://127.0.0.1:3000/admin/queues/');
}
