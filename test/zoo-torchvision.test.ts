// Issue 11's torchvision set: PyTorch's own ONNX exporter (opset 13, dynamic batch, random weights,
// BatchNorm statistics that are not the identity) on six CNN families, exported at test time by
// test/torch/export.py. Each imports with importOnnx and matches PyTorch's output and
// onnxruntime-web's within 1e-4 relative to the largest output magnitude, at batch 1 and 2.
// EDGETUNE_ZOO_ALL=1 (scripts/zoo.mjs) adds the rest of torchvision's CNN families (test/zoo/models.json).
import { beforeAll, describe, expect, it } from 'vitest';
import { exportTorchvision, type TorchExport } from './support/torch';
import { record, runTorchvision, ZOO } from './support/zoo';

const specs = [...ZOO.torchvision.required, ...(process.env.EDGETUNE_ZOO_ALL ? ZOO.torchvision.more : [])];

describe('torchvision CNNs exported by torch.onnx.export', () => {
  let exports: Map<string, TorchExport>;
  beforeAll(() => {
    exports = exportTorchvision(ZOO.torchvision.required);
  }, 600_000);

  it.each(specs)('%s imports and matches PyTorch and onnxruntime-web at batch 1 and 2', async (spec) => {
    const name = spec.split(':')[0];
    const e = exports.get(name) ?? exportTorchvision([spec]).get(name)!; // the extra families one at a time: they are large
    // The references are not degenerate: batch rows differ, and BatchNorm statistics were set.
    expect(e.outputs[2].length).toBe(2 * e.outputShape.reduce((a, b) => a * b, 1));
    expect(Math.max(...e.outputs[2].map(Math.abs))).toBeGreaterThan(1e-3);
    const r = await runTorchvision(e);
    record(r);
    for (const n of [1, 2]) expect(r.diffs[n][2], `batch ${n}: onnxruntime-web vs PyTorch`).toBeLessThan(1e-4);
    expect(r.status, r.reason).toBe('imports');
    for (const n of [1, 2]) {
      expect(r.diffs[n][0], `batch ${n} vs PyTorch`).toBeLessThan(1e-4);
      expect(r.diffs[n][1], `batch ${n} vs onnxruntime-web`).toBeLessThan(1e-4);
    }
  }, 600_000);
});
