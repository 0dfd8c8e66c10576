// The plan interpreter `run` (assembly/interp/run.ts): op words [opcode, nargs, args...] read from a program,
// each opcode checked against a direct call of its kernel, the stream advancing by nargs, and the
// failure statuses (unknown opcode, non-finite loss or gradients) with nothing run after them.
// Opcode numbers and step-header offsets come from the op table (host/compile/op-table.ts, which
// generates assembly/interp/); the op words below spell out each op's arguments in its order.
import { describe, expect, it } from 'vitest';
import { HEADER, OP_SPECS, OPT_KIND, type OpName } from '../host/compile/ops';
import { harness, randomArray, type Harness } from './support/harness';
import { expectClose, expectSame, expectNear } from './support/close';
import { labelsFor, softTargets, changedBytes, NO_CLIP } from './support/kernel-cases';
import { biasFillRef, reluRef, softmaxRef, softmaxXentSparseRef } from './reference/kernels';

// ---------------------------------------------------------------------------------------------
const OP = Object.fromEntries(Object.entries(OP_SPECS).map(([name, spec]) => [name.toUpperCase(), spec.code])) as Record<Uppercase<OpName>, number>;
// apply_gradients kinds; no clipping, no weight decay.
const OPT = { SGD: OPT_KIND.sgd, ADAM: OPT_KIND.adam } as const;
const sgdOp = (w: number, g: number, v: number, count: number, nesterov = 0): Word[] =>
  [OP.APPLY_GRADIENTS, OPT.SGD, w, g, v, 0, 0, count, 0, f32arg(0), f32arg(0), f32arg(0), f32arg(0), nesterov];
const S = {
  BATCH: HEADER.batch, ITER: HEADER.iter, LR: HEADER.lr, FAILED_OP: HEADER.failedOp, GRAD_NORM_SQ: HEADER.gradNormSq,
  LOSS_SUM: HEADER.lossSum, CORRECT: HEADER.correct, MOMENTUM: HEADER.momentum, BYTES: HEADER.bytes,
} as const;

// An f32 argument (stored as its bit pattern), as opposed to an i32 word.
interface F32Arg { f32: number }
type Word = number | F32Arg;
const f32arg = (v: number): F32Arg => ({ f32: v });

function encode(ops: Word[][]): Int32Array {
  const words: number[] = [];
  const bits = new DataView(new ArrayBuffer(4));
  for (const [code, ...args] of ops) {
    words.push(code as number, args.length);
    for (const a of args) {
      if (typeof a === 'number') words.push(a);
      else {
        bits.setFloat32(0, a.f32, true);
        words.push(bits.getInt32(0, true));
      }
    }
  }
  return Int32Array.from(words);
}

interface Header { batch: number; step?: number; lr?: number; lossSum?: number; gradNormSq?: number; correct?: number; momentum?: number }

function writeHeader(t: Harness, ptr: number, h: Header): void {
  const d = new DataView(t.memory.buffer, ptr, S.BYTES);
  d.setInt32(S.BATCH, h.batch, true);
  d.setInt32(S.ITER, (h.step ?? 1) - 1, true); // iterations done: this step's t - 1
  d.setFloat32(S.LR, h.lr ?? 0.01, true);
  d.setInt32(S.FAILED_OP, 12345, true);
  d.setFloat64(S.GRAD_NORM_SQ, h.gradNormSq ?? 0, true);
  d.setFloat64(S.LOSS_SUM, h.lossSum ?? 0, true);
  d.setFloat64(S.CORRECT, h.correct ?? 0, true);
  d.setFloat32(S.MOMENTUM, h.momentum ?? 0, true);
}

const failedOp = (t: Harness, header: number) => new DataView(t.memory.buffer).getInt32(header + S.FAILED_OP, true);

describe('run (plan interpreter)', () => {
  it('bias_fill + relu_forward in place, sizes per sample times the header batch', () => {
    const t = harness(64);
    const planned = 4; // buffers sized for 4 samples; this step runs 3
    const batch = 3;
    const rows = 2; // rows per sample
    const n = 5;
    const b = randomArray(n, 181);
    const bp = t.buf(n, b);
    const y = t.buf(planned * rows * n);
    const header = t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4));
    writeHeader(t, header, { batch });
    const ops = t.putI32(encode([[OP.BIAS_FILL, y, bp, rows, n], [OP.RELU_FORWARD, y, y, rows * n]]));
    expect(t.k.run(ops, 2, header)).toBe(0);
    expect(failedOp(t, header)).toBe(-1);

    const got = t.read(y, planned * rows * n);
    const want = reluRef(biasFillRef(b, batch * rows, n));
    expectSame(got.subarray(0, batch * rows * n), want, 'first batch*rows rows');
    expect(Array.from(got.subarray(batch * rows * n)).every(Number.isNaN), 'rows past the batch untouched').toBe(true);

    // The same kernels called directly.
    const y2 = t.buf(batch * rows * n);
    t.k.bias_fill(y2, bp, batch * rows, n);
    t.k.relu_forward(y2, y2, batch * rows * n);
    expectSame(got.subarray(0, batch * rows * n), t.read(y2, batch * rows * n), 'run vs direct calls');
    expect(t.brokenGuards()).toEqual([]);
  });

  // Every opcode, run as a one-op stream in one memory and as the direct kernel call in an identical
  // second memory: the two memories must end up byte for byte equal (outputs, header sums, and
  // everything past the batch that neither may touch).
  describe('each opcode equals its direct kernel call', () => {
    const planned = 4;
    const batch = 3;
    const R = 2; // rows per sample
    const N = 5;
    const K = 3;
    const LR = Math.fround(0.125);
    const STEP = 7;
    const scale = Math.fround(1 / batch);

    interface Bufs { [name: string]: number }
    // Identical buffers (same offsets, same contents) in any kit.
    function buffers(t: Harness): Bufs {
      const rowsMax = planned * R;
      const x = randomArray(rowsMax * N, 191, -2, 2);
      const probsRows = Float32Array.from(softmaxRef(x, rowsMax, N));
      const labels = labelsFor(rowsMax, N);
      const P = 11; // parameter count for the optimizer ops
      return {
        x: t.buf(rowsMax * N, x),
        xk: t.buf(rowsMax * K, randomArray(rowsMax * K, 193)),
        w: t.buf(K * N, randomArray(K * N, 197)),
        b: t.buf(N, randomArray(N, 199)),
        dy: t.buf(rowsMax * N, randomArray(rowsMax * N, 211)),
        yRelu: t.buf(rowsMax * N, reluRef(randomArray(rowsMax * N, 223))),
        ySoft: t.buf(rowsMax * N, probsRows),
        probs: t.buf(rowsMax * N, probsRows),
        soft: t.buf(rowsMax * N, softTargets(rowsMax, N, 227)),
        labels: t.putI32(labels),
        out: t.buf(rowsMax * N),
        outAcc: t.buf(rowsMax * N, randomArray(rowsMax * N, 229)),
        dW: t.buf(K * N),
        db: t.buf(N),
        dbAcc: t.buf(N, randomArray(N, 233)),
        pack: t.buf(8192),
        pw: t.buf(P, randomArray(P, 239)),
        pg: t.buf(P, randomArray(P, 241)),
        pm: t.buf(P, randomArray(P, 251, 0, 0.1)),
        pv: t.buf(P, randomArray(P, 257, 0, 0.01)),
        pvhat: t.buf(P, randomArray(P, 263, 0, 0.02)),
        P,
        header: t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4)),
        ops: t.buf(64, new Float32Array(64)),
      };
    }

    interface Case {
      name: string;
      momentum?: number; // the header's momentum (or beta_1) for apply_gradients
      words(b: Bufs): Word[];
      direct(t: Harness, b: Bufs): void;
    }
    const L = (b: Bufs) => b.header + S.LOSS_SUM;
    const cases: Case[] = [
      {
        name: 'gemm, m per sample (y = x.W)',
        words: (b) => [OP.GEMM, b.out, b.xk, b.w, R, N, K, K, 1, N, 1, N, 0, b.pack, 1],
        direct: (t, b) => t.k.gemm_f32(b.out, b.xk, b.w, R * batch, N, K, K, 1, N, 1, N, 0, b.pack),
      },
      {
        name: 'gemm, k per sample (dW = x^T.dy), accumulating',
        words: (b) => [OP.GEMM, b.outAcc, b.xk, b.dy, K, N, R, 1, K, N, 1, N, 1, b.pack, 4],
        direct: (t, b) => t.k.gemm_f32(b.outAcc, b.xk, b.dy, K, N, R * batch, 1, K, N, 1, N, 1, b.pack),
      },
      {
        name: 'bias_fill',
        words: (b) => [OP.BIAS_FILL, b.out, b.b, R, N],
        direct: (t, b) => t.k.bias_fill(b.out, b.b, R * batch, N),
      },
      ...[0, 1].map((acc): Case => ({
        name: `bias_backward acc=${acc}`,
        words: (b) => [OP.BIAS_BACKWARD, acc ? b.dbAcc : b.db, b.dy, R, N, acc],
        direct: (t, b) => t.k.bias_backward(acc ? b.dbAcc : b.db, b.dy, R * batch, N, acc),
      })),
      {
        name: 'relu_forward',
        words: (b) => [OP.RELU_FORWARD, b.out, b.x, R * N],
        direct: (t, b) => t.k.relu_forward(b.out, b.x, R * N * batch),
      },
      ...[0, 1].map((acc): Case => ({
        name: `relu_backward acc=${acc}`,
        words: (b) => [OP.RELU_BACKWARD, acc ? b.outAcc : b.out, b.dy, b.yRelu, R * N, acc],
        direct: (t, b) => t.k.relu_backward(acc ? b.outAcc : b.out, b.dy, b.yRelu, R * N * batch, acc),
      })),
      {
        name: 'softmax_forward',
        words: (b) => [OP.SOFTMAX_FORWARD, b.out, b.x, R, N],
        direct: (t, b) => t.k.softmax_forward(b.out, b.x, R * batch, N),
      },
      ...[0, 1].map((acc): Case => ({
        name: `softmax_backward acc=${acc}`,
        words: (b) => [OP.SOFTMAX_BACKWARD, acc ? b.outAcc : b.out, b.dy, b.ySoft, R, N, acc],
        direct: (t, b) => t.k.softmax_backward(acc ? b.outAcc : b.out, b.dy, b.ySoft, R * batch, N, acc),
      })),
      ...[0, 1].map((perSample): Case => ({
        name: `fill perSample=${perSample}`,
        words: (b) => [OP.FILL, b.out, f32arg(-1.75), R * N, perSample],
        direct: (t, b) => t.k.fill_f32(b.out, -1.75, R * N * (perSample ? batch : 1)),
      })),
      ...[0, 1].map((acc): Case => ({
        name: `copy acc=${acc}`,
        words: (b) => [OP.COPY, acc ? b.outAcc : b.out, b.x, R * N, acc],
        direct: (t, b) => t.k.copy_f32(acc ? b.outAcc : b.out, b.x, R * N * batch, acc),
      })),
      {
        name: 'xent_logits_sparse (scale 1/batch, loss into the header)',
        words: (b) => [OP.XENT_LOGITS_SPARSE, b.out, b.x, b.labels, R, N],
        direct: (t, b) => t.k.softmax_xent_sparse(L(b), b.out, b.x, b.labels, R * batch, N, scale),
      },
      {
        name: 'xent_logits_dense',
        words: (b) => [OP.XENT_LOGITS_DENSE, b.out, b.x, b.soft, R, N],
        direct: (t, b) => t.k.softmax_xent_dense(L(b), b.out, b.x, b.soft, R * batch, N, scale),
      },
      ...[0, 1].map((sparse): Case => ({
        name: `xent_probs sparse=${sparse}`,
        words: (b) => [OP.XENT_PROBS, b.out, b.probs, sparse ? b.labels : b.soft, sparse, R, N],
        direct: (t, b) => t.k.xent_probs(L(b), b.out, b.probs, sparse ? b.labels : b.soft, sparse, R * batch, N, scale),
      })),
      ...[0, 1].map((sparse): Case => ({
        name: `accuracy sparse=${sparse}`,
        words: (b) => [OP.ACCURACY, b.x, sparse ? b.labels : b.soft, sparse, R, N],
        direct: (t, b) => t.k.accuracy_count(b.header + S.CORRECT, b.x, sparse ? b.labels : b.soft, sparse, R * batch, N),
      })),
      {
        name: 'grad_norm (count not scaled by the batch)',
        words: (b) => [OP.GRAD_NORM, b.pg, b.P],
        direct: (t, b) => {
          const d = new DataView(t.memory.buffer);
          d.setFloat64(b.header + S.GRAD_NORM_SQ, d.getFloat64(b.header + S.GRAD_NORM_SQ, true) + t.k.sumsq_f32(b.pg, b.P), true);
        },
      },
      { name: 'check_loss (finite: continues)', words: () => [OP.CHECK_LOSS], direct: () => {} },
      { name: 'check_grads (finite: continues)', words: () => [OP.CHECK_GRADS], direct: () => {} },
      ...[[0, 0], [0.9, 0], [0.9, 1]].map(([mu, nesterov]): Case => ({
        name: `sgd momentum=${mu} nesterov=${nesterov} (lr from the header)`,
        momentum: mu,
        words: (b) => sgdOp(b.pw, b.pg, mu ? b.pv : 0, b.P, nesterov),
        direct: (t, b) => t.k.sgd_update(b.pw, b.pg, mu ? b.pv : 0, b.P, LR, mu, nesterov, ...NO_CLIP),
      })),
      ...[false, true].map((amsgrad): Case => ({
        name: `adam amsgrad=${amsgrad} (lr and t from the header)`,
        momentum: 0.9,
        words: (b) => [OP.APPLY_GRADIENTS, OPT.ADAM, b.pw, b.pg, b.pm, b.pv, amsgrad ? b.pvhat : 0, b.P, 0, f32arg(0), f32arg(0), f32arg(0.999), f32arg(1e-7), 0],
        direct: (t, b) => t.k.adam_update(b.pw, b.pg, b.pm, b.pv, amsgrad ? b.pvhat : 0, b.P, LR, 0.9, 0.999, 1e-7, STEP, ...NO_CLIP),
      })),
    ];

    for (const c of cases) {
      it(c.name, () => {
        const viaRun = harness(8);
        const direct = harness(8);
        const br = buffers(viaRun);
        const bd = buffers(direct);
        expect(bd).toEqual(br);
        for (const [t, b] of [[viaRun, br], [direct, bd]] as const) {
          writeHeader(t, b.header, { batch, step: STEP, lr: LR, lossSum: 0.75, gradNormSq: 0.5, correct: 1, momentum: c.momentum });
          new Int32Array(t.memory.buffer, b.ops, 64).set(encode([c.words(b)]));
        }
        expect(viaRun.k.run(br.ops, 1, br.header)).toBe(0);
        c.direct(direct, bd);
        new DataView(direct.memory.buffer).setInt32(bd.header + S.FAILED_OP, -1, true);

        const a = new Uint8Array(viaRun.memory.buffer);
        const d = new Uint8Array(direct.memory.buffer);
        const diff = changedBytes(d, a, 0, 0);
        expect(diff.length, `${diff.length} bytes differ, first at ${diff[0]}`).toBe(0);
        // And the op did something (the comparison is not vacuous).
        const fresh = harness(8);
        const bf = buffers(fresh);
        writeHeader(fresh, bf.header, { batch, step: STEP, lr: LR, lossSum: 0.75, gradNormSq: 0.5, correct: 1, momentum: c.momentum });
        new Int32Array(fresh.memory.buffer, bf.ops, 64).set(encode([c.words(bf)]));
        new DataView(fresh.memory.buffer).setInt32(bf.header + S.FAILED_OP, -1, true);
        const untouched = changedBytes(new Uint8Array(fresh.memory.buffer), a, 0, 0).length === 0;
        expect(untouched).toBe(c.name.startsWith('check_'));
        expect(viaRun.brokenGuards()).toEqual([]);
      });
    }
  });

  it('a stream of several ops advances by each op\'s nargs', () => {
    const t = harness(64);
    const batch = 2;
    const n = 9;
    const x = randomArray(batch * n, 269, -2, 2);
    const xp = t.buf(batch * n, x);
    const y = t.buf(batch * n);
    const z = t.buf(batch * n);
    const fillTarget = t.buf(3);
    const header = t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4));
    writeHeader(t, header, { batch });
    const ops = t.putI32(encode([
      [OP.SOFTMAX_FORWARD, y, xp, 1, n],
      [OP.FILL, fillTarget, f32arg(4.5), 3, 0],
      [OP.COPY, z, y, n, 0],
      [OP.RELU_FORWARD, z, z, n],
    ]));
    expect(t.k.run(ops, 4, header)).toBe(0);
    expectClose(t.read(z, batch * n), softmaxRef(x, batch, n), 1e-5, 1e-8, 'softmax, copied, relu (a no-op on probabilities)');
    expectSame(t.read(fillTarget, 3), [4.5, 4.5, 4.5], 'fill');
    expect(t.brokenGuards()).toEqual([]);
  });

  it('an unknown opcode returns -(1 + index), records the index, and runs nothing after it', () => {
    const codes = Object.values(OP_SPECS).map((spec) => spec.code);
    for (const bad of [0, Math.max(...codes) + 1, 999, -1]) {
      const t = harness(64);
      const a = t.buf(4);
      const c = t.buf(4);
      const header = t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4));
      writeHeader(t, header, { batch: 1 });
      const ops = t.putI32(encode([[OP.FILL, a, f32arg(1), 4, 0], [bad, a, 0], [OP.FILL, c, f32arg(2), 4, 0]]));
      const status = t.k.run(ops, 3, header);
      expect(status, `opcode ${bad}`).toBeLessThan(0);
      expect(status).toBe(-2);
      expect(failedOp(t, header)).toBe(1);
      expectSame(t.read(a, 4), [1, 1, 1, 1], 'the op before ran');
      expect(Array.from(t.read(c, 4)).every(Number.isNaN), 'the op after did not run').toBe(true);
      expect(t.brokenGuards()).toEqual([]);
    }
  });

  it('check_loss returns 1 + its index when the loss sum is NaN or infinite, and nothing after it runs', () => {
    const t = harness(64);
    const batch = 2;
    const n = 3;
    const header = t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4));
    // A NaN logit makes the loss NaN through xent_logits_sparse itself.
    const x = t.buf(batch * n, [0.5, NaN, 1, 2, 0, -1]);
    const labels = t.putI32([1, 0]);
    const dx = t.buf(batch * n);
    const w0 = randomArray(4, 271);
    const w = t.buf(4, w0);
    const g = t.buf(4, [1, 1, 1, 1]);
    const after = t.buf(2);
    const stream = encode([
      [OP.XENT_LOGITS_SPARSE, dx, x, labels, 1, n],
      [OP.CHECK_LOSS],
      sgdOp(w, g, 0, 4),
      [OP.FILL, after, f32arg(3), 2, 0],
    ]);
    const ops = t.putI32(stream);
    writeHeader(t, header, { batch, lr: 0.5 });
    expect(t.k.run(ops, 4, header)).toBe(2);
    expect(failedOp(t, header)).toBe(1);
    expect(Number.isNaN(new DataView(t.memory.buffer).getFloat64(header + S.LOSS_SUM, true))).toBe(true);
    expectSame(t.read(w, 4), w0, 'sgd after check_loss did not run');
    expect(Array.from(t.read(after, 2)).every(Number.isNaN), 'fill after check_loss did not run').toBe(true);

    // A non-finite sum already in the header (Infinity, NaN) is caught the same way, at any index.
    for (const lossSum of [Infinity, -Infinity, NaN]) {
      writeHeader(t, header, { batch, lossSum });
      const ops2 = t.putI32(encode([[OP.FILL, after, f32arg(0), 1, 0], [OP.FILL, after, f32arg(0), 1, 0], [OP.CHECK_LOSS], [OP.FILL, after, f32arg(5), 2, 0]]));
      expect(t.k.run(ops2, 4, header), `loss sum ${lossSum}`).toBe(3);
      expect(failedOp(t, header)).toBe(2);
      expectSame(t.read(after, 1), [0], 'ops before check_loss ran');
      expect(Number.isNaN(t.read(after, 2)[1]), 'op 3 did not run').toBe(true);
    }

    // A finite loss: check_loss passes, everything runs, status 0, failed op -1.
    writeHeader(t, header, { batch, lr: 0.5, lossSum: 0 });
    const x2 = t.buf(batch * n, [0.5, 0.25, 1, 2, 0, -1]);
    const ops3 = t.putI32(encode([[OP.XENT_LOGITS_SPARSE, dx, x2, labels, 1, n], [OP.CHECK_LOSS], sgdOp(w, g, 0, 4), [OP.FILL, after, f32arg(3), 2, 0]]));
    expect(t.k.run(ops3, 4, header)).toBe(0);
    expect(failedOp(t, header)).toBe(-1);
    const want = softmaxXentSparseRef([0.5, 0.25, 1, 2, 0, -1], [1, 0], batch, n, 1).loss;
    expectNear(new DataView(t.memory.buffer).getFloat64(header + S.LOSS_SUM, true), want, 1e-6, 1e-6, 'loss sum');
    expectSame(t.read(w, 4), w0.map((v) => Math.fround(v - 0.5)), 'sgd ran with the header lr');
    expectSame(t.read(after, 2), [3, 3], 'fill ran');
    expect(t.brokenGuards()).toEqual([]);
  });

  it('check_grads returns 1 + its index when grad_norm summed a non-finite gradient', () => {
    const t = harness(64);
    const header = t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4));
    const w0 = randomArray(5, 277);
    const w = t.buf(5, w0);
    const gOk = t.buf(5, [1, 2, 3, 4, 5]);
    const gBad = t.buf(5, [1, 2, Infinity, 4, 5]);
    const ops = t.putI32(encode([[OP.GRAD_NORM, gOk, 5], [OP.GRAD_NORM, gBad, 5], [OP.CHECK_GRADS], sgdOp(w, gOk, 0, 5)]));
    writeHeader(t, header, { batch: 4, lr: 1 });
    expect(t.k.run(ops, 4, header)).toBe(3);
    expect(failedOp(t, header)).toBe(2);
    expectSame(t.read(w, 5), w0, 'no update after check_grads failed');

    const ops2 = t.putI32(encode([[OP.GRAD_NORM, gOk, 5], [OP.GRAD_NORM, gOk, 3], [OP.CHECK_GRADS], sgdOp(w, gOk, 0, 5)]));
    writeHeader(t, header, { batch: 4, lr: 1, gradNormSq: 0.25 });
    expect(t.k.run(ops2, 4, header)).toBe(0);
    expect(new DataView(t.memory.buffer).getFloat64(header + S.GRAD_NORM_SQ, true)).toBe(0.25 + 55 + 14);
    expectSame(t.read(w, 5), w0.map((v, i) => Math.fround(v - (i + 1))), 'update ran');
    expect(t.brokenGuards()).toEqual([]);
  });

  it('count 0 runs nothing and returns 0', () => {
    const t = harness(64);
    const header = t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4));
    writeHeader(t, header, { batch: 1 });
    const a = t.buf(2);
    const ops = t.putI32(encode([[OP.FILL, a, f32arg(1), 2, 0]]));
    expect(t.k.run(ops, 0, header)).toBe(0);
    expect(failedOp(t, header)).toBe(-1);
    expect(Array.from(t.read(a, 2)).every(Number.isNaN)).toBe(true);
  });
});
