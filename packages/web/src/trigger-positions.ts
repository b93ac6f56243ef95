/** A stored position of a trigger runner: the runner, the collection it follows (`*`: the whole database) and when it stored it (ms). */
export interface TriggerPositionView {
  runner: string;
  collection: string;
  at: number;
}

/**
 * Reads where each trigger runner of the store at `url` has got to, for the monitor's Trigger runners page.
 * The monitor knows no backend package: whoever embeds it passes the reader of the store's triggers
 * (`skunq web` passes MongoDB's when its backend is a `mongodb://` URL). Without one, the page is not offered.
 *
 * @example
 * ```ts
 * import { TriggerRunner } from '@skq/mongodb';
 * const monitor = createMonitor({ backend: url, token, triggerPositions: (url) => TriggerRunner.positions(url) });
 * ```
 */
export type TriggerPositionsProvider = (url: string) => Promise<TriggerPositionView[]>;
