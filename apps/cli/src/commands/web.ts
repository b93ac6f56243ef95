import { backendUrlFromEnvironment, redactUrl, releaseBackend } from '@skq/core/backend';
import { startMonitorServer } from '@skq/web';
import { parseFlags, usage, UsageError, type FlagSpec } from '../argv.js';
import { loadConfig } from '../config-file.js';
import { acquireWhenReachable } from '../backend-wait.js';
import { durationFlag } from '../duration-flag.js';
import { say } from '../terminal-output.js';
import { isMongoUrl, mongoTriggerPositions } from '../trigger-support.js';

const FLAGS: FlagSpec[] = [
  { name: 'backend', short: 'b', kind: 'value', placeholder: 'url', description: 'Backend URL (default: $SKQ_BACKEND, the config, else sqlite:.skunq/skunq.db)' },
  { name: 'queue', short: 'q', kind: 'list', placeholder: 'name', description: 'Queues to show (default: every queue the store holds)' },
  { name: 'port', short: 'p', kind: 'value', placeholder: 'port', description: 'Port to listen on (default 5010; 0 picks a free one)' },
  { name: 'host', kind: 'value', placeholder: 'address', description: 'Address to listen on (default 127.0.0.1; any other needs --token)' },
  { name: 'token', kind: 'value', placeholder: 'token', description: 'The sign-in token, 16+ characters (default: $SKQ_WEB_TOKEN, else one is generated and printed)' },
  { name: 'read-only', kind: 'boolean', description: 'Show everything, refuse every action' },
  { name: 'connect-timeout', kind: 'value', placeholder: 'duration', description: 'Wait at most this long for the backend to answer at start: ms, or 30s, 5m (default: for ever)' },
];

export const WEB_USAGE = usage(
  'web',
  'Serves the monitor: queues, jobs, workers and schedules, live, with actions to retry, cancel, pause\nand stop, and Prometheus metrics on /metrics. Runs until SIGTERM or SIGINT.',
  FLAGS,
);

/** `skunq web`: the monitor on its own port, once its backend answers. */
export async function web(argv: string[], cwd: string): Promise<number> {
  // Recorded from the start: a signal while the backend is awaited ends the wait at once.
  const stopping = new AbortController();
  const stopped = new Promise<string>((done) => {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(s, () => {
        stopping.abort();
        done(s);
      });
    }
  });
  const flags = parseFlags(argv, FLAGS);
  const config = await loadConfig(cwd);
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65_535)) throw new UsageError(`--port must be a port number, got "${flags.port as string}"`);
  const connectTimeoutMs = flags['connect-timeout'] === undefined ? null : durationFlag(flags['connect-timeout'] as string, '--connect-timeout');
  const queues = (flags.queue as string[] | undefined) ?? (config.queue ? [config.queue] : undefined);
  const backend = (flags.backend as string | undefined) ?? config.backend;
  // The monitor knows no backend package: the trigger runners page reads MongoDB's through this CLI's loader.
  const triggerPositions = isMongoUrl(backend ?? process.env.SKQ_BACKEND ?? '') ? mongoTriggerPositions() : undefined;
  // Listening first: a refused option (token, host, a port in use) is reported at once, not after the wait.
  const server = await startMonitorServer({
    ...(backend && { backend }),
    ...(queues && { queues }),
    ...(port !== undefined && { port }),
    ...(flags.host !== undefined && { host: flags.host as string }),
    ...(flags.token !== undefined && { token: flags.token as string }),
    readOnly: flags['read-only'] === true,
    ...(triggerPositions && { triggerPositions }),
  });
  const url = backend ?? backendUrlFromEnvironment();
  let reached = false;
  try {
    // Held while serving: the monitor shares this connection.
    reached = (await acquireWhenReachable(url, { timeoutMs: connectTimeoutMs, signal: stopping.signal, log: say, prefix: 'skunq web' })) !== null;
    if (reached) {
      const shown = server.monitor.backendUrl;
      say(`skunq web: monitor of ${shown ? redactUrl(shown) : 'the store'} on ${server.url}/${server.monitor.readOnly ? ' (read-only)' : ''} (pid ${process.pid})`);
      if (server.generatedToken) say(`skunq web: sign in with this link (its token was generated for this run): ${server.url}/?token=${server.token}`);
      else say('skunq web: sign in with the token you gave (--token or SKQ_WEB_TOKEN)');
    }
    const signal = await stopped;
    say(`skunq web: stopped on ${signal}`);
    return signal === 'SIGINT' ? 130 : 0;
  } finally {
    await server.close();
    if (reached) await releaseBackend(url);
  }
}
