import { type JobEvent, type JobEventType } from '@skq/core';
import { minuteOf, type EndedKind } from '@skq/core/backend';
import type { KvTransaction } from '../kv/port.js';
import type { QueueKeys } from './keys.js';
import { decode, encode, type StoredDelivery, type StoredJob } from './records.js';

/** Cluster versions per ms: FDB advances about a million versions a second. */
export const VERSIONS_PER_MS = 1_000;

/** A delivery's fields that may be large, each stored under a key of its own once its JSON passes {@link INLINE_FIELD_BYTES}. */
const OUTSIDE_FIELDS = ['result', 'error', 'progress'] as const;
type OutsideField = (typeof OUTSIDE_FIELDS)[number];
/** Smaller fields stay in the delivery's value, so most deliveries are one key. */
const INLINE_FIELD_BYTES = 1_024;

/** A delivery's value: the fields kept apart are null here, and named in `outside`. */
type StoredDeliveryValue = StoredDelivery & { outside?: OutsideField[] };

/** States a delivery is counted in (`scheduled` is a queued delivery whose run time is ahead). */
export type CountedState = StoredDelivery['state'];

/**
 * One transaction on one queue, with the operations every queue transaction shares: reading and
 * writing jobs and deliveries, keeping the pending and lease indexes and the counters in step, and
 * recording events. Events are written with versionstamped keys at the end, in commit order, and
 * bump the key subscribers watch.
 */
export class QueueTransaction {
  private readonly events: Omit<JobEvent, 'seq'>[] = [];
  /** The fields each delivery read here kept apart, so a write that brings one back inline clears its key. */
  private readonly outsideOf = new WeakMap<StoredDelivery, OutsideField[]>();

  constructor(
    readonly tr: KvTransaction,
    readonly keys: QueueKeys,
    readonly now: number,
  ) {}

  get queue(): string {
    return this.keys.queue;
  }

  /** The cluster's clock: this transaction's read version, as a number. */
  async version(): Promise<number> {
    return Number(await this.tr.getReadVersion());
  }

  async job(jobId: string, snapshot = false): Promise<StoredJob | null> {
    const raw = await (snapshot ? this.tr.snapshot : this.tr).get(this.keys.job(jobId));
    return raw ? decode<StoredJob>(raw) : null;
  }

  /**
   * A delivery with its result, error and progress. Each of those is kept apart once large, so that
   * together they never make one value over FDB's 100 KB: a large progress report, an earlier
   * attempt's error and a result each fit a value of their own.
   */
  async delivery(deliveryId: string, snapshot = false): Promise<StoredDelivery | null> {
    const reader = snapshot ? this.tr.snapshot : this.tr;
    const raw = await reader.get(this.keys.delivery(deliveryId));
    if (!raw) return null;
    const { outside = [], ...d } = decode<StoredDeliveryValue>(raw);
    const values = await Promise.all(outside.map((field) => reader.get(this.keys.deliveryField(deliveryId, field))));
    outside.forEach((field, i) => {
      (d as Record<OutsideField, unknown>)[field] = values[i] ? decode(values[i]) : null;
    });
    this.outsideOf.set(d, outside);
    return d;
  }

  async deliveriesOf(job: StoredJob, snapshot = false): Promise<StoredDelivery[]> {
    const found = await Promise.all(job.deliveryIds.map((id) => this.delivery(id, snapshot)));
    return found.filter((d): d is StoredDelivery => d !== null);
  }

  putJob(job: StoredJob): void {
    this.tr.set(this.keys.job(job.id), encode(job));
  }

  putDelivery(d: StoredDelivery): void {
    const value: StoredDeliveryValue = { ...d };
    const outside: OutsideField[] = [];
    const before = this.outsideOf.get(d) ?? [];
    for (const field of OUTSIDE_FIELDS) {
      const json = d[field] === null || d[field] === undefined ? null : encode(d[field]);
      const key = this.keys.deliveryField(d.id, field);
      if (json !== null && json.length > INLINE_FIELD_BYTES) {
        this.tr.set(key, json);
        value[field] = null;
        outside.push(field);
      } else if (before.includes(field)) {
        this.tr.clear(key);
      }
    }
    if (outside.length) value.outside = outside;
    this.outsideOf.set(d, outside);
    this.tr.set(this.keys.delivery(d.id), encode(value));
  }

  /**
   * The key of a queued delivery: `r` when due, else `t` (which a claim moves to `r` once due). A
   * grouped delivery is due under `gr`, by route and group, so that a claim finds a route's next
   * group with one range read; its timer key is the same as any other's, with the group as its value.
   */
  pendingKey(d: StoredDelivery, due: boolean): Buffer {
    const target = d.targetWorker ?? '';
    if (due && d.group !== undefined) return this.keys.key('gr', d.route, d.group, -d.priority, d.runAt, d.seq, d.id);
    return due ? this.keys.key('r', d.route, target, -d.priority, d.runAt, d.seq, d.id) : this.keys.key('t', d.route, target, d.runAt, -d.priority, d.seq, d.id);
  }

  addPending(d: StoredDelivery): void {
    const due = d.runAt <= this.now;
    this.tr.set(this.pendingKey(d, due), !due && d.group !== undefined ? Buffer.from(d.group, 'utf8') : Buffer.alloc(0));
    // A blind write: it never conflicts, and recovery finds the delivery here once its worker is gone.
    if (d.targetWorker) this.tr.set(this.keys.key('a', d.route, d.targetWorker), Buffer.alloc(0));
  }

  /** Clears both possible pending keys: whichever side of its run time the delivery is on. */
  removePending(d: StoredDelivery): void {
    this.tr.clear(this.pendingKey(d, true));
    this.tr.clear(this.pendingKey(d, false));
  }

  leaseKey(d: StoredDelivery): Buffer {
    return this.keys.key('l', d.leaseVersion ?? 0, d.id);
  }

  /**
   * Moves a delivery between counted states (atomic adds: counters never conflict). A grouped
   * delivery is also counted queued or running in its group (for listings: claims judge a group's
   * concurrency by its slots), and gives up its slot when it stops running.
   */
  count(d: Pick<StoredDelivery, 'route' | 'group' | 'slot'>, from: CountedState | null, to: CountedState | null): void {
    if (from === to) return;
    if (from) this.tr.add(this.keys.counter(d.route, from), -1);
    if (to) this.tr.add(this.keys.counter(d.route, to), 1);
    if (d.group === undefined) return;
    if (from === 'queued' || from === 'running') this.tr.add(this.keys.groupCounter(d.group, from), -1);
    if (to === 'queued' || to === 'running') this.tr.add(this.keys.groupCounter(d.group, to), 1);
    if (from === 'running' && d.slot !== undefined) this.tr.clear(this.keys.key('gs', d.group, d.slot));
  }

  /** Counts an ending in its minute's throughput. */
  throughput(route: string, outcome: 'succeeded' | 'failed'): void {
    this.tr.add(this.keys.key('tp', minuteOf(this.now), route, outcome === 'succeeded' ? 'c' : 'f'), 1);
  }

  event(type: JobEventType, jobId: string | null, deliveryId: string | null, route: string | null, workerId: string | null, data?: unknown): void {
    this.events.push({ type, queue: this.queue, jobId, deliveryId, route, workerId, at: this.now, ...(data !== undefined && { data }) });
  }

  /** Marks a job ended (for retention) and indexes it by kind and time. */
  markEnded(job: StoredJob, kind: EndedKind): void {
    job.endedKind = kind;
    job.endedAt = this.now;
    this.putJob(job);
    this.tr.set(this.keys.key('ended', kind, this.now, job.id), Buffer.alloc(0));
    this.tr.add(this.keys.key('endedN', kind), 1);
  }

  /** Undoes {@link markEnded} for a job retried. */
  unmarkEnded(job: StoredJob): void {
    if (!job.endedKind) return;
    this.tr.clear(this.keys.key('ended', job.endedKind, job.endedAt ?? 0, job.id));
    this.tr.add(this.keys.key('endedN', job.endedKind), -1);
    job.endedKind = null;
    job.endedAt = null;
  }

  /** Writes the events recorded so far; called once, at the end of the transaction body. */
  flushEvents(): void {
    if (this.events.length === 0) return;
    this.events.forEach((event, i) => {
      const { key, offset } = this.keys.versionstamped(['ev'], i);
      this.tr.setVersionstampedKey(key, offset, encode(event));
    });
    this.tr.add(this.keys.wakeup(), 1);
    this.events.length = 0;
  }
}
