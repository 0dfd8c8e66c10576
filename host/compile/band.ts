// Row bands for a frozen convolution prefix (issue 14 item 3, patch-based inference as in
// MCUNetV2; docs/memory.md). The chain of window and elementwise ops that starts at the model's
// input, and whose intermediate tensors no other op reads (no gradient flows through them, no
// trainable layer reads them, no output), is rewritten band by band: each band of rows of the
// chain's last tensor is computed from the rows of the input it needs, through every op of the
// chain, into one small buffer per intermediate tensor. The ops are the same kernels over row
// sub-ranges (x and y point at the band's first row; h, pt and oh are the band's), so both plan
// verifiers check them as they check any op. Rows a band's windows share with the next band (the
// halo) are computed again; `extraMacs` counts that work.
//
// Batch 1 only: a plan's ops run over the step's batch with the planned per-sample strides, and
// a band of one sample's rows is not a band of the next one's (micro-batching makes any batch
// from steps of 1).
import type { ProgramBuilder, Ref, Region, SymbolicOp } from './program';

export interface Banding {
  layers: string[]; // the layers whose ops run in bands, in order
  bandRows: number; // rows of the last tensor per band
  bands: number;
  outputRows: number; // rows of the chain's last tensor (kept whole)
  macs: number; // multiply-adds of the chain's convolutions, unbanded
  extraMacs: number; // recomputed in the halos
}

// The window ops (geometry h w_ c kh sh dh pt oh ow) and the channels of their output.
const WINDOW_OPS: Record<string, (a: Record<string, number>) => number> = {
  conv2d_forward: (a) => a.f, conv2d_forward_i8: (a) => a.f, conv2d_forward_packed: (a) => a.f, conv2d_direct: (a) => a.f, conv2d_q8: (a) => a.f,
  depthwise_forward: (a) => a.c * a.m, depthwise_forward_clamp: (a) => a.c * a.m, depthwise_forward_i8: (a) => a.c * a.m, depthwise_forward_i8_wide: (a) => a.c * a.m,
  maxpool_forward: (a) => a.c, avgpool_forward: (a) => a.c,
};
// Elementwise ops over whole rows, and the argument that counts per-sample rows (bn_forward_infer:
// positions) or floats.
const ELEMENTWISE_OPS: Record<string, 'count' | 'rows'> = { act_forward: 'count', relu_forward: 'count', bn_forward_infer: 'rows' };
// Ops that read only weights and write a per-run copy the chain's ops read (an int8 kernel
// unpacked or packed into absmax panels, a batch norm folded into a convolution): moved ahead of
// the bands. (An absmax convolution quantizes each output position's patch on its own, so a band
// of rows gives the bits of the whole map.)
const HOISTED_OPS = new Set(['dequantize_i8', 'pack_b_q8', 'bn_fold']);

interface Tensor { region: number; offset: number; h: number; w: number; c: number }
interface Stage { op: number; x: Tensor; y: Tensor; window: boolean; pool: boolean }

const regionOf = (ref: Ref) => (typeof ref === 'number' ? ref : ref[0]);
const offsetOf = (ref: Ref) => (typeof ref === 'number' ? 0 : ref[1]);

// The chain of ops to band in p: from the first window op that reads the input region, each op
// reading the tensor the one before wrote, then cut where a tensor is read outside the chain or
// kept. Null when fewer than two ops remain (no intermediate tensor to save).
function findChain(p: ProgramBuilder, regions: Region[], keep: Set<number>): { stages: Stage[]; hoisted: number[] } | null {
  const start = p.ops.findIndex((o) => WINDOW_OPS[o.op] && o.refs.x !== undefined && regions[regionOf(o.refs.x)]?.kind === 'input');
  if (start < 0) return null;
  let stages: Stage[] = [];
  const hoisted: number[] = [];
  const x0 = p.ops[start];
  let cur: Tensor = { region: regionOf(x0.refs.x), offset: offsetOf(x0.refs.x), h: x0.args.h, w: x0.args.w_, c: x0.args.c };
  for (let i = start; i < p.ops.length; i++) {
    const o = p.ops[i];
    if (HOISTED_OPS.has(o.op) && !Object.values(o.refs).some((r) => regionOf(r) === cur.region || stages.some((s) => s.y.region === regionOf(r)))) {
      hoisted.push(i);
      continue;
    }
    const window = WINDOW_OPS[o.op] !== undefined;
    if (!window && !ELEMENTWISE_OPS[o.op]) break;
    if (o.refs.x === undefined || o.refs.y === undefined || regionOf(o.refs.x) !== cur.region || offsetOf(o.refs.x) !== cur.offset || o.refs.argmax !== undefined) break;
    const a = o.args;
    const pool = window && (a.pool ?? 0) === 1;
    const y: Tensor = window
      ? { region: regionOf(o.refs.y), offset: offsetOf(o.refs.y), h: pool ? a.oh / 2 : a.oh, w: pool ? a.ow / 2 : a.ow, c: WINDOW_OPS[o.op](a) }
      : { ...cur, region: regionOf(o.refs.y), offset: offsetOf(o.refs.y) };
    if (y.region !== cur.region && (y.offset !== 0 || regions[y.region].kind !== 'activation')) break;
    stages.push({ op: i, x: cur, y, window, pool });
    cur = y;
  }
  // A tensor between two ops of the chain is banded only if no other op reads it and the host
  // does not read it after the run; else the chain ends with the op that writes it.
  for (;;) {
    const mine = new Set(stages.map((s) => s.op));
    const outside = (region: number) => keep.has(region) || p.ops.some((o, i) => !mine.has(i) && Object.values(o.refs).some((r) => regionOf(r) === region));
    const cut = stages.findIndex((s, k) => k > 0 && outside(s.x.region));
    if (cut < 0) break;
    stages = stages.slice(0, cut);
  }
  // The last tensor stays whole; elementwise ops in place at the end run on it whole, after the bands.
  while (stages.length > 1 && stages[stages.length - 1].x.region === stages[stages.length - 1].y.region) stages.pop();
  if (stages.length < 2) return null;
  const last = stages[stages.length - 1].op;
  return { stages, hoisted: hoisted.filter((i) => i < last) };
}

// Rows [lo, hi) of a stage's input that its output rows [a, b) read (clipped to the tensor).
function inputRows(s: Stage, args: Record<string, number>, a: number, b: number): [number, number] {
  if (!s.window) return [a, b];
  const [oa, ob] = s.pool ? [2 * a, 2 * b] : [a, b];
  const dh = args.dh ?? 1;
  const lo = Math.min(Math.max(0, oa * args.sh - args.pt), s.x.h - 1);
  const hi = Math.max(Math.min(s.x.h, (ob - 1) * args.sh - args.pt + dh * (args.kh - 1) + 1), lo + 1);
  return [lo, hi];
}

// Multiply-adds per output row of a window op's convolution (0 for pooling).
function macsPerRow(op: string, a: Record<string, number>): number {
  if (op.startsWith('conv2d')) return a.ow * a.f * a.kh * a.kw * a.c;
  if (op.startsWith('depthwise')) return a.ow * a.c * a.m * a.kh * a.kw;
  return 0;
}

// Per band of `rows` rows of the last tensor, the rows of every tensor: ranges[band][k] are the
// rows of stage k's input, ranges[band][k + 1] of its output.
function bandRanges(stages: Stage[], ops: SymbolicOp[], rows: number): [number, number][][] {
  const outRows = stages[stages.length - 1].y.h;
  const ranges: [number, number][][] = [];
  for (let a = 0; a < outRows; a += rows) {
    const r: [number, number][] = new Array(stages.length + 1);
    r[stages.length] = [a, Math.min(outRows, a + rows)];
    for (let k = stages.length - 1; k >= 0; k--) r[k] = inputRows(stages[k], ops[k].args, r[k + 1][0], r[k + 1][1]);
    ranges.push(r);
  }
  return ranges;
}

// Where the chain should end: a longer chain has wider halos in every band, a shorter one leaves
// whole maps to the ops after it. The end is the one with the smallest peak: its band buffers and
// last tensor, or the largest input and output of an op of the rest of the chain run whole, in
// floats, in bands of `bandRows` rows of that end's output (the whole chain when bands cover every row).
function shortestPeak(stages: Stage[], p: ProgramBuilder, bandRows: number): Stage[] {
  if (bandRows >= stages[stages.length - 1].y.h) return stages;
  const whole = (t: Tensor) => t.h * t.w * t.c;
  let best = stages;
  let least = Infinity;
  for (let n = 2; n <= stages.length; n++) {
    const chain = stages.slice(0, n);
    const end = chain[n - 1];
    if (end.x.region === end.y.region) continue;
    const ranges = bandRanges(chain, chain.map((s) => p.ops[s.op]), Math.min(bandRows, end.y.h));
    const seen = new Set<number>();
    let floats = whole(end.y);
    chain.slice(0, -1).forEach((s, k) => {
      if (seen.has(s.y.region)) return;
      seen.add(s.y.region);
      floats += Math.max(...ranges.map((r) => r[k + 1][1] - r[k + 1][0])) * s.y.w * s.y.c;
    });
    for (const s of stages.slice(n)) floats = Math.max(floats, whole(s.x) + (s.x.region === s.y.region ? 0 : whole(s.y)));
    if (floats < least) { least = floats; best = chain; }
  }
  return best;
}

// Rewrites p's chain into bands of `bandRows` rows of its last tensor: each intermediate tensor's
// region becomes 0 bytes and a band buffer takes its place. `keep`: regions the host reads after
// the run. Returns what was banded, or null when p has no chain of two ops or more.
export function bandPrefix(p: ProgramBuilder, regions: Region[], bandRows: number, keep: Set<number>): Banding | null {
  const chain = findChain(p, regions, keep);
  if (!chain) return null;
  const stages = shortestPeak(chain.stages, p, bandRows);
  const hoisted = chain.hoisted.filter((i) => i < stages[stages.length - 1].op);
  const ops = stages.map((s) => p.ops[s.op]);
  const outRows = stages[stages.length - 1].y.h;
  const rows = Math.max(1, Math.min(bandRows, outRows));
  const ranges = bandRanges(stages, ops, rows);
  // One buffer per banded tensor (stage outputs but the last, unless written in place).
  const buffers = new Map<number, number>();
  stages.slice(0, -1).forEach((s, k) => {
    if (buffers.has(s.y.region)) return;
    const most = Math.max(...ranges.map((r) => r[k + 1][1] - r[k + 1][0]));
    buffers.set(s.y.region, p.activation(`band ${regions[s.y.region].name.replace(/^\w+:/, '')}`, most * s.y.w * s.y.c));
    regions[s.y.region].bytes = 0;
  });
  const at = (t: Tensor, row: number, first: number): Ref => {
    const buffer = buffers.get(t.region);
    return buffer !== undefined ? [buffer, (row - first) * t.w * t.c * 4] : [t.region, t.offset + row * t.w * t.c * 4];
  };
  const banded: SymbolicOp[] = [];
  for (const r of ranges) {
    stages.forEach((s, k) => {
      const o = ops[k];
      const [ia, ib] = r[k];
      const [oa, ob] = r[k + 1];
      const args = { ...o.args };
      if (s.window) {
        const conv = s.pool ? 2 : 1;
        Object.assign(args, { h: ib - ia, pt: o.args.pt + ia - conv * oa * o.args.sh, oh: conv * (ob - oa) });
      } else if (ELEMENTWISE_OPS[o.op] === 'count') args.count = (ob - oa) * s.y.w * s.y.c;
      else args.rows = (ob - oa) * s.y.w;
      const refs = { ...o.refs, x: at(s.x, ia, ia), y: at(s.y, oa, oa) };
      banded.push(o.tail ? { ...o, args, refs, tail: o.tail } : { ...o, args, refs });
    });
  }
  let macs = 0;
  let extraMacs = 0;
  stages.forEach((s, k) => {
    const perRow = macsPerRow(ops[k].op, ops[k].args) * (s.pool ? 2 : 1);
    macs += perRow * s.y.h;
    extraMacs += perRow * (ranges.reduce((n, r) => n + r[k + 1][1] - r[k + 1][0], 0) - s.y.h);
  });
  const first = stages[0].op;
  const last = stages[stages.length - 1].op;
  const moved = hoisted.map((i) => p.ops[i]);
  p.ops.splice(first, last - first + 1, ...moved, ...banded);
  const layers = [...new Set(ops.map((o) => o.layer))];
  return { layers, bandRows: rows, bands: ranges.length, outputRows: outRows, macs, extraMacs };
}

export function describeBanding(b: Banding): string {
  const pct = b.macs > 0 ? `; +${((100 * b.extraMacs) / b.macs).toFixed(1)}% multiply-adds recomputed in the halos` : '';
  return `frozen prefix in row bands: ${b.layers.join(', ')} run in ${b.bands} bands of ${b.bandRows} of the ${b.outputRows} output rows of ` +
    `${b.layers[b.layers.length - 1]}${pct}`;
}

// Bands the chain of every program that runs the forward pass (forward, evaluate, gradients,
// train), each with the regions the host reads after it kept whole. The plan reports the first
// program's banding, with the names of every program banded. host/compile/plan.ts checks bandRows
// and the batch first.
export function bandPrograms(builders: ProgramBuilder[], keep: Map<string, number[]>, regions: Region[], batch: number, bandRows: number): PlanBanding | null {
  let first: PlanBanding | null = null;
  for (const p of builders) {
    if (!['forward', 'evaluate', 'gradients', 'train'].includes(p.name)) continue;
    const b = bandPrefix(p, regions, bandRows, new Set([...(keep.get(p.name) ?? []), ...p.pinned]));
    if (!b) continue;
    if (!first) first = { ...b, programs: [] };
    first.programs.push(p.name);
  }
  return first;
}

export interface PlanBanding extends Banding { programs: string[] }

// What the plan compiler calls, held by the records of the layers whose ops start a chain
// (conv2d, depthwiseConv2d, the poolings: host/layers/def.ts `banding`), so that an app without
// them bundles none of this file (test/bundle.test.ts).
export const ROW_BANDING = { bandPrograms, fitByBanding };
export type RowBanding = typeof ROW_BANDING;

// When the whole-map plan is over the budget: the largest band height (halving from half the
// chain's last rows) whose plan fits, or null if none does or the plan has nothing to band.
// compile(rows) compiles the plan with bandRows = rows.
export function fitByBanding<P extends { pages: number; banding: PlanBanding | null }>(compile: (bandRows: number) => P, budgetBytes: number): P | null {
  const whole = compile(Infinity);
  if (!whole.banding) return null;
  for (let rows = Math.ceil(whole.banding.outputRows / 2); ; rows = Math.ceil(rows / 2)) {
    const plan = compile(rows);
    if (plan.pages * 65536 <= budgetBytes) return plan;
    if (rows === 1) return null;
  }
}
