// assembly/kernels/nd-copy.ts (the strided N-D copy under the shape layers) against its naive twin
// test/reference/nd-copy.ts, for the SIMD build and the scalar build: random boxes of rank 1-6,
// permuted, gapped, reversed (negative) and broadcast (zero) strides, write and accumulate, run with
// fewer rows than the footprint was sized for (the batch < planned batch of a plan); guard words
// after every buffer, and every element the box does not reach, must come back unchanged.
import { beforeAll, describe, expect, it } from 'vitest';
import { randomArray, simdArena } from './support/harness';
import { expectClose } from './support/close';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { ndCopyRef, ndExtent } from './reference/nd-copy';
import { OP_FOOTPRINTS } from '../host/compile/ops';
import { evalSize, parseSize } from '../host/compile/size-expr';

const BYTES = 4 << 20;
let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/nd-copy.ts'], 'nd-copy-scalar.wasm');
});

// A small deterministic generator for the shapes.
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return (s >>> 8) % n; };
}

// Strides laying the box out densely in a random axis order, some axes gapped (x2), some reversed.
function layout(dims: readonly number[], r: (n: number) => number, allowZero: boolean): number[] {
  const order = dims.map((_, k) => k).sort(() => r(3) - 1);
  const s = new Array<number>(dims.length).fill(0);
  let step = 1;
  for (const k of [...order].reverse()) { s[k] = step; step *= dims[k] * (r(4) === 0 ? 2 : 1); }
  return s.map((v) => (allowZero && r(6) === 0 ? 0 : r(3) === 0 ? -v : v));
}

function run(a: Arena, y: number, x: number, dims: number[], ys: number[], xs: number[], accumulate: number): void {
  a.k.nd_copy_f32(y, x, dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], ...ys, ...xs, accumulate);
}

function suite(name: string, make: () => Arena) {
  describe(name, () => {
    it('random boxes of rank 1-6: permuted, gapped, reversed and broadcast strides, batch below the planned one', () => {
      const r = rng(7);
      for (let trial = 0; trial < 160; trial++) {
        const a = make();
        const rank = 1 + (trial % 6);
        const planned = [1 + r(3), ...Array.from({ length: 5 }, (_, k) => (k < rank - 1 ? 1 + r(4) : 1))];
        // The innermost axis often stride 1 on both sides (the contiguous path), every tail length.
        if (trial % 2 === 0) planned[5] = 1 + r(9);
        const ys = layout(planned, r, false);
        const xs = layout(planned, r, true);
        if (trial % 2 === 0) { ys[5] = 1; xs[5] = 1; }
        const yn = ndExtent(planned, ys), xn = ndExtent(planned, xs);
        const dims = [Math.max(1, planned[0] - (trial % 3 === 0 ? 1 : 0)), ...planned.slice(1)];
        const accumulate = trial % 4 === 1 ? 1 : 0;
        const x = randomArray(xn, trial + 1), y0 = randomArray(yn, trial + 500);
        const px = a.put(x), py = a.put(y0);
        run(a, py, px, dims, ys, xs, accumulate);
        const ref = ndCopyRef(y0, 0, ys, x, 0, xs, dims, accumulate);
        expectClose(a.read(py, yn), ref, 1e-6, 1e-7, `trial ${trial} dims [${dims}] ys [${ys}] xs [${xs}]`);
        expect(a.read(px, xn)).toEqual(x);
        expect(a.guardsIntact()).toBe(true);
      }
    });

    it('a zero stride on y with accumulate sums every element it meets (scatter-add), also into the buffer x is in', () => {
      const a = make();
      // dy of a tile: (2, 3, 5) -> each of the 5 columns gets the sum of its 2 * 3 rows.
      const x = randomArray(2 * 3 * 5, 3), y0 = randomArray(5, 4);
      const py = a.put(y0);
      run(a, py, a.put(x), [1, 1, 1, 2, 3, 5], [0, 0, 0, 0, 0, 1], [0, 0, 0, 15, 5, 1], 1);
      expectClose(a.read(py, 5), ndCopyRef(y0, 0, [0, 0, 0, 0, 0, 1], x, 0, [0, 0, 0, 15, 5, 1], [1, 1, 1, 2, 3, 5], 1), 1e-6, 1e-7, 'sum');
      // In one buffer: reflect the first 3 elements of a row onto the last 3, as pad does in place.
      const row = randomArray(8, 5);
      const pr = a.put(row);
      run(a, pr + 4 * 5, pr + 4 * 1, [1, 1, 1, 1, 1, 3], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, -1], 0);
      expect(Array.from(a.read(pr, 8))).toEqual([...Array.from(row.slice(0, 5)), row[3], row[2], row[1]]);
      expect(a.guardsIntact()).toBe(true);
    });

    it('two-group channel shuffles (pairs interleaved, and back) over every tail of the 4-wide loop', () => {
      const fails: string[] = [];
      for (const d4 of [1, 2, 3, 4, 5, 8, 24, 25, 48]) for (const [B, d3] of [[1, 1], [2, 3], [8, 5]]) {
        const a = make();
        // Interleave: y (B, d3, d4, 2) from x (B, d3, 2, d4); the rows of x optionally gapped.
        const gap = d4 % 2;
        const xs = [d3 * (2 * d4 + gap), 0, 0, 2 * d4 + gap, 1, d4 + gap], ys = [d3 * 2 * d4, 0, 0, 2 * d4, 2, 1];
        const dims = [B, 1, 1, d3, d4, 2];
        for (const [yStr, xStr, what] of [[ys, xs, 'interleave'], [xs, ys, 'deinterleave']] as const) {
          const xn = ndExtent(dims, xStr as number[]), yn = ndExtent(dims, yStr as number[]);
          const x = randomArray(xn, d4 * 31 + d3), y0 = randomArray(yn, d4 + 7);
          const px = a.put(x), py = a.put(y0);
          run(a, py, px, dims, [...yStr], [...xStr], 0);
          const ref = ndCopyRef(y0, 0, [...yStr], x, 0, [...xStr], dims, 0);
          if (!a.read(py, yn).every((v, i) => Object.is(v, Math.fround(ref[i])))) fails.push(`${what} B${B} d3 ${d3} d4 ${d4}`);
          if (!a.guardsIntact()) fails.push(`${what} B${B} d3 ${d3} d4 ${d4}: wrote past a buffer`);
        }
      }
      expect(fails).toEqual([]);
    });

    it('touches exactly the floats of its footprint (host/compile/ops.ts): the lowest element at the pointer, the highest at extent - 1', () => {
      const r = rng(11);
      for (let trial = 0; trial < 40; trial++) {
        const a = make();
        const dims = [1 + r(3), 1 + r(3), 1, 2 + r(2), 1, 1 + r(5)];
        const ys = layout(dims, r, false), xs = layout(dims, r, false);
        const args: Record<string, number> = { d1: dims[1], d2: dims[2], d3: dims[3], d4: dims[4], d5: dims[5] };
        ys.forEach((s, k) => { args[`ys${k}`] = s; });
        xs.forEach((s, k) => { args[`xs${k}`] = s; });
        const [yFloats, xFloats] = OP_FOOTPRINTS.nd_copy.access.map(([, e]) => evalSize(parseSize(e), (n) => (n === 'B' ? dims[0] : args[n])));
        expect([yFloats, xFloats]).toEqual([ndExtent(dims, ys), ndExtent(dims, xs)]);
        const py = a.alloc(yFloats, NaN);
        run(a, py, a.put(randomArray(xFloats, trial)), dims, ys, xs, 0);
        const out = a.read(py, yFloats);
        // A dense injective layout: every float of the span is written (no NaN left), none outside (guards).
        if (ys.every((s) => s !== 0) && yFloats === dims.reduce((p, n) => p * n, 1)) expect(out.some(Number.isNaN), `trial ${trial}`).toBe(false);
        expect(Number.isNaN(out[0]) || Number.isNaN(out[yFloats - 1])).toBe(false);
        expect(a.guardsIntact()).toBe(true);
      }
    });
  });
}

suite('SIMD build', () => simdArena(BYTES));
suite('scalar build (--disable simd)', () => scalarArena(scalar, 128, BYTES));
