import { SkunkQueue } from '@skq/core';
import { UsageError, type FlagSpec, type ParsedFlags } from './argv.js';
import { loadConfig } from './config-file.js';

/** The -q and -b flags of commands that act on one queue. */
export const QUEUE_FLAGS: FlagSpec[] = [
  { name: 'queue', short: 'q', kind: 'value', placeholder: 'name', description: 'The queue (required unless the config names one)' },
  { name: 'backend', short: 'b', kind: 'value', placeholder: 'url', description: 'Backend URL (default: $SKQ_BACKEND, else sqlite:.skunq/skunq.db)' },
];

/** Opens the queue the flags (or `skunq.config.*` in `cwd`) name. The caller closes it. */
export async function queueFromFlags(flags: ParsedFlags, cwd: string): Promise<SkunkQueue> {
  const config = await loadConfig(cwd);
  const name = (flags.queue as string | undefined) ?? config.queue;
  if (!name) throw new UsageError('-q/--queue is required');
  const backend = (flags.backend as string | undefined) ?? config.backend;
  return new SkunkQueue(name, backend ? { backend } : {});
}
