import { connect, createServer, type Server, type Socket } from 'node:net';

/** A loopback TCP proxy that can, on cue, stop answering without closing anything. */
export interface StallingProxy {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number;
  /** Rewrites a URL's `host:port` (the first one) to point at this proxy. */
  urlFor(url: string): string;
  /**
   * Cuts the open connections (as a server restart does) and from now on accepts connections and
   * never answers them: each gets the start of a reply that never ends (a length header, then a
   * byte every half second). A client's timeouts that measure idleness never fire on it, so a
   * check waiting on such a connection never calls back.
   */
  stall(): void;
  /**
   * New connections pass through again. The connections held by {@link stall} stay held, as a
   * half-dead network path leaves them, until the client closes them or the proxy closes.
   */
  resume(): void;
  /** How many connections are held right now. */
  readonly held: number;
  /** Closes the listener and every connection, passing or held. */
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free loopback port that forwards to `target` (`host:port`) until told to
 * {@link StallingProxy.stall}. It reproduces a server that a client still reaches at the TCP level
 * but that answers nothing, which is how a client's checks can hang with no error to react to.
 *
 * @example
 * ```ts
 * const proxy = await startStallingProxy('127.0.0.1:27017');
 * const client = new MongoClient(proxy.urlFor('mongodb://127.0.0.1:27017/?directConnection=true'));
 * proxy.stall(); // calls now hang or time out
 * proxy.resume(); // new connections reach the server again
 * await proxy.close();
 * ```
 */
export async function startStallingProxy(target: string): Promise<StallingProxy> {
  const [host, portText] = splitHostPort(target);
  const sockets = new Set<Socket>();
  const held = new Set<Socket>();
  /** Each passing client connection and its connection to the target. */
  const pairs = new Map<Socket, Socket>();
  let stalled = false;

  const hold = (socket: Socket) => {
    held.add(socket);
    let drip: NodeJS.Timeout | null = null;
    // What the client sends is read and dropped, so its writes never block. Its first request gets a
    // wire-protocol header announcing a 16 MiB reply, and then the reply's bytes one at a time.
    socket.on('data', () => {
      if (drip) return;
      socket.write(Buffer.from([0, 0, 0, 1]));
      drip = setInterval(() => socket.write(Buffer.alloc(1)), 500);
      drip.unref();
    });
    socket.on('close', () => drip && clearInterval(drip));
  };

  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    client.on('close', () => {
      sockets.delete(client);
      held.delete(client);
      pairs.delete(client);
    });
    if (stalled) return hold(client);
    const upstream = connect(Number(portText), host);
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    pairs.set(client, upstream);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;

  return {
    port,
    urlFor: (url) => url.replace(/^(mongodb:\/\/(?:[^@/]*@)?)[^,/?]+/, `$1127.0.0.1:${port}`),
    stall() {
      stalled = true;
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
    },
    resume() {
      stalled = false;
    },
    get held() {
      return held.size;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function splitHostPort(target: string): [string, string] {
  const at = target.lastIndexOf(':');
  if (at < 1 || !/^\d+$/.test(target.slice(at + 1))) throw new Error(`startStallingProxy: expected host:port, got "${target}"`);
  return [target.slice(0, at), target.slice(at + 1)];
}
