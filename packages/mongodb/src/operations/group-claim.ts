import { randomUUID } from 'node:crypto';
import type { Filter } from 'mongodb';
import type { GroupLimits, RateLimit } from '@skq/core';
import { DEFAULT_GROUP, type ClaimRequest } from '@skq/core/backend';
import type { HoldDoc, LimitsDoc, TurnDoc } from '../collections.js';
import type { DeliveryDoc } from '../documents.js';
import { wantedBy, type ClaimPass } from './claim-batches.js';
import { readSlots, releaseSlot, takeSlot, type HeldSlot, type SlotView } from './group-slots.js';
import { limitsId, limitsOf } from './groups.js';
import { saveTurn, type GroupKeys } from './group-turns.js';
import { giveBackStart, takeStart, windowOpensAt, type StartOutcome, type TakenStart } from './rate-windows.js';
import type { MongoStore } from './store.js';

/** What {@link claimByTurns} took and what held the rest back. */
export interface TurnsOutcome {
  /** The deliveries started for each request that may take any (see `chosen`), in turn order. */
  claimed: DeliveryDoc[][];
  /** The earliest instant something held back may be claimable: a hold or a rate window ending, a run time. */
  nextRunAt: number | null;
  /** Due work was held back by a limit or a hold. */
  limited: boolean;
}

/** Own limits read with a claim's first reads; a queue with more is looked up group by group. */
const LIMITS_READ = 1_000;

/** A turn's choice: a group (null: the jobs without one) with a due delivery its limits let start, as its turn read them. */
interface Plan {
  key: string;
  grp: string | null;
  rule: GroupLimits | null;
  slots: SlotView | null;
  /** The request the delivery goes to, once the turns are over. */
  to?: number;
}

/** How a start went: the delivery started, none (another claim took it), held back by its group, or the route's window is full. */
type Start = DeliveryDoc | 'none' | 'blocked' | 'route-full';

/**
 * The claim of a route where grouped jobs are queued or that has a rate: fair turns. The route's
 * groups with queued deliveries take turns in key order, the jobs without a group (the turn '')
 * before the first group, starting after the group the last claim served (the route's turn
 * document), round and round, one delivery per turn, until `limit` are chosen or a whole round chose
 * none. Within a group: priority, run time, enqueue order, due and claimable by this worker.
 * Several requests of one process on the route (a pass; see `ClaimBatches`) share the turns: their
 * limits add up (a request joining while the turns run adds its own), and the choices go to them in
 * turn order, each filled to its limit before the next. `chosen` is called once the turns are over,
 * and says how many of the requests may take what they chose (those that joined may not, when the
 * route was paused meanwhile).
 *
 * The turns choose, so those of a round run at once; the choices are started together at the end
 * (the groups at once, a group's one after another), so a slot is taken just before its delivery is
 * handed out rather than held through the rest of the claim.
 * - Reads, at once: the queue's group limits (up to LIMITS_READ, else by id group by group) and its
 *   default ('*', by id), its holds still on, whether jobs without a group are queued (the
 *   'group-claim' index); with a route rate, where its window stands (`rate-windows.ts`). The route's
 *   groups with queued deliveries, from `keys`, after the group in `turn` (the route's turn document,
 *   as the claim read it). Then, once a claim per group: its slots (`group-slots.ts`; a slot whose
 *   claim stalled is fenced there, a write) and where its window stands, as its limits say; unless
 *   they hold it back, its due deliveries (the 'group-claim' index, up to `limit`), or its next run
 *   time when none is due.
 * - Writes, per choice started, on the clock at its start: for a group with a concurrency limit, a
 *   free slot, for the due delivery of the slot's rank among the free ones (a claim that finds them
 *   all taken passes the group by); a start in the group's and the route's windows as their rates
 *   say; then the delivery `running` for this worker, attempts + 1: with a slot, a compare-and-set
 *   on the delivery named (its state, attempts, run time and fences); without, the group's next due
 *   delivery, one `findOneAndUpdate` in claim order. What a choice not started took is given back.
 *   At the end: the turn document, at the last group served (a failure there is only warned about).
 * - Returns: the deliveries started, in turn order, and what held the rest back.
 */
export async function claimByTurns(
  store: MongoStore,
  pass: ClaimPass,
  now: number,
  routeRate: RateLimit | null,
  keys: GroupKeys,
  turn: TurnDoc | null,
  chosen: () => Promise<number>,
): Promise<TurnsOutcome> {
  const { c } = store;
  const { requests } = pass;
  const { queue, route } = requests[0]!;
  const [limits, defaults, holds, ungrouped, routeOpensAt] = await Promise.all([
    c.limits.find({ queue, scope: 'group' }).limit(LIMITS_READ + 1).toArray(),
    // By id: a queue with more limits than a read takes may not have it among them.
    c.limits.findOne({ _id: limitsId(queue, 'group', DEFAULT_GROUP) }),
    c.holds.find({ queue, until: { $gt: now } }).toArray(),
    c.deliveries.findOne({ queue, route, state: 'queued', grp: null }, { projection: { _id: 1 } }),
    routeRate ? windowOpensAt(store, queue, 'route', route, routeRate, now) : null,
  ]);
  if (routeOpensAt !== null) return { claimed: Array.from({ length: await chosen() }, () => []), nextRunAt: routeOpensAt, limited: true };
  const claim = new TurnClaim(store, requests, now, routeRate, limits, defaults, holds, ungrouped !== null);
  let key = turn ? await keys.after(turn.grp) : '';
  // The turns since the last choice: one coming round again ends the turns (a whole round chose none).
  // Not just the first of them: groups that empty during the claim can close the round short of it.
  const idle = new Set<string>();
  const plans: Plan[] = [];
  while (plans.length < wantedBy(pass.requests) && !idle.has(key)) {
    // The next turns wanted, each started as its key is known: they only read, so they run at once,
    // and their answers count in turn order. A group comes once in a batch (once a round).
    const batch: string[] = [];
    const turns: Promise<Plan | null>[] = [];
    // Turns that pass without a read (held back, or nothing of theirs queued) do not count to the batch.
    for (let wanted = 0; wanted < wantedBy(pass.requests) - plans.length && !idle.has(key) && !batch.includes(key); key = await keys.after(key)) {
      const passes = claim.passes(key);
      const answer = passes ? Promise.resolve(null) : claim.takeTurn(key, plans);
      answer.catch(() => undefined); // awaited below, unless finding the next key fails first
      batch.push(key);
      turns.push(answer);
      if (!passes) wanted += 1;
    }
    (await Promise.all(turns)).forEach((plan, i) => {
      if (plan) {
        plans.push(plan);
        idle.clear();
      } else idle.add(batch[i]!);
    });
  }
  const last = await claim.startAll(plans, await chosen());
  // Where the turns stopped only orders the next claim's turns: failing to save it fails nothing started.
  if (last !== null) await saveTurn(store, queue, route, last).catch((err: unknown) => store.warn('mongodb: where the turns stopped was not saved', { queue, route, err }));
  const { outcome } = claim;
  if (claim.routeOpens !== undefined) outcome.nextRunAt = claim.routeOpens;
  return outcome;
}

/** One claim by turns: what it read, chose, started and found held back. */
class TurnClaim {
  readonly outcome: TurnsOutcome;
  /** When the route's window opens, once a start found it full. */
  routeOpens: number | null | undefined;
  /** The fence token of this claim's slots and starts. */
  private readonly owner = randomUUID();
  private readonly held: Map<string, number>;
  private readonly rules: Map<string, GroupLimits | null>;
  private readonly defaults: GroupLimits | null;
  private readonly allLimits: boolean;
  /** Per turn key, what its first turn of this claim read: due deliveries (in claim order) and slots. */
  private readonly views = new Map<string, { due: DeliveryDoc[]; slots: SlotView | null }>();
  /** Groups held back in this claim, and until when if known: their later turns in it pass at once. */
  private readonly stopped = new Map<string, number | null>();
  /** This claim's starts of the route's window, one after another (see {@link takeRouteStart}). */
  private routeStarts: Promise<unknown> = Promise.resolve();
  private readonly base: Filter<DeliveryDoc>;

  /** The queue and route, as the requests share them. */
  private readonly request: ClaimRequest;
  /** The workers the requests claim for: a delivery addressed to one of them is theirs to take. */
  private readonly workers: (string | null)[];

  constructor(
    private readonly store: MongoStore,
    private readonly requests: ClaimRequest[],
    private readonly now: number,
    private readonly routeRate: RateLimit | null,
    limits: LimitsDoc[],
    defaults: LimitsDoc | null,
    holds: HoldDoc[],
    private readonly ungrouped: boolean,
  ) {
    this.request = requests[0]!;
    this.workers = [null, ...new Set(requests.map((r) => r.workerId))];
    this.outcome = { claimed: [], nextRunAt: null, limited: false };
    this.held = new Map(holds.map((h) => [h.grp, h.until]));
    this.rules = new Map(limits.map((l) => [l.key, limitsOf(l)]));
    this.defaults = limitsOf(defaults);
    this.allLimits = limits.length <= LIMITS_READ;
    this.base = { queue: this.request.queue, route: this.request.route, state: 'queued' };
  }

  /**
   * Whether the turn of `key` passes without a read: no job without a group queued (''), or the group
   * held, held back earlier in this claim, or limited to `concurrency: 0` (recorded as held back).
   */
  passes(key: string): boolean {
    if (key === '') return !this.ungrouped;
    // Until when it is held back: undefined when it is not (as far as is known without a read).
    let until = this.stopped.has(key) ? (this.stopped.get(key) ?? null) : this.held.get(key);
    if (until === undefined && this.allLimits && (this.rules.get(key) ?? this.defaults)?.concurrency === 0) until = null;
    if (until === undefined) return false;
    this.blocked(key, until);
    return true;
  }

  /**
   * One turn: whether group `key` ('': the jobs without a group) has a due delivery its limits let
   * start, counting what earlier turns of this claim chose. Returns the choice, or null.
   */
  async takeTurn(key: string, plans: Plan[]): Promise<Plan | null> {
    if (this.passes(key)) return null;
    const grp = key === '' ? null : key;
    const rule = grp === null ? null : await this.ruleOf(grp);
    if (rule?.concurrency === 0) return this.blocked(grp, null);
    let view = this.views.get(key);
    if (!view) {
      const { queue } = this.request;
      // Slots and window first: a group they hold back costs no read of its deliveries.
      const [slots, opensAt] = await Promise.all([
        rule?.concurrency !== undefined ? readSlots(this.store, queue, grp!, rule.concurrency, this.now) : null,
        rule?.rate ? windowOpensAt(this.store, queue, 'group', grp!, rule.rate, this.now) : null,
      ]);
      if (rule?.concurrency !== undefined && slots === null) return this.blocked(grp, null);
      if (opensAt !== null) return this.blocked(grp, opensAt);
      this.views.set(key, (view = { due: await this.dueOf(grp), slots }));
      if (view.due.length === 0) this.later(await this.nextRunAt(grp));
    }
    const chosen = plans.filter((p) => p.key === key).length;
    if (view.due.length <= chosen) return null;
    if (view.slots && view.slots.free.length <= chosen) return this.blocked(grp, null);
    return { key, grp, rule, slots: view.slots };
  }

  /**
   * Starts the turns' choices: gives them to the first `eligible` requests in turn order, each filled
   * to its limit before the next; then starts each group's one after another, the groups at once. Returns the key
   * of the last turn (in turn order) whose delivery started, or null; the deliveries started go to
   * their requests in turn order.
   */
  async startAll(plans: Plan[], eligible: number): Promise<string | null> {
    this.outcome.claimed = Array.from({ length: eligible }, () => []);
    let to = 0;
    let given = 0;
    for (const plan of plans) {
      while (to < eligible && given >= this.requests[to]!.limit) [to, given] = [to + 1, 0];
      if (to >= eligible) break;
      plan.to = to;
      given += 1;
    }
    plans = plans.filter((p) => p.to !== undefined);
    const started = new Map<Plan, DeliveryDoc>();
    const groups = await Promise.allSettled(
      [...new Set(plans.map((p) => p.key))].map(async (key) => {
        for (const plan of plans.filter((p) => p.key === key)) {
          const result = await this.start(plan);
          // The jobs without a group may be addressed to one worker of the pass: another request's choice may still start.
          if (result === 'none' && key === '') continue;
          if (typeof result !== 'object') break; // held back, or none left: the group's later choices would be too
          started.set(plan, result);
        }
      }),
    );
    // What started runs under its lease and must reach its request: a failed start fails the claim only when nothing started.
    const failed = groups.find((g) => g.status === 'rejected');
    if (failed && started.size === 0) throw failed.reason;
    if (failed) {
      this.outcome.limited = true; // the worker claims again as its jobs end, not at its next poll
      this.store.warn('mongodb: a claim by turns started part of its choices', { queue: this.request.queue, route: this.request.route, err: failed.reason });
    }
    let last: string | null = null;
    for (const plan of plans) {
      const doc = started.get(plan);
      if (doc) {
        this.outcome.claimed[plan.to!]!.push(doc);
        last = plan.key;
      }
    }
    return last;
  }

  /**
   * A start of the route's window. The groups' starts run at once, and each would choose the same slot
   * of the route's window and lose the race to another of this claim: they take it one after another.
   */
  private takeRouteStart(queue: string, route: string, rate: RateLimit, now: number): Promise<StartOutcome> {
    const taken = this.routeStarts.then(() => takeStart(this.store, queue, 'route', route, rate, now, this.owner));
    this.routeStarts = taken.catch(() => undefined);
    return taken;
  }

  /**
   * Starts a choice's delivery if its limits let it: with a concurrency limit, first a slot, for the
   * due delivery of the slot's rank among the free ones (racing claims that win other slots name
   * other deliveries); then the starts its group's and route's rates need; then the delivery. Gives
   * back what it took when the delivery does not start.
   */
  private async start(plan: Plan): Promise<Start> {
    const { store, owner } = this;
    const request = this.requests[plan.to!]!;
    // The clock when this choice starts, not when the turns began: a window and a lease count from the start.
    const now = request.now ?? Math.max(this.now, Date.now());
    const { queue, route } = request;
    const { grp, rule, slots } = plan;
    let slot: HeldSlot | null = null;
    let named: DeliveryDoc | null = null;
    let groupStart: TakenStart | null = null;
    let routeStart: TakenStart | null = null;
    const giveBack = () => Promise.all([releaseSlot(store, queue, slot), giveBackStart(store, groupStart, now), giveBackStart(store, routeStart, now)]);
    if (slots) {
      // The group's due deliveries as its turn read them, less those this claim's earlier choices took.
      const { due } = this.views.get(plan.key)!;
      const taken = await takeSlot(store, queue, slots, (rank) => (due[rank] ? { deliveryId: due[rank]._id, attempt: due[rank].attempts + 1 } : null), owner, now);
      if (!taken) return (this.blocked(grp, null), 'blocked');
      slot = taken.slot;
      named = due.splice(due.findIndex((d) => d._id === taken.target.deliveryId), 1)[0]!;
    }
    try {
      if (rule?.rate) {
        const taken = await takeStart(store, queue, 'group', grp!, rule.rate, now, owner);
        if (!('taken' in taken)) return (await giveBack(), this.blocked(grp, taken.opensAt), 'blocked');
        groupStart = taken.taken;
      }
      if (this.routeRate) {
        const taken = await this.takeRouteStart(queue, route, this.routeRate, now);
        if (!('taken' in taken)) {
          await giveBack();
          // Nothing on the route starts before its window opens.
          this.outcome.limited = true;
          this.routeOpens = taken.opensAt;
          return 'route-full';
        }
        routeStart = taken.taken;
      }
    } catch (err) {
      // What was taken before the failure goes back. Not after the delivery's update below: a reply lost
      // there may hide an update the server made, and the slot then names a running delivery.
      await giveBack().catch(() => undefined);
      throw err;
    }
    const running = { state: 'running' as const, workerId: request.workerId, leaseUntil: now + request.leaseMs, startedAt: now, cancelRequested: false };
    const claimed = named
      ? await store.c.deliveries.findOneAndUpdate(
          { _id: named._id, state: 'queued', attempts: named.attempts, runAt: { $lte: now }, fences: { $ne: owner } },
          { $set: { ...running, slotted: true }, $inc: { attempts: 1 }, $unset: { fences: '' } },
          { returnDocument: 'after' },
        )
      : await store.c.deliveries.findOneAndUpdate(
          this.dueFilter(grp, [null, request.workerId]),
          { $set: { ...running, ...(grp !== null && { slotted: false }) }, $inc: { attempts: 1 }, $unset: { fences: '' } },
          { sort: { priority: -1, runAt: 1, enq: 1 }, returnDocument: 'after' },
        );
    if (claimed) return claimed;
    await giveBack();
    // A slot's delivery taken meanwhile: by a claim that won another slot of the group, which has its turn now.
    return named ? (this.blocked(grp, null), 'blocked') : 'none';
  }

  /** Held back by a limit; `until`, when known, is when it may let one through. Returns null, a turn's answer. */
  private blocked(grp: string | null, until: number | null): null {
    this.outcome.limited = true;
    this.later(until);
    if (grp !== null) this.stopped.set(grp, until);
    return null;
  }

  private later(at: number | null): void {
    const { outcome } = this;
    if (at !== null && at > this.now && (outcome.nextRunAt === null || at < outcome.nextRunAt)) outcome.nextRunAt = at;
  }

  /** A group's limits: its own, else the default's. */
  private async ruleOf(grp: string): Promise<GroupLimits | null> {
    if (!this.rules.has(grp) && !this.allLimits) this.rules.set(grp, limitsOf(await this.store.c.limits.findOne({ _id: limitsId(this.request.queue, 'group', grp) })));
    return this.rules.get(grp) ?? this.defaults;
  }

  /** A group's due deliveries (null: those without a group) that these workers may take (a group's are never addressed to one). */
  private dueFilter(grp: string | null, workers = this.workers): Filter<DeliveryDoc> {
    return { ...this.base, grp, runAt: { $lte: this.now }, targetWorker: { $in: workers } };
  }

  /** A group's due deliveries in claim order, up to the requests' limit (the 'group-claim' index). */
  private dueOf(grp: string | null): Promise<DeliveryDoc[]> {
    const fields = { _id: 1, attempts: 1, priority: 1, runAt: 1, enq: 1 } as const;
    return this.store.c.deliveries.find(this.dueFilter(grp), { projection: fields }).sort({ priority: -1, runAt: 1, enq: 1 }).limit(wantedBy(this.requests)).toArray();
  }

  /** The earliest later run time of a group's queued deliveries (null: those without a group) that these workers may take (the 'group-claim' index), or null. */
  private async nextRunAt(grp: string | null): Promise<number | null> {
    const filter = { ...this.base, grp, runAt: { $gt: this.now }, targetWorker: { $in: this.workers } };
    return (await this.store.c.deliveries.findOne(filter, { sort: { runAt: 1 }, projection: { runAt: 1 } }))?.runAt ?? null;
  }
}
