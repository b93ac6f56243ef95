import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '@skq/testing';

/** The part of madge's API this check uses (madge ships no types). */
interface MadgeResult {
  obj(): Record<string, string[]>;
  circular(): string[][];
}
type Madge = (paths: string[], config: Record<string, unknown>) => Promise<MadgeResult>;
const madge = createRequire(import.meta.url)('madge') as Madge;

let cachedGraph: Promise<MadgeResult> | null = null;

/** Every TypeScript file of the workspace's packages, tests included, and what each imports of the others (read once). */
function importGraph(): Promise<MadgeResult> {
  cachedGraph ??= madge(['packages', 'internal', 'apps'], { baseDir: REPO, fileExtensions: ['ts'], excludeRegExp: [/(^|\/)(dist|node_modules)\//] });
  return cachedGraph;
}

/**
 * The folders that import each other in a circle. Only folders neither of which holds the other count:
 * a package's `src/index.ts` naturally imports its `src/triggers/`, which may use `src/` files.
 */
function folderCycles(graph: Record<string, string[]>): string[][] {
  const edges = new Map<string, Set<string>>();
  const nested = (a: string, b: string) => a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
  for (const [file, imports] of Object.entries(graph)) {
    const from = dirname(file);
    for (const imported of imports) {
      const to = dirname(imported);
      if (from === to || nested(from, to)) continue;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)!.add(to);
    }
  }
  return stronglyConnected(edges).filter((component) => component.length > 1);
}

/** Tarjan's strongly connected components. */
function stronglyConnected(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component.sort());
    }
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return components;
}

describe('import graph of packages/, internal/ and apps/', () => {
  it('has no file that imports itself through others (madge --circular)', async () => {
    const result = await importGraph();
    // A graph that lost its files would pass vacuously: the contract's own imports must be in it.
    expect(result.obj()['packages/core/src/storage/lease-rules.ts']).toContain('packages/core/src/storage/contract.ts');
    expect(result.circular()).toEqual([]);
  }, 60_000);

  it('has no two folders that import each other (core: storage below job below schedule)', async () => {
    expect(folderCycles({ 'a/x/f.ts': ['a/y/g.ts'], 'a/y/g.ts': ['a/x/h.ts'], 'a/x/h.ts': [] })).toEqual([['a/x', 'a/y']]);
    expect(folderCycles((await importGraph()).obj())).toEqual([]);
  }, 60_000);
});
