import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import createRouter from 'find-my-way';
import { SkqError } from '@skq/core';
import { parseConfig, serializeError } from '@skq/core/backend';
import { MonitorAuth } from './auth.js';
import { LiveFeed } from './live-feed.js';
import { MonitorOptionsSchema, type MonitorOptions, type ParsedMonitorOptions } from './monitor-options.js';
import { errorPage, loginPage } from './pages/simple-pages.js';
import type { PageContext } from './pages/layout.js';
import { MonitorMetrics } from './prometheus.js';
import { QueueDirectory } from './queue-directory.js';
import { SECURITY_HEADERS, isFormTimeout, readForm, redirect, sendFormTimeout, sendHtml, sendText, statusOf } from './request-io.js';
import { ACTIONS, PAGES, type ActionRoute, type PageRoute, type RouteRequest } from './routes.js';

/**
 * The files under `assets/` the monitor serves, with their types. Nothing else is read from disk. A Map,
 * so a name such as `constructor` finds nothing where an object would answer with its prototype's.
 */
const ASSETS = new Map<string, string>([
  ['monitor.css', 'text/css; charset=utf-8'],
  ['monitor.js', 'text/javascript; charset=utf-8'],
  ['favicon.svg', 'image/svg+xml'],
]);

/** A wrong token waits this long, so guessing is slow. */
const WRONG_TOKEN_DELAY_MS = 400;

type Next = (err?: unknown) => void;
type Route = { kind: 'page'; run: PageRoute } | { kind: 'action'; run: ActionRoute };

/**
 * The monitor: pages, actions, live updates and `/metrics` for a store's queues, as one Node
 * request handler. Mount {@link Monitor.handle} under any path of any Node server.
 *
 * @example
 * ```ts
 * const monitor = createMonitor({ backend: 'redis://127.0.0.1:6379', token: process.env.SKQ_WEB_TOKEN! });
 * app.use('/admin/queues', monitor.handle); // Express
 * ```
 */
export class Monitor {
  private readonly options: ParsedMonitorOptions;
  private readonly auth: MonitorAuth;
  private readonly directory: QueueDirectory;
  private readonly feed: LiveFeed;
  private readonly metrics: MonitorMetrics;
  private readonly router = createRouter({ ignoreTrailingSlash: true, maxParamLength: 1_000 });
  private readonly assets = new Map<string, Promise<Buffer>>();

  constructor(options: MonitorOptions) {
    this.options = parseConfig(MonitorOptionsSchema, options, 'monitor options');
    this.auth = new MonitorAuth(this.options.token);
    this.directory = new QueueDirectory(this.options.backend, this.options.queues);
    this.feed = new LiveFeed(() => this.directory.backend(), (queue, fresh) => this.directory.counts(queue, fresh));
    this.metrics = new MonitorMetrics(() => this.directory.backend(), () => this.directory.names());
    const noop = () => {};
    for (const [path, run] of Object.entries(PAGES)) this.router.on('GET', path, noop, { kind: 'page', run } satisfies Route);
    for (const [path, run] of Object.entries(ACTIONS)) this.router.on('POST', path, noop, { kind: 'action', run } satisfies Route);
  }

  /** The backend URL shown, or null when an open backend was given. */
  get backendUrl(): string | null {
    return this.directory.url();
  }

  /** Whether actions are refused. */
  get readOnly(): boolean {
    return this.options.readOnly;
  }

  /**
   * The request handler, bound: `(req, res, next?)`. With `next` (Express, Connect), a path that is
   * not the monitor's goes on to the next handler; without, it gets a 404.
   */
  readonly handle = (req: IncomingMessage, res: ServerResponse, next?: Next): void => {
    this.serve(req, res, next).catch((err: unknown) => {
      if (!res.headersSent) sendText(res, 500, `monitor failed: ${serializeError(err).message}\n`);
      else res.end();
    });
  };

  /** Ends live streams and releases the backend if the monitor opened it. */
  async close(): Promise<void> {
    await this.feed.close();
    await this.directory.close();
  }

  private async serve(req: IncomingMessage, res: ServerResponse, next?: Next): Promise<void> {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    let path = queryAt < 0 ? url : url.slice(0, queryAt);
    const query = new URLSearchParams(queryAt < 0 ? '' : url.slice(queryAt + 1));
    const base = this.options.basePath;
    if (base && (path === base || path.startsWith(`${base}/`))) path = path.slice(base.length);
    if (path === '' || path === '/') {
      // Relative links need the root to end with a slash: `/admin/queues` → `./queues/`.
      const full = (((req as { originalUrl?: string }).originalUrl ?? url).split('?')[0] ?? '').replace(/\/+$/, '/');
      if (!full.endsWith('/')) {
        const last = full.slice(full.lastIndexOf('/') + 1);
        return redirect(res, `./${last}/${queryAt < 0 ? '' : url.slice(queryAt)}`);
      }
      path = '/';
    }
    const slashes = path.split('/').length - 1;
    const root = slashes <= 1 ? './' : '../'.repeat(slashes - 1);

    if (req.method === 'GET' && path.startsWith('/assets/')) return this.asset(res, path.slice('/assets/'.length));
    if (path === '/login' || path === '/login/') return this.login(req, res, root);
    if (req.method === 'POST' && path === '/logout') return this.logout(req, res, root);

    if (!this.auth.signedIn(req) && !this.bearer(req)) {
      const given = query.get('token');
      if (req.method === 'GET' && given !== null) {
        if (!this.auth.tokenMatches(given)) {
          await delay(WRONG_TOKEN_DELAY_MS);
          return sendHtml(res, 401, loginPage(root, 'That token is wrong.'));
        }
        // Signed in by the link `skunq web` printed: keep the cookie, drop the token from the address.
        query.delete('token');
        const rest = query.toString();
        const last = path === '/' ? '' : path.slice(path.lastIndexOf('/') + 1);
        return redirect(res, `./${last}${rest ? `?${rest}` : ''}`, { 'set-cookie': this.auth.sessionCookie(req) });
      }
      if (req.method === 'GET' && !path.startsWith('/events') && path !== '/metrics' && !path.endsWith('/json')) return redirect(res, `${root}login`);
      return sendText(res, 401, 'sign in first: the monitor needs its token\n', { 'www-authenticate': 'Bearer realm="skunq"' });
    }

    const found = req.method === 'GET' || req.method === 'POST' ? this.router.find(req.method, path) : null;
    const page: PageContext = { root, csrf: this.auth.csrfToken, readOnly: this.options.readOnly, signedIn: this.auth.required, queues: [], notice: null };
    if (!found) {
      if (next) return next();
      page.queues = await this.directory.names().catch(() => []);
      return sendHtml(res, 404, errorPage(page, 404, 'NOT_FOUND', `nothing is served at ${path}`));
    }
    const route = found.store as Route;
    if (route.kind === 'page' && req.method === 'GET') {
      page.notice = this.auth.readNotice(req);
      if (page.notice !== null) res.setHeader('set-cookie', this.auth.clearedNotice());
    }
    const request: RouteRequest = {
      req,
      res,
      params: found.params,
      query,
      page,
      directory: this.directory,
      feed: this.feed,
      metrics: this.metrics,
      triggerPositions: this.options.triggerPositions ?? null,
    };
    try {
      page.queues = await this.directory.names();
      if (route.kind === 'page') return await route.run(request);
      return await this.act(request, route.run);
    } catch (err) {
      if (isFormTimeout(err) && !res.headersSent) return sendFormTimeout(req, res);
      const error = err instanceof SkqError ? err : new SkqError('BACKEND_ERROR', serializeError(err).message, { cause: err });
      const status = error.code === 'UNSUPPORTED' ? 404 : statusOf(error);
      if (res.headersSent) return void res.end();
      if (path.startsWith('/events') || path === '/metrics' || path.endsWith('/json')) return sendText(res, status, `[${error.code}] ${error.message}\n`);
      return sendHtml(res, status, errorPage(page, status, error.code, error.message));
    }
  }

  private async act(request: RouteRequest, run: ActionRoute): Promise<void> {
    const { req, res, page } = request;
    if (this.options.readOnly) throw new SkqError('FORBIDDEN', 'this monitor is read-only: it refuses every action');
    const form = await readForm(req);
    const refusal = this.auth.actionRefusal(req, form._csrf);
    if (refusal) throw new SkqError('FORBIDDEN', refusal);
    const outcome = await run(request, form);
    const back = outcome.back ?? safeBack(form.back);
    redirect(res, `${page.root}${back}`, { 'set-cookie': this.auth.noticeCookie(outcome.notice) });
  }

  private async login(req: IncomingMessage, res: ServerResponse, root: string): Promise<void> {
    // The login page sits at the root's level: `login`, so `root` is './'.
    if (req.method === 'GET') return sendHtml(res, 200, loginPage(root, null));
    if (req.method !== 'POST') return sendText(res, 405, 'GET or POST\n', { allow: 'GET, POST' });
    const form = await this.formOrNothing(req);
    if (form === null) return sendFormTimeout(req, res);
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return sendHtml(res, 403, loginPage(root, 'Sign in from the monitor\'s own page.'));
    if (!this.auth.required) return redirect(res, root);
    if (!this.auth.tokenMatches(form.token)) {
      await delay(WRONG_TOKEN_DELAY_MS);
      return sendHtml(res, 401, loginPage(root, 'That token is wrong.'));
    }
    redirect(res, root, { 'set-cookie': this.auth.sessionCookie(req) });
  }

  private async logout(req: IncomingMessage, res: ServerResponse, root: string): Promise<void> {
    const form = await this.formOrNothing(req);
    if (form === null) return sendFormTimeout(req, res);
    const refusal = this.auth.actionRefusal(req, form._csrf);
    if (refusal) return sendText(res, 403, `${refusal}\n`);
    redirect(res, `${root}login`, { 'set-cookie': this.auth.signOut(req) });
  }

  /** A sign-in or sign-out form; a form that cannot be read is empty (and refused), one that never came whole is null. */
  private async formOrNothing(req: IncomingMessage): Promise<Record<string, string> | null> {
    try {
      return await readForm(req);
    } catch (err) {
      return isFormTimeout(err) ? null : {};
    }
  }

  /** `Authorization: Bearer <token>`, for scrapers and scripts that keep no cookie. The scheme is case-insensitive (RFC 7235). */
  private bearer(req: IncomingMessage): boolean {
    const found = /^bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
    return found !== null && this.auth.tokenMatches(found[1]);
  }

  private async asset(res: ServerResponse, name: string): Promise<void> {
    const type = ASSETS.get(name);
    if (!type) return sendText(res, 404, 'no such asset\n');
    let body = this.assets.get(name);
    if (!body) this.assets.set(name, (body = readFile(new URL(`../assets/${name}`, import.meta.url))));
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'public, max-age=3600' }).end(await body);
  }
}

/**
 * A monitor for a store's queues, to mount in an existing server or to run with `skunq web`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createMonitor } from '@skq/web';
 *
 * const monitor = createMonitor({ backend: 'sqlite:.skunq/skunq.db', token: process.env.SKQ_WEB_TOKEN!, basePath: '/monitor' });
 * createServer((req, res) => (req.url?.startsWith('/monitor') ? monitor.handle(req, res) : res.end('app'))).listen(3000, '127.0.0.1');
 * ```
 */
export function createMonitor(options: MonitorOptions): Monitor {
  return new Monitor(options);
}

/**
 * A form's `back`: a page of the monitor, relative to its root; anything else goes to the overview.
 * Browsers read `%2e` as a dot in a path, so the path is checked decoded: no dot segment, no empty
 * segment, no backslash, in what the browser will resolve.
 */
function safeBack(value: string | undefined): string {
  if (!value || !/^queues\/[A-Za-z0-9._~%!$'()*+,;=:@\-/]*(\?[A-Za-z0-9._~%!$'()*+,;=:@\-/&?]*)?$/.test(value)) return '';
  let path: string;
  try {
    path = decodeURIComponent(value.split('?')[0]!);
  } catch {
    return ''; // A malformed escape: nothing a page of the monitor links to.
  }
  const segments = path.split('/');
  // A trailing slash leaves one empty segment at the end, which is harmless.
  if (segments.slice(0, -1).some((s) => s === '' || s === '.' || s === '..') || segments.at(-1) === '.' || segments.at(-1) === '..') return '';
  return path.includes('\\') ? '' : value;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
