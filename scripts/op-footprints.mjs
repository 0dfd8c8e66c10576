// Compiles the op footprint table (host/compile/ops.ts OP_FOOTPRINTS, its size expressions and the scratch
// functions of host/compile/size-expr.ts) into AssemblyScript for the WASI module's plan verifier:
// assembly/wasi/op-footprints.ts, written by scripts/wasi-messages.mjs (the names of ops and arguments
// join the driver's text blob there). One definition, two interpreters: the host evaluates the
// same expressions (opFootprint, verifyPlan).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const FOOTPRINTS_FILE = fileURLToPath(new URL('../assembly/wasi/op-footprints.ts', import.meta.url));

// host/compile/ops.ts and host/compile/size-expr.ts, bundled so that plain Node can import them.
export async function loadTables() {
  const out = await build({
    stdin: { contents: "export * from './ops'; export * from './op-table'; export * from './size-expr';", resolveDir: fileURLToPath(new URL('../host/compile', import.meta.url)), loader: 'ts' },
    bundle: true, write: false, format: 'esm', platform: 'neutral', logLevel: 'warning',
  });
  return import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);
}

const MODES = { r: 0, w: 1, p: 2, s: 3 };
// Size expressions as postfix bytecode (assembly/wasi/plan-verify.ts evaluates it, f64 throughout):
// 0..63 push argument i, then these; functions of SIZE_FUNCTIONS are expanded in place.
export const BC = {
  B: 64, U8: 65, U16: 66, U32: 67,
  '+': 70, '-': 71, '*': 72, '/': 73, '<': 74, '<=': 75, '>': 76, '>=': 77, '==': 78, '&&': 79, '||': 80, '&': 81,
  min: 82, max: 83, ceil: 84, select: 85, abs: 86,
};

function bytecode(t, e, argIndex, out = []) {
  const go = (x) => bytecode(t, x, argIndex, out);
  switch (e.k) {
    case 'num':
      if (!Number.isInteger(e.v) || e.v < 0 || e.v >= 2 ** 32) throw new Error(`op-footprints: constant ${e.v}`);
      if (e.v < 256) out.push(BC.U8, e.v);
      else if (e.v < 65536) out.push(BC.U16, e.v & 255, e.v >> 8);
      else out.push(BC.U32, e.v & 255, (e.v >> 8) & 255, (e.v >> 16) & 255, e.v >>> 24);
      break;
    case 'name': {
      const i = argIndex(e.n);
      out.push(i);
      break;
    }
    case 'cond': go(e.c); go(e.t); go(e.f); out.push(BC.select); break;
    case 'bin': go(e.l); go(e.r); out.push(BC[e.op]); break;
    case 'call': {
      const fn = t.SIZE_FUNCTIONS[e.f];
      if (fn) {
        // bytes -> the same expression with the parameters replaced by the call's arguments
        const body = t.parseSize(fn.bytes);
        const subst = (x) => x.k === 'name' ? e.args[fn.params.indexOf(x.n)]
          : x.k === 'bin' ? { ...x, l: subst(x.l), r: subst(x.r) }
            : x.k === 'cond' ? { ...x, c: subst(x.c), t: subst(x.t), f: subst(x.f) }
              : x.k === 'call' ? { ...x, args: x.args.map(subst) } : x;
        go(subst(body));
      } else {
        for (const a of e.args) go(a);
        if (BC[e.f] === undefined) throw new Error(`op-footprints: unknown function ${e.f}`);
        out.push(BC[e.f]);
      }
      break;
    }
  }
  return out;
}

// The texts the verifier prints: every op's name and every pointer or size argument's name.
export function footprintTexts(t) {
  const texts = new Map();
  for (const name of Object.keys(t.OP_SPECS)) texts.set(`OPN_${name}`, name);
  for (const spec of Object.values(t.OP_FOOTPRINTS)) {
    for (const [arg, floats] of spec.access) {
      texts.set(`ARGN_${arg.replace('?', '')}`, arg.replace('?', ''));
      for (const n of t.sizeNames(t.parseSize(floats))) if (n !== 'B') texts.set(`ARGN_${n}`, n);
    }
    for (const n of t.sizeNames(t.parseSize(t.opWork(spec)))) if (n !== 'B') texts.set(`ARGN_${n}`, n);
  }
  return [...texts];
}

// The table: u16 per opcode 0..MAX (offset of its record, 0xffff: unknown), then the records:
// u8 nargs, u16 name | u8 sizes, each u8 arg, u16 name | u8 accesses, each u8 arg, u8 mode
// (bit 2: 0 is "not wanted"), u16 name, u16 length, bytecode | u8 disjoint pairs, each u8 written,
// u8 read, u16 name, u16 name | u16 length, bytecode of the op's work (host/compile/ops.ts opWork). Names are the TEXT_* offsets of the driver's blob, resolved by `textOffset`.
export function footprintTable(t, textOffset) {
  const specs = Object.entries(t.OP_SPECS);
  const maxCode = Math.max(...specs.map(([, s]) => s.code));
  const records = [];
  const at = new Array(maxCode + 1).fill(0xffff);
  const u16 = (v) => { if (v > 0xffff) throw new Error('op-footprints: table too large'); return [v & 255, v >> 8]; };
  let offset = 2 * (maxCode + 1);
  for (const [op, spec] of specs) {
    const fp = t.OP_FOOTPRINTS[op];
    const index = (arg) => { const i = spec.args.indexOf(arg); if (i < 0 || i > 63) throw new Error(`op-footprints: ${op} has no argument ${arg}`); return i; };
    const r = [spec.args.length, ...u16(textOffset(`OPN_${op}`))];
    const sizes = new Set();
    for (const e of [...fp.access.map(([, floats]) => floats), t.opWork(fp)]) for (const n of t.sizeNames(t.parseSize(e))) if (n !== 'B') sizes.add(n);
    r.push(sizes.size);
    for (const n of sizes) r.push(index(n), ...u16(textOffset(`ARGN_${n}`)));
    r.push(fp.access.length);
    for (const [arg, floats, mode] of fp.access) {
      const bare = arg.replace('?', '');
      const code = bytecode(t, t.parseSize(floats), (n) => (n === 'B' ? BC.B : index(n)));
      r.push(index(bare), MODES[mode] | (arg.endsWith('?') ? 4 : 0), ...u16(textOffset(`ARGN_${bare}`)), ...u16(code.length), ...code);
    }
    const pairs = fp.disjoint ?? [];
    r.push(pairs.length);
    for (const [w, rd] of pairs) r.push(index(w), index(rd), ...u16(textOffset(`ARGN_${w}`)), ...u16(textOffset(`ARGN_${rd}`)));
    const work = bytecode(t, t.parseSize(t.opWork(fp)), (n) => (n === 'B' ? BC.B : index(n)));
    r.push(...u16(work.length), ...work);
    at[spec.code] = offset;
    offset += r.length;
    records.push(...r);
  }
  return [...at.flatMap(u16), ...records];
}

export function footprintsSource(t, textOffset) {
  const bytes = footprintTable(t, textOffset);
  const rows = [];
  for (let i = 0; i < bytes.length; i += 24) rows.push(`    ${bytes.slice(i, i + 24).join(', ')},`);
  const maxCode = Math.max(...Object.values(t.OP_SPECS).map((s) => s.code));
  return `// Generated by scripts/op-footprints.mjs from host/compile/ops.ts OP_FOOTPRINTS and host/compile/size-expr.ts:
// do not edit (edit the table, then npm run build). The WASI plan verifier's view of every op: its
// name, argument count, size arguments, and each pointer argument's span as postfix bytecode
// (layout: scripts/op-footprints.mjs footprintTable; evaluated by assembly/wasi/plan-verify.ts).
export const OPCODE_MAX: i32 = ${maxCode};
export const FOOTPRINT_BYTES: usize = ${bytes.length};
export const PLAN_WORK_LIMIT: f64 = ${t.PLAN_WORK_LIMIT};
${Object.entries(BC).map(([k, v]) => `export const BC_${{ '+': 'ADD', '-': 'SUB', '*': 'MUL', '/': 'DIV', '<': 'LT', '<=': 'LE', '>': 'GT', '>=': 'GE', '==': 'EQ', '&&': 'AND', '||': 'OR', '&': 'BIT' }[k] ?? k.toUpperCase()}: u8 = ${v};`).join('\n')}
export function footprintTable(): usize {
  return memory.data<u8>([
${rows.join('\n')}
  ]);
}
`;
}
