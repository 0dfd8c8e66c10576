// host/ has no import cycle: every module can be read (and loaded) after the modules it imports.
// Type-only imports are left out: TypeScript and esbuild erase them, so they cannot form a cycle at
// load time.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const HOST = new URL('../host/', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

function resolveImport(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, join(base, 'index.ts')]) {
    try {
      if (statSync(candidate).isFile() && candidate.endsWith('.ts')) return candidate;
    } catch { /* not this one */ }
  }
  return null; // e.g. a .wasm asset
}

// Value imports and re-exports of a module (import type / export type and imports whose every
// binding is a type are erased).
export function valueImports(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^(import|export)\s+([^;]*?)\s*from\s*'([^']+)';/gms)) {
    const clause = m[2].trim();
    if (clause.startsWith('type ')) continue;
    const braces = /^\{([^}]*)\}$/.exec(clause);
    if (braces && braces[1].split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '))) continue;
    const target = resolveImport(file, m[3]);
    if (target) out.push(target);
  }
  for (const m of text.matchAll(/^import\s+'([^']+)';/gm)) {
    const target = resolveImport(file, m[1]);
    if (target) out.push(target);
  }
  return out;
}

// Every cycle found by a depth-first walk, as a list of paths relative to host/.
function findCycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, valueImports(f, readFileSync(f, 'utf8'))]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 'open') cycles.push([...stack.slice(stack.indexOf(g)), g].map((p) => relative(HOST, p)));
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return cycles;
}

describe('host/ imports', () => {
  it('form no cycle (a layer record passes itself to the Layer class, which imports no record)', () => {
    const files = sources(HOST);
    expect(files.length).toBeGreaterThan(40);
    expect(findCycles(files)).toEqual([]);
  });

  it('the walk sees value imports and skips type-only ones', () => {
    const f = join(HOST, 'x/a.ts');
    const text = [
      "import { b } from '../training/model';",
      "import type { C } from '../compile/plan';",
      "import { type D, type E } from '../compile/graph';",
      "import {\n  f,\n  type G,\n} from '../core/errors';",
      "export { h } from '../core/tensor';",
      "import '../core/node-fs';",
    ].join('\n');
    expect(valueImports(f, text).map((p) => relative(HOST, p))).toEqual(['training/model.ts', 'core/errors.ts', 'core/tensor.ts', 'core/node-fs.ts']);
  });
});
