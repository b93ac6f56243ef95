import type { ClaimRequest, ClaimResult } from '@skq/core/backend';

/** A claim waiting for the next pass over its route. */
interface Waiter {
  request: ClaimRequest;
  resolve(result: ClaimResult): void;
  reject(err: unknown): void;
}

/**
 * The claims one pass over a route serves. Until it has chosen, claims may join it: `requests`
 * grows, and each joiner's result is at its index.
 */
export interface ClaimPass {
  requests: ClaimRequest[];
  /** How many of `requests` the pass began with: those after it joined. */
  readonly began: number;
}

/** The deliveries a pass's requests want in all. */
export function wantedBy(requests: readonly ClaimRequest[]): number {
  return requests.reduce((sum, r) => sum + r.limit, 0);
}

/** What a pass tells its batches as it goes. */
export interface PassHooks {
  /** The route claims in order: the pass takes no more joiners, and claims on the route run as they come. */
  inOrder(): void;
  /** The route takes turns among groups: claims may join the pass until it has chosen. */
  turns(): void;
  /** The pass has chosen: later claims wait for the next one. */
  chosen(): void;
}

/** A route's pass taking joiners, or the claims waiting for the next pass. */
interface RouteState {
  joinable: { pass: ClaimPass; done: Promise<ClaimResult[]> } | null;
  waiting: Waiter[] | null;
}

/**
 * Batches this process's concurrent claims on a route that takes turns among groups, as SQLite's
 * group commit batches writes. A claim that arrives while a pass over its route is still choosing
 * joins it (its limit extends the turns under way); one that arrives while the pass starts what it
 * chose waits, and the next pass serves all those together. A claim by turns reads and writes a few
 * documents per group whatever its limit, so one pass for several claims costs little more than
 * one, and a group's free slots go out at once rather than to claims that return apart. Routes that
 * claim in order are not batched: their claims run as they come (a pass that began on a route that
 * took turns before, and finds it does not any more, serves those that joined it in order). A claim
 * with its own `now` runs alone.
 *
 * @example
 * ```ts
 * const batches = new ClaimBatches((pass, hooks) => claimDeliveries(store, pass, backend, hooks));
 * const { deliveries } = await batches.claim({ queue: 'demo', route: 'r', workerId: 'w1', limit: 4, leaseMs: 30_000 });
 * ```
 */
export class ClaimBatches {
  private readonly routes = new Map<string, RouteState>();
  /** Routes whose last pass took turns: a pass over one takes joiners from its start. */
  private readonly turnRoutes = new Set<string>();

  /** @param serve claims for a pass's requests, calling the hooks as it goes; one result per request, in order. */
  constructor(private readonly serve: (pass: ClaimPass, hooks: PassHooks) => Promise<ClaimResult[]>) {}

  /** Claims for one request: in the pass over its route that is choosing, else the next one if a pass runs, else at once. */
  async claim(request: ClaimRequest): Promise<ClaimResult> {
    if (request.now !== undefined) return (await this.run(null, [request]))[0]!;
    const key = `${request.queue}\u0000${request.route}`;
    const route = this.routes.get(key);
    if (route?.joinable) {
      const { pass, done } = route.joinable;
      const at = pass.requests.push(request) - 1;
      // A pass that ended before it read its joiners (a paused route) has no result for this one: the next pass serves it.
      return (await done)[at] ?? this.claim(request);
    }
    const waiting = route?.waiting;
    if (waiting) return new Promise((resolve, reject) => waiting.push({ request, resolve, reject }));
    return (await this.run(key, [request]))[0]!;
  }

  /**
   * One pass (`key` null: a claim that runs alone). The pass that holds the route's state takes
   * joiners while it chooses, collects the claims arriving after, and serves them when it ends.
   */
  private run(key: string | null, requests: ClaimRequest[]): Promise<ClaimResult[]> {
    const pass: ClaimPass = { requests, began: requests.length };
    let owned = false;
    const open = () => {
      if (key === null || this.routes.has(key)) return;
      this.routes.set(key, { joinable: { pass, done }, waiting: null });
      owned = true;
    };
    // The hooks run after the pass's first read, once `done` is set.
    const done: Promise<ClaimResult[]> = this.serve(pass, {
      inOrder: () => {
        if (key !== null) this.turnRoutes.delete(key);
        if (owned) this.routes.delete(key!);
        owned = false;
      },
      turns: () => {
        if (key !== null) this.turnRoutes.add(key);
        open();
      },
      chosen: () => {
        if (owned) this.routes.set(key!, { joinable: null, waiting: [] });
      },
    });
    if (key !== null && this.turnRoutes.has(key)) open();
    const ended = () => {
      if (owned) this.serveWaiting(key!);
    };
    done.then(ended, ended);
    return done;
  }

  /** Starts the pass for the claims that waited (it takes the next ones in turn); each gets its result or the pass's error. */
  private serveWaiting(key: string): void {
    const waiters = this.routes.get(key)?.waiting ?? [];
    this.routes.delete(key);
    if (waiters.length === 0) return;
    this.run(
      key,
      waiters.map((w) => w.request),
    ).then(
      (results) => waiters.forEach((w, i) => w.resolve(results[i]!)),
      (err: unknown) => waiters.forEach((w) => w.reject(err)),
    );
  }
}
