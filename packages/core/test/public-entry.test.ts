import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The two faces of core: the main entry exports exactly what the README lists under
// "What `@skq/core` exports", the backend face shares none of those names, and every
// export of both carries a TSDoc `@example`.

const path = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const ENTRIES = { main: path('../src/index.ts'), backend: path('../src/backend.ts') };

function readmeNames(): string[] {
  const readme = readFileSync(path('../../../README.md'), 'utf8');
  const start = readme.indexOf('### What `@skq/core` exports');
  expect(start, 'the README has the section').toBeGreaterThan(0);
  const section = readme.slice(start, readme.indexOf('\n## ', start));
  return [...new Set([...section.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)].map((m) => m[1]!))].sort();
}

interface Export {
  name: string;
  hasExample: boolean;
}

function exportsOf(): Record<keyof typeof ENTRIES, Export[]> {
  const program = ts.createProgram(Object.values(ENTRIES), {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const read = (file: string): Export[] => {
    const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
    return checker.getExportsOfModule(moduleSymbol).map((e) => {
      const target = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
      const hasExample = (target.declarations ?? []).some((d) => {
        const node = ts.isVariableDeclaration(d) ? d.parent.parent : d;
        return ts.getJSDocTags(node).some((tag) => tag.tagName.text === 'example');
      });
      return { name: e.name, hasExample };
    });
  };
  return { main: read(ENTRIES.main), backend: read(ENTRIES.backend) };
}

describe('the faces of @skq/core', () => {
  const faces = exportsOf();

  it('exports from the main entry exactly the names the README lists', () => {
    expect(faces.main.map((e) => e.name).sort()).toEqual(readmeNames());
  });

  it('keeps the backend face apart from the application face', () => {
    const main = new Set(faces.main.map((e) => e.name));
    expect(faces.backend.filter((e) => main.has(e.name)).map((e) => e.name)).toEqual([]);
    expect(faces.backend.length).toBeGreaterThan(100);
  });

  it('documents every export of both faces with an @example', () => {
    const missing = [...faces.main, ...faces.backend].filter((e) => !e.hasExample).map((e) => e.name);
    expect(missing).toEqual([]);
  });
});
