// How a plan's activations share the arena (host/compile/plan.ts lays out the rest): each
// program's activations packed by live range, and the live-set lower bound (issue 14) any
// schedule of the plan needs.
import type { LiveSetBound } from './plan';
import type { ProgramBuilder, Ref, Region } from './lower';

// Activations sum at each op over those alive there (live ranges are set by packActivations);
// everything else is alive throughout.
export function liveSetBound(regions: Region[], builders: ProgramBuilder[], totalBytes: number): LiveSetBound {
  const fixed = regions.reduce((n, r) => (r.kind === 'activation' ? n : n + r.bytes), 0);
  let liveActivations = 0;
  let at = 'none';
  for (const p of builders) {
    const alive = new Float64Array(p.ops.length + 1); // bytes starting minus ending at each op
    regions.forEach((r) => {
      if (r.kind !== 'activation' || r.program !== p.name) return;
      alive[r.live![0]] += r.bytes;
      alive[r.live![1] + 1] -= r.bytes;
    });
    let sum = 0;
    for (let i = 0; i < p.ops.length; i++) {
      sum += alive[i];
      if (sum > liveActivations) { liveActivations = sum; at = `${p.name} op#${i} ${p.ops[i].op} ${p.ops[i].layer}`; }
    }
  }
  const bytes = fixed + liveActivations;
  return { bytes, liveActivations, at, ratio: totalBytes / bytes };
}

// The cache line of the threads' tiles (docs/threads.md): two threads writing parts of one line
// pass it back and forth; the activations and the scratch start on a line so that a tile boundary
// at a multiple of 16 floats of a row is one in memory too.
const CACHE_LINE = 64;
export const alignLine = (n: number) => Math.ceil(n / CACHE_LINE) * CACHE_LINE;

// Greedy packing by live range (largest first, lowest line-aligned offset that overlaps nothing
// alive at the same time). Returns the bytes the program's activations need.
export function packActivations(regions: Region[], p: ProgramBuilder, base: number): number {
  const refRegion = (ref: Ref) => (typeof ref === 'number' ? ref : ref[0]);
  const mine: number[] = [];
  regions.forEach((r, i) => { if (r.kind === 'activation' && r.program === p.name) mine.push(i); });
  for (const i of mine) regions[i].live = [Infinity, -Infinity] as unknown as [number, number];
  p.ops.forEach((o, at) => {
    for (const ref of Object.values(o.refs)) {
      const r = regions[refRegion(ref)];
      if (!r || r.kind !== 'activation') continue;
      r.live = [Math.min(r.live![0], at), Math.max(r.live![1], at)];
    }
  });
  for (const i of mine) if (!Number.isFinite(regions[i].live![0])) regions[i].live = [0, 0];
  for (const i of p.pinned) regions[i].live = [regions[i].live![0], Math.max(p.ops.length - 1, regions[i].live![1])];
  const order = [...mine].sort((a, b) => regions[b].bytes - regions[a].bytes || regions[a].live![0] - regions[b].live![0]);
  const placed: number[] = [];
  let extent = 0;
  for (const i of order) {
    const r = regions[i];
    const conflicts = placed.map((j) => regions[j]).filter((q) => q.live![0] <= r.live![1] && r.live![0] <= q.live![1])
      .sort((a, b) => a.offset - b.offset);
    let offset = base;
    for (const q of conflicts) {
      if (offset + r.bytes <= q.offset) break;
      offset = Math.max(offset, alignLine(q.offset + q.bytes));
    }
    r.offset = offset;
    placed.push(i);
    extent = Math.max(extent, offset + r.bytes - base);
  }
  return extent;
}
