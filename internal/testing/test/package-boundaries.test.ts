import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '@skq/testing';

const BACKENDS = ['@skq/sqlite', '@skq/redis', '@skq/mongodb', '@skq/foundationdb'];
const DEPENDENCY_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies', 'peerDependenciesMeta'] as const;

/** The TypeScript files under a folder, recursively. */
function sources(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every `src/` file of the published packages and the apps, as [path from the repo, code without comments]. */
function packageSources(): [string, string][] {
  return ['packages', 'apps'].flatMap((group) =>
    readdirSync(join(REPO, group)).flatMap((name) => {
      let files: string[];
      try {
        files = sources(join(REPO, group, name, 'src'));
      } catch {
        return [];
      }
      return files.map((file): [string, string] => [relative(REPO, file), withoutComments(readFileSync(file, 'utf8'))]);
    }),
  );
}

/** Drops block and line comments, where TSDoc examples may name any package. */
function withoutComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

describe('package boundaries', () => {
  it("@skq/web's package.json names no backend package: embedders hand it what it needs of one", () => {
    const manifest = JSON.parse(readFileSync(join(REPO, 'packages/web/package.json'), 'utf8')) as Record<string, Record<string, unknown> | undefined>;
    const named = DEPENDENCY_FIELDS.flatMap((field) => Object.keys(manifest[field] ?? {}));
    expect(named).toContain('@skq/core');
    expect(named.filter((name) => BACKENDS.includes(name))).toEqual([]);
  });

  it('no package imports a backend package other than itself', () => {
    const files = packageSources();
    expect(files.length).toBeGreaterThan(100);
    const crossings = files.flatMap(([path, code]) => {
      const own = `@skq/${path.split('/')[1]}`;
      const imported = [...code.matchAll(/(?:from\s+|import\s*\(\s*)['"](@skq\/[a-z]+)(?:\/[^'"]*)?['"]/g)].map((m) => m[1]!);
      return imported.filter((name) => BACKENDS.includes(name) && name !== own && !path.startsWith('apps/')).map((name) => `${path} imports ${name}`);
    });
    expect(crossings).toEqual([]);
  });

  it('keeps no registry on globalThis: modules share state by importing one another', () => {
    const holders = packageSources()
      .filter(([, code]) => /\bglobalThis\b/.test(code))
      .map(([path]) => path);
    expect(holders).toEqual([]);
  });
});
