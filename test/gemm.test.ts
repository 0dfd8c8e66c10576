// gemm_f32 (assembly/kernels/gemm.ts) against its naive twin (test/reference/gemm.ts), for the SIMD build
// (build/edgetune.wasm) and for the same kernel compiled with --disable simd.
//
// Sweeps m < MR and m % MR, every n % NR tail, prime and KC-crossing k, n past NC, the three stride
// forms dense layers use, ldc > n, accumulate 0 (c pre-filled with NaN: every entry must be written)
// and accumulate 1 (c pre-filled with known values). Sentinels around c (the row gaps when ldc > n,
// and past the last row) and around the scratch must come back unchanged, and so must a and b.
// The scratch itself starts as NaN, so reading a packed value the kernel did not write shows up.
//
// Tolerance: a and b are uniform in [-1, 1), so an entry of a.b is a k-term sum of magnitude about
// sqrt(k)/3. Summed in f32 its rounding error is about u*k/4 (u = 2^-24, partial sums of size
// sqrt(p)/3 each rounded with random sign), i.e. ~2e-6 at k = 600; the reference sums in f64.
// atol = 1e-5*(sqrt(k) + 1) is ~3e-5 of the typical entry (the + 1 covers the pre-filled c when
// accumulating) and rtol = 1e-5: tens of times the rounding error, and far below the O(0.1) change
// that a missing, doubled or misplaced term makes.
import { beforeAll, describe, expect, it } from 'vitest';
import { main as asc } from 'assemblyscript/asc';
import { harness, randomArray } from './support/harness';
import { closeness, describeCloseness, expectClose } from './support/close';
import { gemmReference } from './reference/gemm';
import { boundsCheckedMemory, gemmLoadShape } from '../host/runtime/engine';
import { GEMM_KC, GEMM_MR, GEMM_NC, GEMM_NR, gemmScratchBytes } from '../host/compile/gemm-scratch';

type Gemm = (c: number, a: number, b: number, m: number, n: number, k: number,
  rsa: number, csa: number, rsb: number, csb: number, ldc: number, accumulate: number, pack: number) => void;

interface Kernel { gemm: Gemm; memory: WebAssembly.Memory; arena: number; arenaFloats: number }

// The stride forms: x.W (both row-major), dY.W^T (b[p,j] = W[j,p], W (N,K) row-major) and
// X^T.dY (a[i,p] = X[p,i], X (K,M) row-major).
const FORMS = {
  'x.W': (m: number, n: number, k: number) => ({ rsa: k, csa: 1, rsb: n, csb: 1 }),
  'dY.W^T': (m: number, n: number, k: number) => ({ rsa: k, csa: 1, rsb: 1, csb: k }),
  'X^T.dY': (m: number, n: number, k: number) => ({ rsa: 1, csa: m, rsb: n, csb: 1 }),
} as const;
type Form = keyof typeof FORMS;

const SENTINEL = -1234.5;
const GUARD = 8;
const ARENA_FLOATS = 3 << 20;

interface Case { form: Form; m: number; n: number; k: number; ldc: number; accumulate: number }

// Runs one product in the kernel's memory; returns a description of what went wrong ('' if
// nothing) and the c region as the kernel left it.
function runCase(kern: Kernel, { form, m, n, k, ldc, accumulate }: Case, seed: number): { failure: string; c: Float32Array } {
  const { rsa, csa, rsb, csb } = FORMS[form](m, n, k);
  const mem = new Float32Array(kern.memory.buffer);
  const base = kern.arena / 4;
  const up4 = (x: number) => Math.ceil(x / 4) * 4;
  const aLen = (m - 1) * rsa + (k - 1) * csa + 1;
  const bLen = (k - 1) * rsb + (n - 1) * csb + 1;
  const cLen = (m - 1) * ldc + n;
  const packLen = gemmScratchBytes(m, n, k) / 4;
  // a, b and c deliberately only 4-byte aligned (v128 loads and stores there are unaligned);
  // pack 16-byte aligned as the planner guarantees, with sentinels on both sides.
  const aAt = base + 1;
  const bAt = up4(aAt + aLen) + 2;
  const cAt = up4(bAt + bLen) + 3;
  const packAt = up4(cAt + cLen + GUARD) + 4;
  const end = packAt + packLen + GUARD;
  if (end - base > kern.arenaFloats) throw new Error('arena too small');

  const a = randomArray(aLen, seed);
  const b = randomArray(bLen, seed + 1);
  mem.set(a, aAt);
  mem.set(b, bAt);
  const c0 = new Float32Array(cLen + GUARD).fill(SENTINEL);
  const cInit = randomArray(cLen, seed + 2);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) c0[i * ldc + j] = accumulate ? cInit[i * ldc + j] : NaN;
  }
  mem.set(c0, cAt);
  mem.fill(SENTINEL, packAt - 4, packAt);
  mem.fill(NaN, packAt, packAt + packLen);
  mem.fill(SENTINEL, packAt + packLen, end);

  kern.gemm(cAt * 4, aAt * 4, bAt * 4, m, n, k, rsa, csa, rsb, csb, ldc, accumulate, packAt * 4);

  const expected = c0.slice(0, cLen);
  gemmReference(expected, a, b, m, n, k, rsa, csa, rsb, csb, ldc, accumulate);
  const got = mem.slice(cAt, cAt + cLen + GUARD);
  const actual: number[] = [];
  const want: number[] = [];
  let untouched = true;
  for (let x = 0; x < cLen + GUARD; x++) {
    const inC = x < cLen && x % ldc < n;
    if (inC) {
      actual.push(got[x]);
      want.push(expected[x]);
    } else if (got[x] !== SENTINEL) untouched = false;
  }
  const label = `${form} m=${m} n=${n} k=${k} ldc=${ldc} acc=${accumulate}`;
  const fail = (why: string) => ({ failure: `${label}: ${why}`, c: got });
  const c = closeness(actual, want, 1e-5, 1e-5 * (Math.sqrt(k) + 1));
  if (!(c.ratio <= 1)) return fail(describeCloseness('c', c));
  if (!untouched) return fail('wrote outside c (row gap or past the end)');
  for (let x = packAt - 4; x < packAt; x++) if (mem[x] !== SENTINEL) return fail('wrote before scratch');
  for (let x = packAt + packLen; x < end; x++) if (mem[x] !== SENTINEL) return fail('wrote past gemmScratchBytes');
  for (let x = 0; x < aLen; x++) if (!Object.is(mem[aAt + x], a[x])) return fail('modified a');
  for (let x = 0; x < bLen; x++) if (!Object.is(mem[bAt + x], b[x])) return fail('modified b');
  return { failure: '', c: got };
}

function runAll(kern: Kernel, cases: Case[]): string[] {
  const failures: string[] = [];
  cases.forEach((c, i) => {
    const { failure } = runCase(kern, c, 1 + 7 * i);
    if (failure) failures.push(failure);
  });
  return failures;
}

const MS = [1, 2, 3, 4, 5, 7, 8, 13, 64];
const NS = [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 100];
const KS = [1, 2, 3, 7, 13, 31, 97, 257, 300];

function sweep(form: Form, accumulate: number, ldcPad: number): Case[] {
  const cases: Case[] = [];
  for (const m of MS) for (const n of NS) for (const k of KS) cases.push({ form, m, n, k, ldc: n + ldcPad, accumulate });
  return cases;
}

// Past one NC block of columns and past two KC slices, with tails in every dimension.
function wide(form: Form, accumulate: number): Case[] {
  const cases: Case[] = [];
  for (const [m, n, k] of [[5, 2 * GEMM_NC + 9, 3], [13, GEMM_NC + 1, GEMM_KC + 1], [7, GEMM_NC + 17, 2 * GEMM_KC + 45], [64, 300, 600], [4, GEMM_NC, GEMM_KC]]) {
    cases.push({ form, m, n, k, ldc: n + 3, accumulate });
  }
  return cases;
}

function kernelSuite(name: string, load: () => Kernel): void {
  describe(name, () => {
    let kern: Kernel;
    beforeAll(() => {
      kern = load();
    });

    for (const form of Object.keys(FORMS) as Form[]) {
      for (const accumulate of [0, 1]) {
        it(`${form}, accumulate ${accumulate}: m x n x k sweep of every tail`, () => {
          expect(runAll(kern, sweep(form, accumulate, 0))).toEqual([]);
        });
        it(`${form}, accumulate ${accumulate}: n > NC, k > KC, ldc > n`, () => {
          expect(runAll(kern, wide(form, accumulate))).toEqual([]);
        });
      }
    }

    it('x.W with ldc > n: sweep of every tail, both accumulate modes', () => {
      expect(runAll(kern, [...sweep('x.W', 0, 5), ...sweep('x.W', 1, 3)])).toEqual([]);
    });

    it('empty products: k = 0 zeroes c (or leaves it when accumulating), m = 0 or n = 0 writes nothing', () => {
      const mem = new Float32Array(kern.memory.buffer);
      const c = kern.arena / 4 + 4;
      for (const accumulate of [0, 1]) {
        mem.fill(7, c, c + 40);
        // k = 0 needs no scratch: pass a pointer whose contents would show any write.
        kern.gemm(c * 4, 0, 0, 3, 5, 0, 0, 0, 0, 0, 8, accumulate, (c + 32) * 4);
        const got = Array.from(mem.subarray(c, c + 40));
        const want = got.map((_, x) => (x < 24 && x % 8 < 5 && !accumulate ? 0 : 7));
        expect(got).toEqual(want);
      }
      mem.fill(7, c, c + 40);
      kern.gemm(c * 4, 0, 0, 0, 5, 3, 0, 0, 0, 0, 8, 0, (c + 32) * 4);
      kern.gemm(c * 4, 0, 0, 3, 0, 3, 0, 0, 0, 0, 8, 0, (c + 32) * 4);
      expect(Array.from(mem.subarray(c, c + 40))).toEqual(new Array(40).fill(7));
    });
  });
}

function simdKernel(): Kernel {
  const h = harness();
  return { gemm: h.k.gemm_f32 as unknown as Gemm, memory: h.memory, arena: h.alloc(ARENA_FLOATS), arenaFloats: ARENA_FLOATS };
}

kernelSuite('gemm_f32 (SIMD build)', simdKernel);

// The same source without SIMD (the scalar branches of the ASC_FEATURE_SIMD guards).
let scalarModule: WebAssembly.Module;
beforeAll(async () => {
  let binary: Uint8Array<ArrayBuffer> | undefined;
  const { error, stderr } = await asc([
    'assembly/kernels/gemm.ts', '--runtime', 'stub', '--importMemory', '--noExportMemory', '--use', 'abort=',
    '-O3', '--noAssert', '--disable', 'simd', '--outFile', 'gemm-scalar.wasm',
  ], {
    writeFile(name, contents) {
      if (name.endsWith('.wasm') && typeof contents !== 'string') binary = new Uint8Array(contents);
    },
  });
  if (error || !binary) throw new Error(`asc --disable simd failed: ${error?.message}\n${stderr.toString()}`);
  scalarModule = new WebAssembly.Module(binary);
});

// assembly/kernels/gemm.ts alone has no static data, so its buffers can start low.
function scalarKernel(): Kernel {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 256 });
  const exports = new WebAssembly.Instance(scalarModule, { env: { memory } }).exports;
  const imports = WebAssembly.Module.imports(scalarModule).map((i) => i.name);
  expect(imports).toEqual(['memory']);
  return { gemm: exports.gemm_f32 as unknown as Gemm, memory, arena: 1024, arenaFloats: ARENA_FLOATS };
}

kernelSuite('gemm_f32 (scalar build, --disable simd)', scalarKernel);

// Both builds add the same f32 products in the same order (k slices in turn, each summed from
// p = 0 up, no FMA), so a model trains to the same bits with or without SIMD.
describe('gemm_f32 SIMD and scalar builds', () => {
  it('agree bit for bit', () => {
    const simd = simdKernel();
    const scalar = scalarKernel();
    const cases: Case[] = [];
    for (const form of Object.keys(FORMS) as Form[]) {
      for (const accumulate of [0, 1]) {
        cases.push(...wide(form, accumulate), { form, m: 13, n: 33, k: 97, ldc: 35, accumulate });
      }
    }
    const differ: string[] = [];
    cases.forEach((c, i) => {
      const x = runCase(simd, c, 3 + i);
      const y = runCase(scalar, c, 3 + i);
      const xb = new Uint32Array(x.c.buffer, x.c.byteOffset, x.c.length);
      const yb = new Uint32Array(y.c.buffer, y.c.byteOffset, y.c.length);
      if (x.failure || y.failure || xb.some((v, j) => v !== yb[j])) differ.push(`${c.form} m=${c.m} n=${c.n} k=${c.k} acc=${c.accumulate}`);
    });
    expect(differ).toEqual([]);
  });
});

describe('gemmScratchBytes', () => {
  it('is a multiple of 16, at most 4*KC*(NC + MR) bytes, and 0 for empty products', () => {
    const max = 4 * GEMM_KC * (GEMM_NC + GEMM_MR);
    expect(max).toBeLessThanOrEqual(256 * 1024);
    for (const m of [1, 5, 64, 1024]) {
      for (const n of [1, 7, 8, 9, GEMM_NC - 1, GEMM_NC, GEMM_NC + 1, 1024]) {
        for (const k of [1, 3, GEMM_KC, GEMM_KC + 1, 4096]) {
          const bytes = gemmScratchBytes(m, n, k);
          expect(bytes % 16).toBe(0);
          expect(bytes).toBeLessThanOrEqual(max);
          expect(bytes).toBe(4 * Math.min(k, GEMM_KC) * (Math.ceil(Math.min(n, GEMM_NC) / GEMM_NR) * GEMM_NR + GEMM_MR));
        }
      }
    }
    expect(gemmScratchBytes(1024, 1024, 1024)).toBe(max);
    expect(gemmScratchBytes(0, 5, 5)).toBe(0);
    expect(gemmScratchBytes(5, 5, 0)).toBe(0);
  });
});

describe('gemm_f32 row results do not depend on how many rows share the call', () => {
  it('rows of a 1-, 2- and 3-row product equal the same rows of an 8-row product, bit for bit', () => {
    for (const [n, k] of [[10, 784], [256, 300], [130, 7]]) {
      const h = harness();
      const m = 8;
      const a = h.put(randomArray(m * k, 11, -1, 1));
      const b = h.put(randomArray(k * n, 12, -1, 1));
      const pack = h.alloc(gemmScratchBytes(m, n, k) / 4 + 4);
      const full = h.alloc(m * n);
      (h.k.gemm_f32 as (...x: number[]) => void)(full, a, b, m, n, k, k, 1, n, 1, n, 0, pack);
      const whole = h.read(full, m * n);
      for (const rows of [1, 2, 3]) {
        const c = h.alloc(rows * n);
        (h.k.gemm_f32 as (...x: number[]) => void)(c, a + 4 * k * 2, b, rows, n, k, k, 1, n, 1, n, 0, pack);
        expect(Array.from(h.read(c, rows * n)), `m=${rows} n=${n} k=${k}`).toEqual(Array.from(whole.subarray(2 * n, (2 + rows) * n)));
      }
    }
  });
});

describe('gemm_f32 microkernel loop shapes', () => {
  it('splat loads and one load + lane broadcasts give the same bits (the host picks per engine)', () => {
    for (const [m, n, k] of [[4, 8, 1], [7, 13, 5], [33, 40, 300], [64, 128, 257]]) {
      const out: Float32Array[] = [];
      for (const shuffle of [0, 1]) {
        const h = harness();
        h.k.gemm_set_a_broadcast(shuffle);
        const a = h.put(randomArray(m * k, 3 * m + k));
        const b = h.put(randomArray(k * n, 5 * n + k));
        const c = h.alloc(m * n);
        const pack = h.alloc(gemmScratchBytes(m, n, k) / 4 + 16);
        h.k.gemm_f32(c, a, b, m, n, k, k, 1, n, 1, n, 0, pack);
        out.push(h.read(c, m * n));
      }
      expect(Buffer.from(out[1].buffer).equals(Buffer.from(out[0].buffer)), `${m}x${n}x${k}`).toBe(true);
      const ref = new Float32Array(m * n);
      gemmReference(ref, randomArray(m * k, 3 * m + k), randomArray(k * n, 5 * n + k), m, n, k, k, 1, n, 1, n, 0);
      expectClose(out[0], ref, 1e-4, 1e-5, `${m}x${n}x${k} vs the reference`);
    }
  });
});

describe('the GEMM loop shape per engine', () => {
  it('only Deno counts as bounds-checked memory; Deno and Bun get the broadcast loop, Node splat loads unless EDGETUNE_GEMM_A=shuffle', () => {
    expect(boundsCheckedMemory({ Deno: {} })).toBe(true);
    expect(boundsCheckedMemory({ Bun: {}, process: { env: {} } })).toBe(false);
    expect(boundsCheckedMemory({ process: { env: {} } })).toBe(false);
    expect(gemmLoadShape({ Deno: {} })).toBe('broadcast');
    expect(gemmLoadShape({ Bun: {}, process: { env: {} } })).toBe('broadcast');
    expect(gemmLoadShape({ process: { env: {} } })).toBe('splat');
    expect(gemmLoadShape({ process: { env: { EDGETUNE_GEMM_A: 'shuffle' } } })).toBe('broadcast');
    expect(gemmLoadShape({})).toBe('splat');
  });
});
