// NumPy broadcasting in a program: the output shape of broadcast operands (per sample, ranks
// right-aligned), the loop of the broadcast kernel (assembly/kernels/broadcast.ts) over
// [batch, n1..n5] with each operand's strides, and the forward and operand-gradient emission that
// the merge layers (add, subtract, multiply, maximum, minimum, average, divide), reduce and
// constantOp share.
import { sizeOf } from './graph';
import { type ProgramBuilder, type Ref } from './program';

// The kernel's op codes (assembly/kernels/broadcast.ts BC_*; a test checks they agree).
export const BC_OP = {
  add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, sqdiff: 6, copy: 7, sum: 8, gMul: 9, gDiv: 10, gDivGrad: 11,
  gGe: 12, gLt: 13, gLe: 14, gGt: 15, gSqdiff: 16, eqCount: 17, eqSelect: 18, reduceMax: 19, reduceMin: 20,
  atan2: 21, gAtan2: 22,
} as const;
export type BcOp = keyof typeof BC_OP;
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min' | 'atan2';

// Per-sample axes the kernel loops over after merging (the batch is the sixth).
export const MAX_BROADCAST_AXES = 5;

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

// NumPy's rule on per-sample shapes: right-aligned, each axis equal or 1. `fail` makes the
// layer's ShapeError.
export function broadcastShapes(shapes: readonly (readonly number[])[], fail: (what: string) => Error): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 1; i <= rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const e = s.length >= i ? s[s.length - i] : 1;
      if (e !== 1 && d !== 1 && e !== d) {
        const [p, q] = shapes.filter((t) => (t.length >= i ? t[t.length - i] : 1) !== 1);
        throw fail(`inputs of shapes ${shapeText(p)} and ${shapeText(q)} do not broadcast (axis -${i}: ${p[p.length - i]} vs ${q[q.length - i]})`);
      }
      if (e !== 1) d = e;
    }
    out.unshift(d);
  }
  return out;
}

// An operand of the kernel: a region and its per-sample shape (broadcastable to the loop's);
// `batched` false for a constant (a weight) that every sample shares.
export interface Operand { ref: Ref; shape: readonly number[]; batched: boolean }

export interface BroadcastLoop { dims: number[]; strides: number[][] } // dims n1..n5; strides [batch, n1..n5] per operand

// The kernel's loop over `space` for these operand shapes: axes of extent 1 dropped, neighbours
// merged where every operand steps through both as one, padded to five. Null when more than five
// axes remain.
export function broadcastLoop(space: readonly number[], shapes: readonly (readonly number[])[], batched: readonly boolean[]): BroadcastLoop | null {
  const r = space.length;
  const natural = shapes.map((s) => {
    const padded = [...Array(r - s.length).fill(1), ...s];
    const st = new Array(r).fill(0);
    for (let i = r - 1, step = 1; i >= 0; i--) { st[i] = padded[i] === 1 ? 0 : step; step *= padded[i]; }
    return st;
  });
  const axes: { n: number; s: number[] }[] = [];
  for (let i = 0; i < r; i++) {
    if (space[i] === 1) continue;
    const s = natural.map((st) => st[i]);
    const prev = axes[axes.length - 1];
    if (prev && prev.s.every((ps, k) => ps === s[k] * space[i])) { prev.n *= space[i]; prev.s = s; } else axes.push({ n: space[i], s });
  }
  if (axes.length > MAX_BROADCAST_AXES) return null;
  while (axes.length < MAX_BROADCAST_AXES) axes.unshift({ n: 1, s: shapes.map(() => 0) });
  return {
    dims: axes.map((x) => x.n),
    strides: shapes.map((s, k) => [batched[k] ? sizeOf(s) : 0, ...axes.map((x) => x.s[k])]),
  };
}

// One broadcast op: y (shape yShape, contiguous per sample) over the index space `space`, g
// contiguous over space (or none), operands a and b.
export function emitBroadcast(p: ProgramBuilder, layer: string, op: BcOp, space: readonly number[], y: Operand, g: Ref | null,
  a: Operand | null, b: Operand | null, alpha: number, accumulate: number): void {
  const list = [y, a, b];
  const loop = broadcastLoop(space, list.map((o) => o?.shape ?? []), list.map((o) => o?.batched ?? false));
  // outputShape checks the rank first (checkBroadcastRank), so this is a planner bug.
  if (!loop) throw new Error(`layer ${layer}: broadcast over ${shapeText(space)} needs more than ${MAX_BROADCAST_AXES} axes`);
  const args: Record<string, number> = { op: BC_OP[op], alpha, accumulate };
  loop.dims.forEach((n, i) => { args[`n${i + 1}`] = n; });
  ['sy', 'sa', 'sb'].forEach((name, k) => loop.strides[k].forEach((v, i) => { args[`${name}${i}`] = v; }));
  const refs: Record<string, Ref> = { y: y.ref };
  for (const [name, ref] of [['g', g], ['a', a?.ref], ['b', b?.ref]] as const) {
    if (ref === null || ref === undefined) args[name] = 0;
    else refs[name] = ref;
  }
  p.emit('broadcast', layer, refs, args);
}

// Refuses shapes the kernel cannot loop over (more than five per-sample axes after merging).
export function checkBroadcastRank(space: readonly number[], shapes: readonly (readonly number[])[], fail: (what: string) => Error): void {
  if (!broadcastLoop(space, [space, ...shapes], shapes.map(() => true).concat(true))) {
    throw fail(`broadcasting ${shapes.map(shapeText).join(' and ')} to ${shapeText(space)} needs more than ${MAX_BROADCAST_AXES} axes that do not merge`);
  }
}

// y = a op b over the output shape.
export function emitBinary(p: ProgramBuilder, layer: string, op: BinaryOp, y: Ref, shape: readonly number[], a: Operand, b: Operand, accumulate = 0): void {
  emitBroadcast(p, layer, op, shape, { ref: y, shape, batched: true }, null, a, b, 1, accumulate);
}

// The gradient of y = a op b with respect to one operand (which 0: a, 1: b), written into (or
// added to) `dx` of that operand's shape: dy's share summed over the axes it was broadcast along.
// `y` is the forward output (divide's second operand uses it).
export function emitBinaryGrad(p: ProgramBuilder, layer: string, op: BinaryOp, which: 0 | 1, dx: { region: Ref; accumulate: number }, dy: Ref,
  shape: readonly number[], a: Operand, b: Operand): void {
  const self = which === 0 ? a : b;
  const target: Operand = { ref: dx.region, shape: self.shape, batched: true };
  const emit = (k: BcOp, x: Operand | null, z: Operand | null, alpha = 1) => emitBroadcast(p, layer, k, shape, target, dy, x, z, alpha, dx.accumulate);
  switch (op) {
    case 'add': return emit('sum', null, null);
    case 'sub': return emit('sum', null, null, which === 0 ? 1 : -1);
    case 'mul': return emit('gMul', which === 0 ? b : a, null);
    case 'div': return which === 0 ? emit('gDiv', b, null) : emit('gDivGrad', a, b, -1);
    // TF's rule (Keras's backends): a tie sends the gradient to the first operand.
    case 'max': return which === 0 ? emit('gGe', a, b) : emit('gLt', a, b);
    case 'min': return which === 0 ? emit('gLe', a, b) : emit('gGt', a, b);
    // atan2(a, b): d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2).
    case 'atan2': return which === 0 ? emit('gAtan2', a, b) : emit('gAtan2', b, a, -1);
  }
}
