// The WASI module reads plan and data files at the offsets of assembly/wasi/file-layouts.ts; the host
// writes them (host/formats/plan-file.ts, host/formats/data-file.ts). Both sides must agree: the
// constants, and the field values a host-written file holds at the module's offsets.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HEADER } from '../host/compile/ops';
import { compileTrainPlan, loadModel, planToFileBytes, readPlanFileInfo } from '../dist/node.js';
import { DATA_FILE_HEADER_BYTES, DATA_FILE_MAGIC, DATA_FILE_VERSION, dataToFileBytes, LABELS_SPARSE } from '../host/formats/data-file';
import { PLAN_FILE_HEADER_BYTES, PLAN_FILE_MAGIC, PLAN_FILE_VERSION, PROGRAM_ID_OF, STEP_CONTRACT } from '../host/formats/plan-file';

const ROOT = new URL('..', import.meta.url).pathname;
const source = readFileSync(join(ROOT, 'assembly/wasi/file-layouts.ts'), 'utf8');
const W: Record<string, number> = {};
for (const m of source.matchAll(/export const (\w+): (?:u32|usize) = (0x[0-9a-f]+|\d+);/g)) W[m[1]] = Number(m[2]);

describe('plan and data file layouts: the WASI module reads what the host writes', () => {
  it('magic numbers, versions, header sizes, step contract and program ids agree', () => {
    expect([W.PLAN_MAGIC, W.PLAN_VERSION, W.P_FIXED_BYTES, W.STEP_CONTRACT]).toEqual([PLAN_FILE_MAGIC, PLAN_FILE_VERSION, PLAN_FILE_HEADER_BYTES, STEP_CONTRACT]);
    expect([W.PROGRAM_TRAIN, W.PROGRAM_INIT]).toEqual([PROGRAM_ID_OF.train, PROGRAM_ID_OF.init]);
    expect([W.DATA_MAGIC, W.DATA_VERSION, W.DATA_HEADER_BYTES]).toEqual([DATA_FILE_MAGIC, DATA_FILE_VERSION, DATA_FILE_HEADER_BYTES]);
  });

  it('a host-written plan file holds the plan\'s values at the module\'s offsets', async () => {
    const model = await loadModel(new Uint8Array(readFileSync(join(ROOT, 'models/mnist-base-0to4.safetensors'))));
    const plan = compileTrainPlan(model, { batch: 16 });
    const bytes = planToFileBytes(plan);
    const info = readPlanFileInfo(bytes);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const u = (name: string) => { expect(W[name], name).toBeDefined(); return view.getUint32(W[name], true); };
    const header = plan.regions.find((r) => r.kind === 'header')!;
    expect({
      fileBytes: u('P_FILE_BYTES'), contract: u('P_CONTRACT'), pages: u('P_PAGES'), batch: u('P_BATCH'), headerOffset: u('P_HEADER_OFFSET'),
      headerBytes: u('P_HEADER_BYTES'), inputOffset: u('P_INPUT_OFFSET'), inputFloats: u('P_INPUT_FLOATS'), labelsOffset: u('P_LABELS_OFFSET'),
      labelWords: u('P_LABEL_WORDS'), labelKind: u('P_LABEL_KIND'), programs: u('P_PROGRAMS'), bindings: u('P_BINDINGS'),
      inputRank: u('P_INPUT_RANK'), regions: u('P_REGIONS'),
    }).toEqual({
      fileBytes: bytes.length, contract: STEP_CONTRACT, pages: plan.pages, batch: plan.batchSize, headerOffset: header.offset,
      headerBytes: HEADER.bytes, inputOffset: plan.regions[plan.input].offset, inputFloats: plan.inputShape.reduce((a, b) => a * b, 1),
      labelsOffset: plan.regions[plan.labelsRegion].offset, labelWords: plan.labels.floatsPerSample, labelKind: plan.labels.sparse ? 0 : 1,
      programs: info.programs.length, bindings: info.bindings.length, inputRank: plan.inputShape.length, regions: plan.regions.length,
    });
    expect(info.programs.map((p) => p.id)).toContain(W.PROGRAM_TRAIN);
  });

  it('a host-written data file starts with the header the module reads', () => {
    const bytes = dataToFileBytes({ x: new Float32Array(6).fill(0.5), xFloats: 3, labels: Int32Array.from([1, 0]), labelWords: 1 });
    const u = (at: number) => new DataView(bytes.buffer).getUint32(at, true);
    expect([u(0), u(4), u(8), u(12), u(16), u(20), u(24)]).toEqual([W.DATA_MAGIC, W.DATA_VERSION, W.DATA_HEADER_BYTES, 2, 3, LABELS_SPARSE, 1]);
  });
});
