// The absmax int8 GEMM (assembly/kernels/gemm-q8.ts, ops 256-257; docs/int8.md "absmax"): Keras 3's
// int8 x int8 -> int32 product with the inputs quantized per row at run time, against its naive
// twin (test/reference/q8.ts: exact bits) in the SIMD build and compiled with --disable simd, and
// the row quantizer against the twin's integers and scales. Sweeps m < 4 (the one-row path) and m % 4,
// n % 8, odd and even k, rows with a gap (rsa > k, ldc > n), bias or none, three clamps, and rows
// that are all zero or whose products land on .5 (round half to even); guard words must survive.
import { beforeAll, describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { expectSame } from './support/close';
import { putQ, randomQ } from './support/int8';
import { absmaxRow, gemmQ8Twin } from './reference/q8';
import { q8PackedBytes, q8ScratchBytes } from '../host/compile/gemm-scratch';


interface Case { m: number; n: number; k: number; bias: boolean; rsa: number; ldc: number }

function cases(full: boolean): Case[] {
  const out: Case[] = [];
  const ms = full ? [1, 2, 3, 4, 5, 7, 8, 9, 13] : [1, 3, 5, 8];
  const ns = full ? [1, 3, 4, 5, 8, 9, 15, 16, 17, 33, 130] : [1, 5, 9, 17];
  const ks = full ? [1, 2, 3, 7, 8, 16, 17, 64, 300, 513] : [1, 2, 7, 300];
  for (const m of ms) for (const n of ns) for (const k of ks) {
    const odd = (m + n + k) % 3 === 0;
    out.push({ m, n, k, bias: (m + n + k) % 2 === 0, rsa: odd ? k + 3 : k, ldc: odd ? n + 2 : n });
  }
  return out;
}

// a (m, k; row stride rsa) with a few rows made special: all zeros, and values that x * xs puts
// exactly on .5 (a row whose max is 127 has xs = 127 / (127 + 1e-7) = 1 in f32: x = 2.5 -> 2).
function inputs(m: number, k: number, rsa: number, seed: number): { a: Float32Array; dense: Float32Array } {
  const a = randomArray((m - 1) * rsa + k, seed, -3, 3);
  const dense = new Float32Array(m * k);
  for (let r = 0; r < m; r++) {
    for (let p = 0; p < k; p++) {
      let v = a[r * rsa + p];
      if (r === 1) v = 0;
      if (r === 2) v = p === 0 ? 127 : [2.5, -3.5, 0.5, -0.5, 1.5, 126.5][p % 6];
      a[r * rsa + p] = v;
      dense[r * k + p] = v;
    }
  }
  return { a, dense };
}

function check(t: Arena, list: Case[]): void {
  for (const [i, { m, n, k, bias, rsa, ldc }] of list.entries()) {
    t.reset();
    const [lo, hi] = i % 3 === 0 ? [-Infinity, Infinity] : i % 3 === 1 ? [0, Infinity] : [0, 6];
    const what = `m=${m} n=${n} k=${k} bias=${bias} rsa=${rsa} ldc=${ldc} clamp=[${lo}, ${hi}]`;
    const { a, dense } = inputs(m, k, rsa, 51 + i);
    const q = randomQ(k * n, 53 + i), ks = randomArray(n, 57 + i, 20, 300), b = randomArray(n, 59 + i, -2, 2);
    const ap = t.put(a), qp = putQ(t, q), sp = t.put(ks), bp = bias ? t.put(b) : 0;
    const panels = t.buf(q8PackedBytes(n, k) / 4);
    t.k.gemm_pack_b_q8(panels, qp, n, k, n);
    const cp = t.buf((m - 1) * ldc + n);
    if (ldc > n) for (let r = 0; r + 1 < m; r++) t.write(cp + 4 * (r * ldc + n), [0, 0]); // the row gaps are not c
    const scratch = t.buf(q8ScratchBytes(k) / 4);
    t.k.gemm_q8(cp, ap, panels, sp, bp, m, n, k, rsa, ldc, lo, hi, scratch);
    const got = t.read(cp, (m - 1) * ldc + n);
    const twin = got.slice();
    gemmQ8Twin(twin, dense, q, ks, bias ? b : null, m, n, k, ldc, lo, hi);
    expectSame(got, twin, what);
    expect(t.brokenGuards(), what).toEqual([]);
  }
}

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/gemm-q8.ts'], 'gemm-q8-scalar.wasm');
}, 120_000);

describe('quantize_rows_q8', () => {
  it("is Keras's AbsMaxQuantizer(axis=-1): the twin's scales and integers, zero past k", () => {
    const t = harness(64);
    for (const [i, [rows, k]] of [[1, 1], [3, 7], [5, 8], [2, 33], [4, 300]].entries()) {
      t.reset();
      const { a, dense } = inputs(rows, k, k + 1, 71 + i);
      const stride = Math.ceil(k / 8) * 8;
      const xq = t.buf((rows * stride) / 2), xs = t.buf(rows);
      new Int16Array(t.memory.buffer, xq, rows * stride).fill(-1); // the padding must be written
      t.k.quantize_rows_q8(xq, xs, t.put(a), rows, k, k + 1);
      const gotQ = new Int16Array(t.memory.buffer, xq, rows * stride);
      const gotS = t.read(xs, rows);
      for (let r = 0; r < rows; r++) {
        const want = absmaxRow(dense.subarray(r * k, (r + 1) * k));
        expect(gotS[r], `rows=${rows} k=${k} row ${r} scale`).toBe(want.xs);
        const padded = Array.from({ length: stride }, (_, p) => (p < k ? want.xq[p] : 0));
        expect(Array.from(gotQ.subarray(r * stride, (r + 1) * stride)), `rows=${rows} k=${k} row ${r}`).toEqual(padded);
      }
      if (rows > 2) expect(Array.from(gotQ.subarray(2 * stride, 2 * stride + Math.min(k, 6)))).toEqual([127, -4, 0, 0, 2, 126].slice(0, Math.min(k, 6)));
      expect(t.brokenGuards()).toEqual([]);
    }
  });
});

describe('gemm_q8', () => {
  it('on panels packed by gemm_pack_b_q8 is its naive twin bit for bit (SIMD build)', () => {
    check(harness(256), cases(true));
  });
  it('gives the same bits compiled with --disable simd', () => {
    check(scalarArena(scalar, 256, 200 * 65536), cases(false));
  });
});
