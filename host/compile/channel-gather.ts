// Channel re-layouts planned away (issue 12). ShuffleNet's unit is split (Slice) -> branch ->
// Concatenate -> Reshape / Permute / Reshape (the channel shuffle) -> the next split: in NHWC every
// one of those is a per-pixel permutation of channels. A concatenate, reshape or permute whose
// consumers are all such re-layouts emits nothing: its value is a channel gather, "channel j of
// pixel p is channel channel[j] of pixel p of sources[source[j]]", and the first consumer that needs
// the bytes (a slice, or any other layer) writes them once, straight from the sources. A unit's two
// halves then cost one interleave each instead of a concatenation, two shuffles and two slices.
// Forward only: nothing here runs where a gradient flows through the node or its consumers.
import { isOutput, type GraphNode, sizeOf } from './graph';
import { at, type CopyBox, emitNdCopy } from './nd-copy';
import { type CompileContext, type ForwardArgs, last, type NodeValue, type ProgramBuilder, rowsOf } from './program';
import type { Layer } from '../layers/layer';

export interface ChannelGather {
  pixels: number; // P per sample; every source holds P pixels too
  channels: number; // C per pixel of this value
  sources: NodeValue[]; // materialized values the channels come from
  source: Int32Array; // per channel: index into sources
  channel: Int32Array; // per channel: the channel of that source
}

// Re-layouts whose value may stay a gather, and those that may compose one (a slice narrows the
// channels, so it writes its output: its readers then read contiguous rows).
const STAYS_VIRTUAL = new Set(['concatenate', 'reshape', 'permute']);
const COMPOSES = new Set(['concatenate', 'reshape', 'permute', 'slice']);

// A value as a gather: itself, channel for channel, when it is materialized.
function asGather(v: NodeValue): ChannelGather {
  if (v.gather) return v.gather;
  const c = last(v.shape);
  return { pixels: rowsOf(v.shape), channels: c, sources: [v], source: new Int32Array(c), channel: Int32Array.from({ length: c }, (_, j) => j) };
}

// The copy boxes of a re-layout layer's forward, each with the input it reads (given by its
// record: host/layers/concatenate.ts, reshape.ts, permute.ts, slice.ts).
export type RelayoutBoxes = (layer: Layer, inShapes: number[][], outShape: number[]) => { input: number; box: CopyBox }[];

// out[y] = base + x over the box (flat per-sample indices of both sides).
function applyBox(out: Int32Array, box: CopyBox, base: number): void {
  const { dims, y, x } = box;
  const idx = new Array<number>(dims.length).fill(0);
  const total = sizeOf(dims);
  for (let e = 0, yi = y.offset, xi = x.offset; e < total; e++) {
    out[yi] = base + xi;
    for (let k = dims.length - 1; k >= 0; k--) {
      idx[k]++;
      yi += y.strides[k];
      xi += x.strides[k];
      if (idx[k] < dims[k]) break;
      yi -= dims[k] * y.strides[k];
      xi -= dims[k] * x.strides[k];
      idx[k] = 0;
    }
  }
}

// The gather of `node`'s output from its inputs' gathers, when its forward is a per-pixel channel
// permutation of them (same pixel in, same pixel out, for every pixel); null otherwise.
export function composeGather(layer: Layer, inputs: NodeValue[], shape: number[], relayoutBoxes: RelayoutBoxes): ChannelGather | null {
  const gs = inputs.map(asGather);
  const P = gs[0].pixels;
  if (gs.some((g) => g.pixels !== P) || sizeOf(shape) % P !== 0) return null;
  const boxes = relayoutBoxes(layer, inputs.map((v) => v.shape), shape);
  const C = sizeOf(shape) / P;
  const bases: number[] = [];
  gs.reduce((b, g) => (bases.push(b), b + P * g.channels), 0);
  const out = new Int32Array(P * C).fill(-1);
  for (const { input, box } of boxes) applyBox(out, box, bases[input]);
  const sources: NodeValue[] = [];
  const source = new Int32Array(C), channel = new Int32Array(C);
  for (let j = 0; j < C; j++) {
    const v = out[j];
    if (v < 0) return null;
    let i = gs.length - 1;
    while (bases[i] > v) i--;
    const g = gs[i], m = v - bases[i];
    if (m >= g.channels) return null;
    for (let q = 1; q < P; q++) if (out[q * C + j] !== bases[i] + q * g.channels + m) return null;
    const src = g.sources[g.source[m]];
    let s = sources.indexOf(src);
    if (s < 0) s = sources.push(src) - 1;
    source[j] = s;
    channel[j] = g.channel[m];
  }
  return { pixels: P, channels: C, sources, source, channel };
}

// Whether `node`'s value may stay a gather in program p: a concatenate / reshape / permute that
// is not an output, read only by re-layouts, with no gradient through it or its readers.
function staysVirtual(ctx: CompileContext, p: ProgramBuilder, node: GraphNode): boolean {
  if (!STAYS_VIRTUAL.has(node.layer!.kind) || isOutput(ctx.graph, node.id) || p.gradNodes.has(node.id)) return false;
  const next = ctx.consumers.get(node.id) ?? [];
  return next.length > 0 && next.every((id) => COMPOSES.has(ctx.graph.nodes[id].layer?.kind ?? '') && !p.gradNodes.has(id));
}

// A re-layout record's forward (concatenate, reshape, permute, slice: LayerDef.readsGathers), given
// its copy boxes: its value as a gather, or its output written from the sources, or else `own`
// (the record's own forward) on its inputs with every gather written out. Reached only through
// those records, so an app without them bundles none of this.
export function gatherOrForward(a: ForwardArgs, boxes: RelayoutBoxes, own: (a: ForwardArgs) => NodeValue): NodeValue {
  const gathered = gatherForward(a.ctx, a.p, a.node, a.inputs, boxes);
  if (gathered) return gathered;
  if (!a.inputs.some((v) => v.gather)) return own(a);
  const inputs = materializeInputs(a.ctx, a.p, a.node, a.inputs);
  return own({ ...a, inputs, x: inputs[0] });
}

// The forward of a re-layout node that reads a gather or may stay one: its gather, or its output
// written from the sources; null when the layer's own forward runs (on materialized inputs).
function gatherForward(ctx: CompileContext, p: ProgramBuilder, node: GraphNode, inputs: NodeValue[], boxes: RelayoutBoxes): NodeValue | null {
  const layer = node.layer!;
  if (!COMPOSES.has(layer.kind)) return null;
  const virtual = staysVirtual(ctx, p, node);
  if (!virtual && !inputs.some((v) => v.gather)) return null;
  const g = composeGather(layer, inputs, node.shape, boxes);
  if (!g) return null;
  if (virtual) return { region: -1, shape: node.shape, gather: g };
  return materialize(ctx, p, node.name, layer.name, node.shape, g);
}

// The inputs with every gather written into a region of its own (for a layer that reads bytes).
function materializeInputs(ctx: CompileContext, p: ProgramBuilder, node: GraphNode, inputs: NodeValue[]): NodeValue[] {
  return inputs.map((v, i) => (v.gather ? materialize(ctx, p, ctx.graph.nodes[node.inputs[i]].name, node.layer!.name, v.shape, v.gather) : v));
}

// A gather's bytes: its source's region when it is that source channel for channel (a reshape
// of it, whose readers could not compose), else a region written from the sources.
function materialize(ctx: CompileContext, p: ProgramBuilder, name: string, layer: string, shape: number[], g: ChannelGather): NodeValue {
  const [src] = g.sources;
  if (g.sources.length === 1 && sizeOf(src.shape) === g.pixels * g.channels && g.channel.every((c, j) => c === j)) return { region: src.region, shape };
  const y = p.activation(name, sizeOf(shape) * ctx.batch);
  emitGather(p, layer, y, g);
  return { region: y, shape };
}

interface Run { s: number; j0: number; c0: number; so: number; si: number; n: number }

// Output channels in runs from one source, each an arithmetic progression on both sides.
function runsOf(g: ChannelGather): Run[] {
  const taken = new Uint8Array(g.channels);
  const runs: Run[] = [];
  for (let j = 0; j < g.channels; j++) {
    if (taken[j]) continue;
    const s = g.source[j], c0 = g.channel[j];
    // The longest run through one of the next few channels of the same source (an interleave's
    // contiguous source run on a tie).
    let best: Run = { s, j0: j, c0, so: 1, si: 1, n: 1 };
    for (let j2 = j + 1, tries = 0; j2 < g.channels && tries < 4; j2++) {
      if (taken[j2] || g.source[j2] !== s) continue;
      tries++;
      const r: Run = { s, j0: j, c0, so: j2 - j, si: g.channel[j2] - c0, n: runLength(g, taken, s, j, c0, j2 - j, g.channel[j2] - c0) };
      if (r.n > best.n || (r.n === best.n && r.si === 1 && best.si !== 1)) best = r;
    }
    for (let k = 0; k < best.n; k++) taken[j + k * best.so] = 1;
    runs.push(best);
  }
  return runs;
}

function runLength(g: ChannelGather, taken: Uint8Array, s: number, j: number, c0: number, so: number, si: number): number {
  let n = 0;
  while (j + n * so < g.channels && !taken[j + n * so] && g.source[j + n * so] === s && g.channel[j + n * so] === c0 + n * si) n++;
  return n;
}

// Writes gather g into region y: two runs that interleave (channels j0, j0 + 2, ... and j0 + 1,
// j0 + 3, ..., each contiguous in its source) as one interleave2, every other run as one nd_copy.
export function emitGather(p: ProgramBuilder, layer: string, y: number, g: ChannelGather): void {
  const P = g.pixels, C = g.channels;
  const cs = (s: number) => sizeOf(g.sources[s].shape) / P;
  const runs = runsOf(g);
  const paired = new Set<Run>();
  for (const r of runs) {
    if (paired.has(r) || r.so !== 2 || r.si !== 1 || r.n < 2) continue;
    const b = runs.find((o) => o !== r && !paired.has(o) && o.j0 === r.j0 + 1 && o.so === 2 && o.si === 1 && o.n === r.n);
    if (!b) continue;
    paired.add(r).add(b);
    p.emit('interleave2', layer, { y: at(y, r.j0), a: at(g.sources[r.s].region, r.c0), b: at(g.sources[b.s].region, b.c0) },
      { ldy: C, lda: cs(r.s), ldb: cs(b.s), rows: P, n: r.n });
  }
  for (const r of runs) {
    if (paired.has(r)) continue;
    const box: CopyBox = { dims: [P, r.n], y: { offset: r.j0, strides: [C, r.so] }, x: { offset: r.c0, strides: [cs(r.s), r.si] } };
    emitNdCopy(p, layer, y, g.sources[r.s].region, box, P * C, P * cs(r.s), 0);
  }
}
