// The source transform scripts/build.mjs applies to host/compile/op-table.ts for dist/ (and
// scripts/size.mjs to its per-module view of the size app, so the two agree).
import { readFileSync } from 'node:fs';

// The op table's `run` templates (host/compile/op-table.ts) are AssemblyScript source that only
// scripts/gen-ops.mjs reads, at build time, to write the interpreter; nothing at run time does (the
// host encodes plans from `code` and `args`, OP_SPECS). They were 93 strings in every app's bundle
// and in the core chunk every process parses, so the dist's copy of the table goes without them.
// test/bundle.test.ts checks that the dist's OP_SPECS are the source's and that no template is left.
export function opTableWithoutTemplates() {
  return {
    name: 'op-table-without-templates',
    setup(b) {
      b.onLoad({ filter: /host\/compile\/op-table\.ts$/ }, (args) => ({ contents: withoutRunTemplates(readFileSync(args.path, 'utf8'), args.path), loader: 'ts' }));
    },
  };
}

// Removes every `run: <expression>,` property of an object literal. The expression ends at the
// first `,` or closing bracket outside brackets, strings and template literals (whose `${...}` may
// hold brackets of their own).
export function withoutRunTemplates(source, file) {
  let out = '';
  let from = 0;
  const property = /(?<=[{,\s])run:\s*/g;
  for (let m; (m = property.exec(source)); ) {
    const line = source.slice(source.lastIndexOf('\n', m.index) + 1, m.index);
    if (line.includes('//') || /\binterface\b/.test(line)) continue; // a comment, or OpRow's type
    let i = property.lastIndex;
    const stack = [];
    for (; i < source.length; i++) {
      const c = source[i];
      const top = stack[stack.length - 1];
      if (top === "'" || top === '"') { if (c === '\\') i++; else if (c === top) stack.pop(); continue; }
      if (top === '`') {
        if (c === '\\') i++;
        else if (c === '`') stack.pop();
        else if (c === '$' && source[i + 1] === '{') { stack.push('{'); i++; }
        continue;
      }
      if (c === "'" || c === '"' || c === '`' || c === '(' || c === '[' || c === '{') stack.push(c);
      else if (c === ')' || c === ']' || c === '}') { if (stack.length === 0) break; stack.pop(); }
      else if (c === ',' && stack.length === 0) { i++; break; }
    }
    if (stack.length) throw new Error(`${file}: a run template at offset ${m.index} does not end`);
    out += source.slice(from, m.index);
    from = i;
    property.lastIndex = i;
  }
  out += source.slice(from);
  if (/(?<=[{,\s])run:\s*['"`A-Z]/.test(out)) throw new Error(`${file}: a run template is left after stripping`);
  return out;
}
