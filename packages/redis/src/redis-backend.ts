import type { Cluster, Redis } from 'ioredis';
import type {
  GroupLimits,
  GroupPage,
  JobEvent,
  JobRecord,
  RouteLimits,
  LogLine,
  ScheduleRecord,
  StateCounts,
  WorkerInfo,
} from '@skq/core';
import type {
  CallRecord,
  CallRecordQuery,
  ClaimRequest,
  ClaimResult,
  EnqueueResult,
  FailRequest,
  GroupListQuery,
  JobEventListener,
  LeaseToken,
  StateListPage,
  StateListQuery,
  NewJob,
  ScheduleDefinition,
  ScheduleFiring,
  ScheduleSaveOutcome,
  StorageBackend,
  StorageCapabilities,
  ThroughputBucket,
  WorkerCommand,
  WorkerRegistration,
  WorkerStatus,
} from '@skq/core/backend';
import { CommandRunner } from './command-runner.js';
import { EventSubscriptions } from './event-subscriptions.js';
import * as groups from './group-operations.js';
import * as jobs from './job-operations.js';
import * as reads from './job-reads.js';
import * as leaseOps from './lease-operations.js';
import * as state from './queue-state.js';
import { createClient, waitReady } from './redis-connection.js';
import { appendCallRecord, listCallRecords, readThroughput } from './redis-operations.js';
import { resolveRedisOptions, type ParsedRedisOptions, type RedisOptions } from './redis-options.js';
import * as schedules from './schedule-operations.js';
import { WaitingClaims } from './waiting-claims.js';
import { WorkerBatches } from './worker-batches.js';
import * as workers from './worker-operations.js';

/**
 * The Redis backend. Every step that touches more than one key is one Lua script; all keys of a
 * queue share a hash tag, so a queue lives in one cluster slot. A worker's completions and its next
 * claim made in the same tick go to Redis as one script call; claims take several jobs per call.
 *
 * @example
 * ```ts
 * const backend = await RedisBackend.connect('redis://127.0.0.1:6379?removeOnComplete=1000');
 * const queue = new SkunkQueue('emails', { backend });
 * ```
 */
export class RedisBackend implements StorageBackend {
  readonly kind = 'redis';
  readonly capabilities: StorageCapabilities = { crossProcess: true, pushEvents: true, batchClaim: true, durable: true, listing: 'by-state', groups: true, waitingClaims: true };
  private readonly runner: CommandRunner;
  private readonly batches: WorkerBatches;
  private readonly waits: WaitingClaims;
  private readonly subscriptions: EventSubscriptions;

  private constructor(client: Redis | Cluster, options: ParsedRedisOptions) {
    this.runner = new CommandRunner(client, options);
    this.waits = new WaitingClaims(this.runner);
    this.batches = new WorkerBatches(this.runner, this.waits);
    this.subscriptions = new EventSubscriptions(this.runner);
  }

  /** Connects, failing with `BACKEND_UNAVAILABLE` if Redis does not answer within `connectTimeoutMs`. */
  static async connect(input: RedisOptions | string): Promise<RedisBackend> {
    const options = resolveRedisOptions(input);
    const client = createClient(options);
    client.on('error', () => undefined); // Reconnection is automatic; calls made meanwhile fail with BACKEND_UNAVAILABLE.
    await waitReady(client, options.connectTimeoutMs, 'connect');
    return new RedisBackend(client, options);
  }

  /** The underlying client, for diagnostics such as `INFO memory`. */
  get redis(): Redis | Cluster {
    return this.runner.client;
  }

  enqueue(input: NewJob[]): Promise<EnqueueResult[]> {
    return jobs.enqueue(this.runner, input);
  }

  claim(request: ClaimRequest): Promise<ClaimResult> {
    return this.batches.claim(request);
  }

  complete(queue: string, lease: LeaseToken, result: unknown): Promise<void> {
    return this.batches.complete(queue, lease, result);
  }

  fail(queue: string, lease: LeaseToken, request: FailRequest): Promise<'retrying' | 'failed' | 'cancelled'> {
    return leaseOps.fail(this.runner, queue, lease, request);
  }

  extendLease(queue: string, leases: LeaseToken[], leaseMs: number): Promise<LeaseToken[]> {
    return leaseOps.extendLease(this.runner, queue, leases, leaseMs);
  }

  recoverExpired(queue: string, now?: number): Promise<number> {
    return leaseOps.recoverExpired(this.runner, queue, now);
  }

  cancel(queue: string, jobId: string): Promise<boolean> {
    return jobs.cancel(this.runner, queue, jobId);
  }

  reschedule(queue: string, jobId: string, runAt: number): Promise<boolean> {
    return jobs.reschedule(this.runner, queue, jobId, runAt);
  }

  getJob(queue: string, jobId: string): Promise<JobRecord | null> {
    return reads.getJob(this.runner, queue, jobId);
  }

  listJobsInState(query: StateListQuery): Promise<StateListPage> {
    return reads.listJobsInState(this.runner, query);
  }

  setGroupLimits(queue: string, group: string, limits: GroupLimits | null): Promise<void> {
    return groups.setGroupLimits(this.runner, queue, group, limits);
  }

  getGroupLimits(queue: string, group: string): Promise<GroupLimits | null> {
    return groups.getGroupLimits(this.runner, queue, group);
  }

  setRouteLimits(queue: string, route: string, limits: RouteLimits | null): Promise<void> {
    return groups.setRouteLimits(this.runner, queue, route, limits);
  }

  getRouteLimits(queue: string, route: string): Promise<RouteLimits | null> {
    return groups.getRouteLimits(this.runner, queue, route);
  }

  listGroups(query: GroupListQuery): Promise<GroupPage> {
    return groups.listGroups(this.runner, query);
  }

  retryJob(queue: string, jobId: string, request: { runAt: number; attempts: number }): Promise<number> {
    return jobs.retryJob(this.runner, queue, jobId, request);
  }

  removeJobs(queue: string, jobIds: string[]): Promise<string[]> {
    return jobs.removeJobs(this.runner, queue, jobIds);
  }

  setProgress(queue: string, lease: LeaseToken, progress: unknown): Promise<void> {
    return leaseOps.setProgress(this.runner, queue, lease, progress);
  }

  setPaused(queue: string, route: string, paused: boolean): Promise<boolean> {
    return state.setPaused(this.runner, queue, route, paused);
  }

  pausedRoutes(queue: string): Promise<string[]> {
    return state.pausedRoutes(this.runner, queue);
  }

  throughput(queue: string, since: number): Promise<ThroughputBucket[]> {
    return this.runner.call('throughput', queue, () => readThroughput(this.runner.client, this.runner.keys(queue), since, Date.now()));
  }

  async appendCallRecord(queue: string, record: CallRecord): Promise<void> {
    await this.runner.call('appendCallRecord', queue, () => appendCallRecord(this.runner.client, this.runner.keys(queue), record));
  }

  listCallRecords(queue: string, query: CallRecordQuery): Promise<CallRecord[]> {
    return this.runner.call('listCallRecords', queue, () => listCallRecords(this.runner.client, this.runner.keys(queue), query));
  }

  countByState(queue: string): Promise<StateCounts> {
    return state.countByState(this.runner, queue);
  }

  appendLogs(queue: string, lines: LogLine[]): Promise<void> {
    return jobs.appendLogs(this.runner, queue, lines);
  }

  getLogs(queue: string, jobId: string): Promise<LogLine[]> {
    return reads.getLogs(this.runner, queue, jobId);
  }

  registerWorker(info: WorkerRegistration, ttlMs: number): Promise<void> {
    return workers.registerWorker(this.runner, info, ttlMs);
  }

  heartbeat(queue: string, workerId: string, ttlMs: number, status: WorkerStatus): Promise<WorkerInfo | null> {
    return workers.heartbeat(this.runner, queue, workerId, ttlMs, status);
  }

  sendWorkerCommand(queue: string, workerId: string, command: WorkerCommand): Promise<boolean> {
    return workers.sendWorkerCommand(this.runner, queue, workerId, command);
  }

  unregisterWorker(queue: string, workerId: string): Promise<void> {
    return workers.unregisterWorker(this.runner, queue, workerId);
  }

  listWorkers(queue: string): Promise<WorkerInfo[]> {
    return workers.listWorkers(this.runner, queue);
  }

  saveSchedule(queue: string, definition: ScheduleDefinition): Promise<ScheduleSaveOutcome> {
    return schedules.saveSchedule(this.runner, queue, definition);
  }

  listSchedules(queue: string): Promise<ScheduleRecord[]> {
    return schedules.listSchedules(this.runner, queue);
  }

  setSchedulePaused(queue: string, id: string, paused: boolean): Promise<boolean> {
    return schedules.setSchedulePaused(this.runner, queue, id, paused);
  }

  removeSchedule(queue: string, id: string): Promise<boolean> {
    return schedules.removeSchedule(this.runner, queue, id);
  }

  fireSchedule(queue: string, id: string, version: number, firing: ScheduleFiring): Promise<boolean> {
    return schedules.fireSchedule(this.runner, queue, id, version, firing);
  }

  advanceSchedule(queue: string, id: string, version: number, next: { nextRunAt: number; state: Record<string, number> | null }): Promise<boolean> {
    return schedules.advanceSchedule(this.runner, queue, id, version, next);
  }

  subscribe(queue: string, listener: JobEventListener, types?: readonly JobEvent['type'][]): Promise<() => Promise<void>> {
    return this.subscriptions.subscribe(queue, listener, types);
  }

  listQueues(): Promise<string[]> {
    return this.runner.listQueues();
  }

  async close(): Promise<void> {
    if (this.runner.closed) return;
    await this.batches.flushPending();
    this.runner.closed = true;
    this.waits.close();
    this.subscriptions.close();
    await this.runner.client.quit().catch(() => this.runner.client.disconnect());
  }
}
