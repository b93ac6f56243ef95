import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** How long a browser stays signed in. */
const SESSION_SECONDS = 7 * 24 * 3_600;
/**
 * Sessions kept at once. Past it, signing in drops the sessions closest to expiring, so a flood of
 * sign-ins (each needs the token) cannot grow the monitor's memory.
 */
export const MAX_SESSIONS = 1_000;

/**
 * Sign-in and CSRF checks. The token is given once (form or `?token=`); the browser then keeps a
 * session cookie, HttpOnly and SameSite=Strict, holding a random id the monitor keeps in memory
 * (never the token, nor anything derived from it): signing out deletes the id, so the cookie opens
 * nothing afterwards, and a restart signs every browser out. Every action is a POST that must carry
 * the CSRF token of the page it came from and, when the browser says so, come from the same origin.
 */
export class MonitorAuth {
  private readonly secret: Buffer;
  readonly cookieName: string;
  /** Session id → when it expires (ms). A Map keeps insertion order: the first entries expire first. */
  private readonly sessions = new Map<string, number>();
  /** The value every action form carries. */
  readonly csrfToken: string;

  constructor(private readonly token: string | false) {
    // Without a token (the host server authenticates), the secret lives as long as the process.
    this.secret = token === false ? randomBytes(32) : createHash('sha256').update(`skunq-monitor\0${token}`).digest();
    // The name depends on the secret, so two monitors on one host keep their cookies apart.
    this.cookieName = `skq_monitor_${this.derive('cookie-name').slice(0, 10)}`;
    this.csrfToken = this.derive('csrf');
  }

  /** Whether the monitor asks for a token at all. */
  get required(): boolean {
    return this.token !== false;
  }

  /** Whether the request carries the session cookie (always true without a token). */
  signedIn(req: IncomingMessage): boolean {
    if (this.token === false) return true;
    const value = readCookie(req.headers.cookie, this.cookieName);
    if (value === null) return false;
    const expires = this.sessions.get(value);
    if (expires === undefined) return false;
    if (expires > Date.now()) return true;
    this.sessions.delete(value);
    return false;
  }

  /** Whether `given` is the token, compared in constant time. */
  tokenMatches(given: unknown): boolean {
    return this.token !== false && typeof given === 'string' && sameText(digest(given), digest(this.token));
  }

  /** Starts a session: the Set-Cookie header that signs a browser in; `Secure` when the request came over HTTPS. */
  sessionCookie(req: IncomingMessage): string {
    const now = Date.now();
    for (const [id, expires] of this.sessions) {
      if (expires > now && this.sessions.size < MAX_SESSIONS) break;
      this.sessions.delete(id);
    }
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, now + SESSION_SECONDS * 1_000);
    return `${this.cookieName}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_SECONDS}${isHttps(req) ? '; Secure' : ''}`;
  }

  /** Ends the request's session, if any: the Set-Cookie header that signs a browser out. */
  signOut(req: IncomingMessage): string {
    const value = readCookie(req.headers.cookie, this.cookieName);
    if (value !== null) this.sessions.delete(value);
    return `${this.cookieName}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  /** A one-time message for the next page (what an action did): a cookie, so no URL can make a page say anything. */
  noticeCookie(message: string): string {
    return `${this.cookieName}_notice=${Buffer.from(message.slice(0, 300)).toString('base64url')}; HttpOnly; SameSite=Strict; Path=/; Max-Age=60`;
  }

  /** The notice a request carries, or null. */
  readNotice(req: IncomingMessage): string | null {
    const value = readCookie(req.headers.cookie, `${this.cookieName}_notice`);
    return value ? Buffer.from(value, 'base64url').toString('utf8') : null;
  }

  /** The Set-Cookie header that drops a shown notice. */
  clearedNotice(): string {
    return `${this.cookieName}_notice=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  /**
   * Why an action must be refused, or null: a missing or wrong CSRF token, or a request the browser
   * marks as cross-site (`Sec-Fetch-Site`) or whose `Origin` is another host.
   */
  actionRefusal(req: IncomingMessage, csrf: unknown): string | null {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return `a ${site} request cannot act here`;
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let host: string;
      try {
        host = new URL(origin).host;
      } catch {
        return 'the Origin header is not a URL';
      }
      const forwarded = firstHeader(req.headers['x-forwarded-host']);
      if (host !== req.headers.host && host !== forwarded) return `a request from ${origin} cannot act here`;
    } else if (origin === 'null' && site !== 'same-origin') {
      return 'a request from an opaque origin cannot act here';
    }
    if (typeof csrf !== 'string' || !sameText(csrf, this.csrfToken)) return 'the form is missing its CSRF token, or it is stale: reload the page';
    return null;
  }

  private derive(purpose: string): string {
    return createHmac('sha256', this.secret).update(purpose).digest('base64url');
  }
}

/**
 * A random token (192 bits, base64url) for a monitor started without one.
 *
 * @example
 * ```ts
 * const monitor = createMonitor({ token: process.env.SKQ_WEB_TOKEN ?? generateToken() });
 * ```
 */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function sameText(a: string | Buffer, b: string | Buffer): boolean {
  const x = typeof a === 'string' ? Buffer.from(a) : a;
  const y = typeof b === 'string' ? Buffer.from(b) : b;
  return x.length === y.length && timingSafeEqual(x, y);
}

function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim();
}

function isHttps(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true || firstHeader(req.headers['x-forwarded-proto']) === 'https';
}
