// Independent checks of a plan's memory safety, from the plan data alone: regions are aligned
// and inside the arena, no two regions alive at the same time overlap, and every kernel call
// (its footprint, computed from its arguments) stays inside the regions it was given.
import { opFootprint } from './ops';
import { type Plan, type ProgramName, WASM_PAGE } from './plan';

const DISJOINT: Record<string, [string, string][]> = {
  gemm: [['c', 'a'], ['c', 'b']],
  conv2d_forward: [['y', 'x']],
  conv2d_backward_input: [['dx', 'dy']],
  conv2d_backward_filter: [['dw', 'dy'], ['dw', 'x']],
  depthwise_forward: [['y', 'x']],
  depthwise_backward_input: [['dx', 'dy']],
  maxpool_forward: [['y', 'x']],
  maxpool_backward: [['dx', 'dy']],
  avgpool_forward: [['y', 'x']],
  avgpool_backward: [['dx', 'dy']],
  gap_forward: [['y', 'x']],
  gap_backward: [['dx', 'dy']],
  bn_backward_train: [['dx', 'dy'], ['dx', 'x']],
  copy_strided: [['y', 'x']],
};

export function verifyPlan(plan: Plan): string[] {
  const problems: string[] = [];
  const { regions } = plan;
  if (plan.totalBytes > plan.pages * WASM_PAGE) problems.push(`totalBytes ${plan.totalBytes} exceeds ${plan.pages} pages`);
  regions.forEach((r, i) => {
    if (r.offset % 16 !== 0 || r.bytes % 16 !== 0) problems.push(`region ${i} '${r.name}' is not 16-byte aligned (offset ${r.offset}, ${r.bytes} bytes)`);
    if (r.offset < 0 || r.offset + r.bytes > plan.totalBytes) problems.push(`region ${i} '${r.name}' [${r.offset}, ${r.offset + r.bytes}) lies outside the arena of ${plan.totalBytes} bytes`);
  });
  // Alive at the same time: any two non-activation regions; a non-activation region and any
  // activation; two activations of one program whose live ranges intersect.
  const together = (a: number, b: number) => {
    const ra = regions[a];
    const rb = regions[b];
    if (ra.kind !== 'activation' || rb.kind !== 'activation') return true;
    if (ra.program !== rb.program) return false;
    return ra.live![0] <= rb.live![1] && rb.live![0] <= ra.live![1];
  };
  for (let a = 0; a < regions.length; a++) {
    for (let b = a + 1; b < regions.length; b++) {
      const ra = regions[a];
      const rb = regions[b];
      if (ra.bytes === 0 || rb.bytes === 0) continue;
      const overlap = ra.offset < rb.offset + rb.bytes && rb.offset < ra.offset + ra.bytes;
      if (overlap && together(a, b)) problems.push(`regions '${ra.name}' and '${rb.name}' overlap while both are alive`);
    }
  }
  for (const [name, program] of Object.entries(plan.programs) as [ProgramName, NonNullable<Plan['programs'][ProgramName]>][]) {
    program.ops.forEach((op, at) => {
      // Kernels that read one buffer while scattering into another must not get the same bytes.
      for (const [w, r] of DISJOINT[op.op] ?? []) {
        if (op.uses[w] !== undefined && op.uses[w] === op.uses[r]) {
          problems.push(`${name} op ${at} (${op.op}, ${op.layer}) writes '${w}' into the region it reads as '${r}' ('${regions[op.uses[w]].name}')`);
        }
      }
      for (const access of opFootprint(op, plan.batchSize)) {
        const where = `${name} op ${at} (${op.op}, ${op.layer}) argument '${access.arg}'`;
        const first = op.uses[access.arg];
        if (first === undefined) { problems.push(`${where} points at no region`); continue; }
        const r = regions[first];
        if (r.kind === 'activation') {
          if (r.program !== name) problems.push(`${where} uses '${r.name}' of another program`);
          else if (at < r.live![0] || at > r.live![1]) problems.push(`${where} uses '${r.name}' outside its live range [${r.live}]`);
        }
        // A slab-wide op may run over consecutive regions of one slab (the trainable parameters,
        // their gradients, one optimizer slot).
        let end = r.offset + r.bytes;
        if (r.slab) {
          const slab = regions.filter((q) => q.slab === r.slab).sort((p, q) => p.offset - q.offset);
          for (const q of slab) if (q.offset === end && access.start + access.bytes > end) end = q.offset + q.bytes;
        }
        if (access.start < r.offset || access.start + access.bytes > end) {
          problems.push(`${where} touches [${access.start}, ${access.start + access.bytes}) outside '${r.name}' [${r.offset}, ${end})`);
        }
      }
    });
  }
  return problems;
}
