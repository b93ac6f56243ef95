import type { IncomingMessage, ServerResponse } from 'node:http';
import { SkqError } from '@skq/core';
import type { SafeHtml } from './html.js';

/** The largest form the monitor reads: its forms hold a few short fields. */
const MAX_FORM_BYTES = 16_384;

/**
 * Every response's security headers: a CSP with no inline script or style, no framing, no
 * sniffing, and no Referer to other sites (a first link may carry `?token=`).
 */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Sends a page. */
export function sendHtml(res: ServerResponse, status: number, page: SafeHtml, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers }).end(page.value);
}

/** Sends plain text. */
export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers }).end(text);
}

/** Redirects with a relative Location (RFC 9110 allows it), so a proxy's prefix is kept. */
export function redirect(res: ServerResponse, location: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { ...SECURITY_HEADERS, location, 'cache-control': 'no-store', ...headers }).end();
}

/**
 * How long a form may take to arrive once its headers have. A browser sends a few hundred bytes at
 * once; a client dripping them would otherwise hold a connection (and this handler) for minutes.
 */
export const FORM_DEADLINE_MS = 10_000;

/**
 * A POST's url-encoded form. A body a framework has already parsed (Express's `urlencoded()`) is
 * taken as it is; otherwise the stream is read, up to {@link MAX_FORM_BYTES} and for at most
 * {@link FORM_DEADLINE_MS} (then `TIMEOUT` with `context.field` `'body'`: see {@link sendFormTimeout}).
 */
export async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const parsed = (req as { body?: unknown }).body;
  if (parsed && typeof parsed === 'object' && !Buffer.isBuffer(parsed)) {
    return Object.fromEntries(Object.entries(parsed as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new SkqError('ARGS_INVALID', `actions take an application/x-www-form-urlencoded form, not "${type || 'no content type'}"`);
  }
  if (req.readableEnded) return {};
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (outcome: Buffer | SkqError) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      if (outcome instanceof SkqError) reject(outcome);
      else resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) settle(new SkqError('ARGS_INVALID', `the form is larger than ${MAX_FORM_BYTES} bytes`, { context: { field: 'body' } }));
      else chunks.push(chunk);
    };
    const onEnd = () => settle(Buffer.concat(chunks));
    const onGone = () => settle(new SkqError('ARGS_INVALID', 'the form was cut off: the client went away', { context: { field: 'body' } }));
    const timer = setTimeout(
      () => settle(new SkqError('TIMEOUT', `the form did not arrive within ${FORM_DEADLINE_MS / 1_000} s`, { context: { field: 'body' } })),
      FORM_DEADLINE_MS,
    );
    req.on('data', onData).once('end', onEnd).once('error', onGone).once('close', onGone);
  });
  return Object.fromEntries(new URLSearchParams(body.toString('utf8')));
}

/** Whether `err` is {@link readForm}'s deadline passing. */
export function isFormTimeout(err: unknown): boolean {
  return err instanceof SkqError && err.code === 'TIMEOUT' && err.context.field === 'body';
}

/**
 * Answers a form that did not arrive in time with 408 and closes the connection: the rest of a
 * dripped body is not waited for.
 */
export function sendFormTimeout(req: IncomingMessage, res: ServerResponse): void {
  res.once('finish', () => {
    req.socket.end();
    // The client may keep dripping into a half-closed socket: a second later it is closed whatever it does.
    setTimeout(() => req.socket.destroy(), 1_000).unref();
  });
  sendText(res, 408, `the form did not arrive within ${FORM_DEADLINE_MS / 1_000} s\n`, { connection: 'close' });
}

/** The HTTP status of an error a page or action ran into. */
export function statusOf(err: SkqError): number {
  switch (err.code) {
    case 'ARGS_INVALID':
    case 'CONFIG_INVALID':
      return 400;
    case 'FORBIDDEN':
      return 403;
    case 'JOB_NOT_FOUND':
    case 'QUEUE_NOT_FOUND':
    case 'WORKER_NOT_FOUND':
      return 404;
    case 'INVALID_STATE':
      return 409;
    case 'BACKEND_UNAVAILABLE':
      return 503;
    case 'COMMAND_EXPIRED':
    case 'TIMEOUT':
      return 504;
    default:
      return 500;
  }
}
