// Independent checks of a plan's memory safety, from the plan data alone: regions are aligned
// and inside the arena, no two regions alive at the same time overlap, and every kernel call
// (its footprint, computed from its arguments) stays inside the regions it was given.
import { type AccessMode, OP_FOOTPRINTS, opFootprint, opWork, PLAN_WORK_LIMIT } from './ops';
import type { RegionKind } from './lower';
import { evalSize, parseSize, sizeNames } from './size-expr';
import { type Plan, type ProgramName, WASM_PAGE } from './plan';

// Which region kinds an access may use, by its mode (host/compile/ops.ts OP_FOOTPRINTS): weights only
// through the optimizer and constraints ('p', trainable ones only), state only through BN's
// moving statistics ('s'); the input and labels are read-only; the kernels' statics, the step
// header and the program words are never an op's operand (the header's scalars are reached
// through fixed offsets, not pointers).
export function accessAllowed(mode: AccessMode, kind: RegionKind, slab: string | undefined): boolean {
  if (kind === 'static' || kind === 'header' || kind === 'program') return false;
  if (mode === 'r') return true;
  if (kind === 'param') return mode === 'p' && slab === 'trainable';
  if (kind === 'state') return mode === 's';
  return kind !== 'input' && kind !== 'labels';
}

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
    let work = 0;
    program.ops.forEach((op, at) => {
      const spec = OP_FOOTPRINTS[op.op];
      const where = (arg: string) => `${name} op ${at} (${op.op}, ${op.layer}) argument '${arg}'`;
      // Sizes are products of the integer arguments: a negative one would make a range wrap.
      const sizes = new Set([...spec.access.map(([, floats]) => floats), opWork(spec)].flatMap((e) => [...sizeNames(parseSize(e))]));
      for (const n of sizes) {
        if (n !== 'B' && !(op.args[n] >= 0 && op.args[n] < 2 ** 31)) problems.push(`${where(n)} is ${op.args[n]}, not a size`);
      }
      work += evalSize(parseSize(opWork(spec)), (n) => (n === 'B' ? plan.batchSize : op.args[n]));
      for (const [arg] of spec.access) {
        const pointer = arg.replace('?', '');
        if (!(op.args[pointer] >= 0 && op.args[pointer] < 2 ** 32)) problems.push(`${where(pointer)} is ${op.args[pointer]}, not an offset`);
      }
      // Kernels that read one buffer while scattering into another must not get the same bytes.
      for (const [w, r] of spec.disjoint ?? []) {
        if (op.uses[w] !== undefined && op.uses[w] === op.uses[r]) {
          problems.push(`${name} op ${at} (${op.op}, ${op.layer}) writes '${w}' into the region it reads as '${r}' ('${regions[op.uses[w]].name}')`);
        }
      }
      const required = new Set(spec.access.filter(([arg]) => !arg.endsWith('?')).map(([arg]) => arg));
      for (const [arg, floats] of spec.access) {
        const bytes = 4 * evalSize(parseSize(floats), (n) => (n === 'B' ? plan.batchSize : op.args[n]));
        if (required.has(arg) && op.args[arg] === 0 && bytes > 0) problems.push(`${where(arg)} is 0 but the kernel touches ${bytes} bytes there`);
      }
      for (const access of opFootprint(op, plan.batchSize)) {
        const first = op.uses[access.arg];
        if (first === undefined || !regions[first]) { problems.push(`${where(access.arg)} points at no region`); continue; }
        const r = regions[first];
        const mode = spec.access.find(([arg]) => arg.replace('?', '') === access.arg)![2];
        if (!accessAllowed(mode, r.kind, r.slab)) {
          problems.push(`${where(access.arg)} may not ${mode === 'r' ? 'use' : 'write'} '${r.name}' (${r.slab ?? r.kind})`);
        }
        if (r.kind === 'activation') {
          if (r.program !== name) problems.push(`${where(access.arg)} uses '${r.name}' of another program`);
          else if (at < r.live![0] || at > r.live![1]) problems.push(`${where(access.arg)} uses '${r.name}' outside its live range [${r.live}]`);
        }
        // A slab-wide op may run over consecutive regions of one slab (the trainable parameters,
        // their gradients, one optimizer slot).
        let end = r.offset + r.bytes;
        if (r.slab) {
          const slab = regions.filter((q) => q.slab === r.slab).sort((p, q) => p.offset - q.offset);
          for (const q of slab) if (q.offset === end && access.start + access.bytes > end) end = q.offset + q.bytes;
        }
        if (access.start < r.offset || access.start + access.bytes > end) {
          problems.push(`${where(access.arg)} touches [${access.start}, ${access.start + access.bytes}) outside '${r.name}' [${r.offset}, ${end})`);
        }
      }
    });
    if (!(work <= PLAN_WORK_LIMIT)) problems.push(`${name} program: a step does ${work} element operations, over the limit of ${PLAN_WORK_LIMIT}`);
  }
  return problems;
}
