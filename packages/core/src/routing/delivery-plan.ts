import type { QueueType, WorkerInfo } from '../storage/contract.js';

/**
 * Where one delivery of a job goes: a route and, on broadcast queues, one worker.
 *
 * @example
 * ```ts
 * const direct: DeliveryTarget = { route: 'foo', targetWorker: null }; // the first free worker of foo takes it
 * const broadcast: DeliveryTarget = { route: 'foo', targetWorker: 'w1' }; // only worker w1 may take it
 * ```
 */
export interface DeliveryTarget {
  route: string;
  targetWorker: string | null;
}

/**
 * The deliveries a fired job gets. Direct: one per route, taken by the first free worker of that
 * route. Broadcast: one per route and per worker listening on it now; a worker that starts
 * listening later does not receive jobs fired before it.
 *
 * @example
 * ```ts
 * planDeliveries(['foo'], 'broadcast', liveWorkers); // [{ route: 'foo', targetWorker: 'w1' }, …]
 * ```
 */
export function planDeliveries(routes: readonly string[], type: QueueType, liveWorkers: readonly Pick<WorkerInfo, 'id' | 'routes'>[]): DeliveryTarget[] {
  if (type === 'direct') return routes.map((route) => ({ route, targetWorker: null }));
  const targets: DeliveryTarget[] = [];
  for (const route of routes) {
    for (const worker of liveWorkers) {
      if (worker.routes.includes(route)) targets.push({ route, targetWorker: worker.id });
    }
  }
  return targets;
}

/**
 * Delivery ids are the job id and the delivery's position, so they sort with their job.
 *
 * @example
 * ```ts
 * deliveryId('order-42', 1); // 'order-42.1', the job's second delivery
 * ```
 */
export function deliveryId(jobId: string, index: number): string {
  return `${jobId}.${index}`;
}
