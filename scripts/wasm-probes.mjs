// Tiny hand-encoded wasm modules for the runtime comparison (scripts/bench-runtimes.mjs): they
// isolate what the engines do differently, with no compiler of ours in between.
//   regLoop(iters) -> f32: 8 f32x4 accumulators, acc = acc * m + c, no memory access at all.
//   kernel4x8Splat(ap, bp, kc, reps) -> f32: the register-blocked 4x8 GEMM microkernel over packed
//     panels in L1 (as assembly/kernels/gemm.ts), A broadcast with v128.load32_splat: per k step two
//     v128 loads of B and four 4-byte splat loads of A, six memory accesses for 16 SIMD ops.
//   kernel4x8Shuffle: the same products and sums in the same order, A read as one v128 per k
//     step and broadcast by lane shuffles: three memory accesses per k step.
// Each exported function takes i32 arguments and returns an f32 (the accumulators' sum) so that
// nothing is dead code. FLOPS_PER_ITER counts a multiply and an add per lane.

const leb = (n) => {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const simd = (op, ...imm) => [0xfd, ...leb(op), ...imm];
const OP = {
  load: (align, offset) => simd(0x00, align, ...leb(offset)),
  load32Splat: (offset) => simd(0x09, 2, ...leb(offset)),
  shuffle: (lanes) => simd(0x0d, ...lanes),
  f32x4Splat: simd(0x13),
  f32x4ExtractLane0: simd(0x1f, 0),
  f32x4Add: simd(0xe4),
  f32x4Mul: simd(0xe6),
};
const get = (i) => [0x20, ...leb(i)];
const set = (i) => [0x21, ...leb(i)];
const f32const = (v) => [0x43, ...new Uint8Array(new Float32Array([v]).buffer)];
const i32const = (v) => [0x41, ...leb(v)]; // small non-negative values only
const I32_ADD = 0x6a, I32_SUB = 0x6b, I32_MUL = 0x6c, I32_NE = 0x47, I32_EQZ = 0x45;

function module(funcs, importMemory) {
  const section = (id, bytes) => [id, ...leb(bytes.length), ...bytes];
  const vec = (items) => [...leb(items.length), ...items.flat()];
  const name = (s) => { const b = [...new TextEncoder().encode(s)]; return [...leb(b.length), ...b]; };
  const types = funcs.map((f) => [0x60, ...vec(f.params.map(() => [0x7f])), 1, 0x7d]);
  const bodies = funcs.map((f) => {
    const body = [...vec(f.locals.map(([n, t]) => [...leb(n), t])), ...f.code, 0x0b];
    return [...leb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec(types)),
    ...(importMemory ? section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 1]])) : []),
    ...section(3, vec(funcs.map((_, i) => leb(i)))),
    ...section(7, vec(funcs.map((f, i) => [...name(f.name), 0x00, ...leb(i)]))),
    ...section(10, vec(bodies)),
  ]);
}

// regLoop: param 0 = iters; locals 1..8 accumulators, 9 = m, 10 = c.
function regLoop() {
  const ACC = 8, M = 9, C = 10;
  const code = [...f32const(0.999), ...OP.f32x4Splat, ...set(M), ...f32const(0.001), ...OP.f32x4Splat, ...set(C)];
  for (let i = 1; i <= ACC; i++) code.push(...f32const(i), ...OP.f32x4Splat, ...set(i));
  code.push(0x02, 0x40, 0x03, 0x40, ...get(0), I32_EQZ, 0x0d, 1);
  for (let i = 1; i <= ACC; i++) code.push(...get(i), ...get(M), ...OP.f32x4Mul, ...get(C), ...OP.f32x4Add, ...set(i));
  code.push(...get(0), ...i32const(1), I32_SUB, ...set(0), 0x0c, 0, 0x0b, 0x0b);
  code.push(...get(1));
  for (let i = 2; i <= ACC; i++) code.push(...get(i), ...OP.f32x4Add);
  code.push(...OP.f32x4ExtractLane0);
  return { name: 'regLoop', params: [0], locals: [[ACC + 2, 0x7b]], code };
}

// kernel4x8: params 0 ap, 1 bp, 2 kc, 3 reps; v128 locals 4..11 accumulators (row r, half h at
// 4 + 2r + h), 12 b0, 13 b1, 14 va, 15 av; i32 locals 16 a, 17 b, 18 end.
function kernel4x8(name, shuffle) {
  const acc = (r, h) => 4 + 2 * r + h;
  const B0 = 12, B1 = 13, VA = 14, AV = 15, A = 16, B = 17, END = 18;
  const code = [...get(0), ...get(2), ...i32const(16), I32_MUL, I32_ADD, ...set(END)];
  code.push(0x03, 0x40); // reps loop
  code.push(...get(0), ...set(A), ...get(1), ...set(B));
  code.push(0x03, 0x40); // k loop
  code.push(...get(B), ...OP.load(4, 0), ...set(B0), ...get(B), ...OP.load(4, 16), ...set(B1));
  if (shuffle) code.push(...get(A), ...OP.load(4, 0), ...set(AV));
  for (let r = 0; r < 4; r++) {
    if (shuffle) {
      const lanes = [];
      for (let j = 0; j < 4; j++) lanes.push(4 * r, 4 * r + 1, 4 * r + 2, 4 * r + 3);
      code.push(...get(AV), ...get(AV), ...OP.shuffle(lanes), ...set(VA));
    } else {
      code.push(...get(A), ...OP.load32Splat(4 * r), ...set(VA));
    }
    for (const [h, bv] of [[0, B0], [1, B1]]) code.push(...get(acc(r, h)), ...get(VA), ...get(bv), ...OP.f32x4Mul, ...OP.f32x4Add, ...set(acc(r, h)));
  }
  code.push(...get(A), ...i32const(16), I32_ADD, ...set(A), ...get(B), ...i32const(32), I32_ADD, ...set(B));
  code.push(...get(A), ...get(END), I32_NE, 0x0d, 0, 0x0b); // while (a != end)
  code.push(...get(3), ...i32const(1), I32_SUB, 0x22, 3, 0x0d, 0, 0x0b); // while (--reps)
  code.push(...get(4));
  for (let i = 5; i <= 11; i++) code.push(...get(i), ...OP.f32x4Add);
  code.push(...OP.f32x4ExtractLane0);
  return { name, params: [0, 1, 2, 3], locals: [[12, 0x7b], [3, 0x7f]], code };
}

export const REG_LOOP_FLOPS_PER_ITER = 8 * 8;
export const KERNEL_FLOPS_PER_K = 4 * 8 * 2;
export const regLoopWasm = () => module([regLoop()], false);
export const kernelWasm = () => module([kernel4x8('kernel4x8Splat', false), kernel4x8('kernel4x8Shuffle', true)], true);
