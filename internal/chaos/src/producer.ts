// The producer of a chaos run: fires a mix of jobs at a steady rate and writes each acknowledged
// enqueue to the ledger. An enqueue that fails (the server is down) is not acknowledged and is not
// recorded; the producer backs off and goes on.
import type { LedgerWriter, JobKind } from './ledger.js';
import type { SeededChoice } from './seeded-choice.js';
import { CHAOS_GROUPS, RATED_GROUP, fanout, flaky, grouped, hello, part, quick, slow } from './chaos-jobs.js';

export interface ProducerOptions {
  /** Jobs fired per second. */
  rate: number;
  leaseMs: number;
  /** Whether the backend keeps groups: then some jobs are fired in groups with limits. */
  groups: boolean;
}

export interface ProducerCounts {
  acked: number;
  refused: number;
  byKind: Record<JobKind, number>;
}

const KINDS: [JobKind, number][] = [
  ['quick', 35],
  ['slow', 15],
  ['long', 4],
  ['flaky', 12],
  ['delayed', 12],
  ['conjunction', 10],
  ['broadcast', 12],
  ['grouped', 15],
  ['rated', 4],
];

export class Producer {
  readonly counts: ProducerCounts = { acked: 0, refused: 0, byKind: { quick: 0, slow: 0, long: 0, flaky: 0, delayed: 0, conjunction: 0, broadcast: 0, grouped: 0, rated: 0 } };
  private stopped = false;
  private running: Promise<void> | null = null;
  private seq = 0;

  constructor(
    private readonly options: ProducerOptions,
    private readonly ledger: LedgerWriter,
    private readonly random: SeededChoice,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    const interval = 1_000 / this.options.rate;
    let due = Date.now();
    let lastError = '';
    while (!this.stopped) {
      due += interval;
      const kind = this.pickKind();
      try {
        await this.fire(kind);
        lastError = '';
      } catch (err) {
        this.counts.refused += 1;
        const message = err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err);
        if (message !== lastError) this.log(`enqueue refused (${message.slice(0, 160)})`);
        lastError = message;
        due = Date.now() + 100;
      }
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      else if (wait < -1_000) due = Date.now(); // fell behind (a pause): do not burst to catch up
    }
  }

  private pickKind(): JobKind {
    const kinds = this.options.groups ? KINDS : KINDS.filter(([kind]) => kind !== 'grouped' && kind !== 'rated');
    let roll = this.random.next() * kinds.reduce((sum, [, w]) => sum + w, 0);
    for (const [kind, weight] of kinds) {
      roll -= weight;
      if (roll < 0) return kind;
    }
    return 'quick';
  }

  private async fire(kind: JobKind): Promise<void> {
    const n = (this.seq += 1);
    const r = this.random;
    let queue = 'chaos';
    let workersBefore: string[] | undefined;
    let workersAfter: string[] | undefined;
    let listedAt: number | undefined;
    let group: string | undefined;
    let id: string;
    switch (kind) {
      case 'quick':
        id = (await quick.fire(n)).id;
        break;
      case 'slow':
        id = (await slow.fire(r.int(100, 800))).id;
        break;
      case 'long':
        // Longer than the lease: only lease renewal keeps it from being taken back.
        id = (await slow.fire(Math.round(this.options.leaseMs * 1.6))).id;
        break;
      case 'flaky':
        id = (await flaky.fire(r.int(1, 2))).id;
        break;
      case 'delayed':
        id = (await quick.fireAt(r.int(200, 3_000), n)).id;
        break;
      case 'conjunction':
        id = (await part.with(1, r.int(20, 300)).and(part.with(2, r.int(20, 300))).and(part.with(3, 10)).fire()).id;
        break;
      case 'grouped':
        // Half of them in the first group, which stays at its limit while the others take their turns.
        group = this.random.next() < 0.5 ? CHAOS_GROUPS[0] : CHAOS_GROUPS[r.int(1, CHAOS_GROUPS.length - 1)]!;
        id = (await grouped.fire(group, r.int(50, 400))).id;
        break;
      case 'rated':
        group = RATED_GROUP;
        id = (await grouped.fire(group, 10)).id;
        break;
      case 'broadcast':
        queue = 'chaos-fanout';
        listedAt = Date.now();
        workersBefore = (await fanout.workers()).map((w) => w.id);
        id = (await hello.fire(n)).id;
        // The job is acknowledged now: a listing that fails leaves the check of its deliveries half-bounded.
        workersAfter = await fanout.workers().then(
          (ws) => ws.map((w) => w.id),
          () => undefined,
        );
        break;
    }
    this.counts.acked += 1;
    this.counts.byKind[kind] += 1;
    this.ledger.write({ t: 'acked', at: Date.now(), job: id, queue, kind, ...(group && { group }), ...(workersBefore && { workersBefore, listedAt }), ...(workersAfter && { workersAfter }) });
  }
}
