import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { z } from 'zod';
import { SkqError } from '@skq/core';
import { parseConfig } from '@skq/core/backend';
import { generateToken } from './auth.js';
import { Monitor } from './monitor.js';
import { MonitorOptionsSchema } from './monitor-options.js';
import { sendText } from './request-io.js';

/** A request's headers must arrive within this many ms of the connection's first byte. */
const HEADERS_TIMEOUT_MS = 20_000;
/** A whole request (headers and body) must arrive within this many ms; the handler's own form deadline is shorter. */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Options of {@link startMonitorServer}: the monitor's, plus where to listen. The token is optional here.
 *
 * @example
 * ```ts
 * const { port } = MonitorServerOptionsSchema.parse({ port: 0 }); // 0: any free port
 * ```
 */
export const MonitorServerOptionsSchema = MonitorOptionsSchema.omit({ token: true, basePath: true })
  .extend({
    /** Default 127.0.0.1. Any other address needs a token. */
    host: z.string().min(1).default('127.0.0.1'),
    /** Default 5010; 0 picks a free port. */
    port: z.number().int().min(0).max(65_535).default(5010),
    /** Default: `$SKQ_WEB_TOKEN`, else one is generated (and returned, to print). */
    token: z.string().min(16, 'must be at least 16 characters').max(512).optional(),
  })
  .strict();

/** `{ backend?, queues?, host?, port?, token?, readOnly?, triggerPositions? }` for {@link startMonitorServer}. */
export type MonitorServerOptions = z.input<typeof MonitorServerOptionsSchema>;

/** A running monitor server. */
export interface MonitorServer {
  monitor: Monitor;
  /** The address to open, without the token. */
  url: string;
  /** The token browsers sign in with: given, from `$SKQ_WEB_TOKEN`, or generated. */
  token: string;
  /** Whether the token was generated (print it: nobody else knows it). */
  generatedToken: boolean;
  close(): Promise<void>;
}

/**
 * Serves a monitor on its own port, as `skunq web` does. It listens on 127.0.0.1 unless told
 * otherwise, and refuses to listen elsewhere without a token given by the user. On loopback it
 * answers only requests addressed to a loopback name, so a web page cannot reach it through DNS
 * rebinding.
 *
 * @example
 * ```ts
 * const server = await startMonitorServer({ backend: 'redis://127.0.0.1:6379', port: 5010 });
 * console.log(`open ${server.url}/?token=${server.token}`);
 * ```
 */
export async function startMonitorServer(options: MonitorServerOptions = {}): Promise<MonitorServer> {
  const parsed = parseConfig(MonitorServerOptionsSchema, options, 'monitor server options');
  const given = parsed.token ?? (process.env.SKQ_WEB_TOKEN || undefined);
  const loopback = isLoopback(parsed.host);
  if (!loopback && given === undefined) {
    throw new SkqError('CONFIG_INVALID', `refusing to listen on ${parsed.host} without a token: pass --token or set SKQ_WEB_TOKEN (a generated one would be printed where others may read it)`, {
      context: { field: 'host' },
    });
  }
  const token = given ?? generateToken();
  const { host, port, token: _unused, ...monitorOptions } = parsed;
  const monitor = new Monitor({ ...monitorOptions, token });
  // Node waits 300 s for a request's body by default: a client dripping one would hold a connection that long.
  const server: Server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 2_000 }, (req, res) => {
    if (loopback && !isLoopbackHostHeader(req.headers.host)) {
      sendText(res, 421, 'this monitor answers only requests addressed to localhost or a loopback address\n');
      return;
    }
    monitor.handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new SkqError('CONFIG_INVALID', `cannot listen on ${host}:${port}: ${err.message}`, { cause: err, context: { field: 'port' } })));
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = isIP(host) === 6 ? `[${host}]` : host;
  return {
    monitor,
    url: `http://${shownHost}:${actualPort}`,
    token,
    generatedToken: given === undefined,
    async close() {
      await monitor.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function isLoopbackHostHeader(header: string | undefined): boolean {
  if (!header) return false;
  const name = header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.replace(/:\d+$/, '');
  return name === 'localhost' || name === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(name);
}
