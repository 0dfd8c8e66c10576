// assembly/kernels/broadcast.ts (every op, random broadcast and reduction patterns over
// [batch, n1..n5], write and accumulate, unaligned pointers) and softmax-axis.ts against the f64
// twins in test/reference/broadcast.ts, in the SIMD build and compiled with --disable simd. Values
// are multiples of 1/4 (never 0), so max/min ties and equality tests happen and no divisor is 0.
// Outputs start as NaN; guard words after every buffer must come back unchanged.
import { beforeAll, describe, expect, it } from 'vitest';
import { simdArena } from './support/harness';
import { expectClose } from './support/close';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { readFileSync } from 'node:fs';
import { BC, bcStrides, broadcastRef, softmaxAxisBackwardRef, softmaxAxisRef } from './reference/broadcast';
import { BC_OP } from '../host/compile/broadcast-lowering';

const BYTES = 4 << 20;
let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/broadcast.ts', 'assembly/kernels/softmax-axis.ts'], 'broadcast-scalar.wasm');
});

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
}
const quarters = (n: number, rnd: () => number) => Float32Array.from({ length: n }, () => (rnd() < 0.5 ? -1 : 1) * (1 + Math.floor(rnd() * 4)) / 4);
const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);
const READS_G = (op: number) => (op >= BC.sum && op <= BC.reduceMin) || op === BC.gAtan2;
const READS_A = (op: number) => op <= BC.copy || (op >= BC.gMul && op <= BC.eqSelect) || op >= BC.atan2;
const READS_B = (op: number) => op <= BC.sqdiff || (op >= BC.gDivGrad && op <= BC.gSqdiff) || op === BC.eqSelect || op >= BC.atan2;

// One call of broadcast_f32 and its reference; y is reduced when `reduce` (random axes set to 1).
function check(k: Arena, op: number, rnd: () => number, trial: number) {
  const space = [1 + Math.floor(rnd() * 3), ...[0, 1, 2, 3, 4].map(() => [1, 2, 3, 5, 8][Math.floor(rnd() * 5)])];
  const sub = () => space.map((d) => (rnd() < 0.4 ? 1 : d));
  const aShape = sub(), bShape = sub();
  const yShape = op >= BC.sum && rnd() < 0.7 ? sub() : [...space];
  const accumulate = trial % 3 === 0 ? 1 : 0;
  const alpha = [1, -1, 0.5][trial % 3];
  const g = quarters(size(space), rnd);
  const a = quarters(size(aShape), rnd), b = quarters(size(bShape), rnd);
  if (op === BC.eqCount || op === BC.eqSelect) a.set(broadcastRef(BC.reduceMax, space, aShape, g, null, aShape, null, bShape, 1, null)); // real maxima
  const y0 = quarters(size(yShape), rnd);
  const off = trial % 4;
  const pg = READS_G(op) ? k.buf(g.length, g, off) : 0;
  const pa = READS_A(op) ? k.buf(a.length, a, (off + 1) % 4) : 0;
  const pb = READS_B(op) ? k.buf(b.length, b, (off + 2) % 4) : 0;
  const py = k.buf(y0.length, accumulate ? y0 : undefined, (off + 3) % 4);
  const [sy, sa, sb] = [yShape, aShape, bShape].map((s) => bcStrides(s, space));
  k.k.broadcast_f32(op, py, pg, pa, pb, space[0], ...space.slice(1), ...sy, ...sa, ...sb, alpha, accumulate);
  const ref = broadcastRef(op, space, yShape, READS_G(op) ? g : null, a, aShape, b, bShape, op === BC.reduceMax || op === BC.reduceMin ? 1 : alpha, accumulate ? y0 : null);
  expectClose(k.read(py, y0.length), ref, 1e-5, 1e-5, `op ${op} space [${space}] y [${yShape}] a [${aShape}] b [${bShape}] acc ${accumulate}`);
  if (pa) expect(k.read(pa, a.length)).toEqual(a);
  expect(k.brokenGuards()).toEqual([]);
}

function suite(name: string, make: () => Arena) {
  describe(name, () => {
    it('every op over random broadcast / reduction patterns, batch 1-3, write and accumulate', () => {
      for (const op of Object.values(BC)) {
        const rnd = lcg(op + 17);
        for (let trial = 0; trial < 12; trial++) check(make(), op, rnd, trial);
      }
    });

    // The random patterns above run alpha 1 only with accumulation; the kernel's own loop for add
    // and multiply at alpha 1 without it (productRow) is checked here: a and b each a run, one
    // value a row, or one run for every row (a squeeze-and-excitation scale), rows of 1 to 13.
    it('add and multiply, alpha 1, written: a and b runs or one value a row, rows of 1 to 13 points', () => {
      const rnd = lcg(29);
      for (const op of [BC.add, BC.mul]) {
        for (const n5 of [1, 3, 4, 5, 8, 13]) {
          for (const [aLast, aRow, bLast, bRow] of [[n5, 6, n5, 6], [1, 6, n5, 6], [n5, 6, 1, 6], [n5, 1, n5, 6], [n5, 6, n5, 1]]) {
            const k = make();
            const space = [2, 1, 1, 1, 6, n5], aShape = [2, 1, 1, 1, aRow, aLast], bShape = [2, 1, 1, 1, bRow, bLast];
            const a = quarters(size(aShape), rnd), b = quarters(size(bShape), rnd);
            const off = n5 % 4;
            const pa = k.buf(a.length, a, off), pb = k.buf(b.length, b, (off + 1) % 4), py = k.buf(size(space), undefined, (off + 2) % 4);
            const [sy, sa, sb] = [space, aShape, bShape].map((sh) => bcStrides(sh, space));
            k.k.broadcast_f32(op, py, 0, pa, pb, space[0], ...space.slice(1), ...sy, ...sa, ...sb, 1, 0);
            // Sums and products of quarters are exact in f32: the reference's values exactly.
            const ref = broadcastRef(op, space, space, null, a, aShape, b, bShape, 1, null);
            expect(Array.from(k.read(py, size(space))), `op ${op} n5 ${n5} a [${aShape}] b [${bShape}]`).toEqual(Array.from(ref));
            expect(k.brokenGuards()).toEqual([]);
          }
        }
      }
    });

    it('a pointer the op reads may not be 0 (nothing is written); a negative stride does nothing', () => {
      const k = make();
      const py = k.buf(4);
      const before = k.snapshot();
      k.k.broadcast_f32(BC.mul, py, 0, k.buf(4, [1, 2, 3, 4]), 0, 1, 1, 1, 1, 1, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0);
      k.k.broadcast_f32(BC.copy, py, 0, k.buf(4, [1, 2, 3, 4]), 0, 1, 1, 1, 1, 1, 4, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0);
      expect(k.read(py, 4).every(Number.isNaN)).toBe(true);
      expect(before.length).toBeGreaterThan(0);
    });

    it('softmax over an inner axis and its backward, inner 1-7', () => {
      const rnd = lcg(5);
      for (const [outer, n, inner] of [[1, 1, 1], [2, 3, 1], [3, 4, 5], [1, 7, 2], [4, 2, 7]]) for (const accumulate of [0, 1]) {
        const k = make();
        const count = outer * n * inner;
        const x = Float32Array.from({ length: count }, () => 4 * rnd() - 2);
        const py = k.buf(count);
        k.k.softmax_axis_forward(py, k.put(x), outer, n, inner);
        const y = softmaxAxisRef(x, outer, n, inner);
        expectClose(k.read(py, count), y, 1e-5, 1e-6, 'y');
        const dy = Float32Array.from({ length: count }, () => 2 * rnd() - 1);
        const d0 = Float32Array.from({ length: count }, () => rnd());
        const pdx = k.buf(count, accumulate ? d0 : undefined);
        k.k.softmax_axis_backward(pdx, k.put(dy), py, outer, n, inner, accumulate);
        const ref = softmaxAxisBackwardRef(dy, k.read(py, count), outer, n, inner).map((v, i) => v + (accumulate ? d0[i] : 0));
        expectClose(k.read(pdx, count), ref, 1e-5, 1e-6, 'dx');
        expect(k.brokenGuards()).toEqual([]);
      }
    });
  });
}

it('the op codes of the kernel (BC_*), the host (BC_OP) and the twin (BC) agree', () => {
  const source = readFileSync('assembly/kernels/broadcast.ts', 'utf8');
  const kernel = Object.fromEntries([...source.matchAll(/^export const BC_(\w+): i32 = (\d+);/gm)].map((m) => [m[1].toLowerCase().replace(/_(\w)/g, (_, c: string) => c.toUpperCase()), Number(m[2])]));
  expect(kernel).toEqual({ ...BC_OP });
  expect({ ...BC }).toEqual({ ...BC_OP });
});

suite('SIMD build', () => simdArena(BYTES));
suite('scalar build (--disable simd)', () => scalarArena(scalar, 80, BYTES));
