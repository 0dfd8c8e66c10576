// Micro-batched plans and int8 weights in plan files and the WASI module (issue 14, items 2 and
// 5): the module runs a micro-batched train program (gradients per micro-batch, scaled by 1 / the
// step's rows, then one update) on a model with int8 frozen kernels and writes the same bytes as
// model.fit with microBatch; the 256 KB showcase (examples/mcu) does so under node:wasi and Bun.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compileModelFile, InvalidArgumentError, layers, loadModel, packDataFile, readPlanFileInfo, readSafetensors, sequential, setSeed, tensor,
} from '../dist/node.js';
import { mnistData } from '../dist/examples.js';
import { BUN, ROOT, runToEnd } from './runtime-spawn';

const work = mkdtempSync(join(tmpdir(), 'edgetune-wasi-micro-'));
const RUNNER = join(ROOT, 'test/wasi/run-wasi.mjs');
const bitsHex = (v: number) => {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, v);
  return b.getBigUint64(0).toString(16).padStart(16, '0');
};
const printedBits = (stdout: string) => [...stdout.matchAll(/^epoch \d+\/\d+ loss \S+ f64 0x([0-9a-f]{16})$/gm)].map((m) => m[1]);
const tensorBytes = (file: Uint8Array, name: string) => Buffer.from(readSafetensors(file).tensors.get(name)!.data);

// Every op of every program of a plan (a micro-batched plan's forward is not in its train program).
const allOps = (plan: { programs: Record<string, { ops: { op: string }[] } | undefined> }) => Object.values(plan.programs).flatMap((p) => p?.ops.map((o) => o.op) ?? []);

// The bundled MLP base with base_dense_1 frozen and int8 (absmax, the default, or weight-only),
// compiled with its training config: its bytes.
async function int8MlpBase(activationQuantizer?: 'absmax' | null): Promise<Uint8Array> {
  const base = await loadModel(readFileSync(join(ROOT, 'models/mnist-base-0to4.safetensors')));
  base.layers[0].trainable = false;
  base.quantize('int8', { activationQuantizer });
  const cfg = base.compileConfig!;
  base.compile({ optimizer: cfg.optimizer, loss: cfg.loss, metrics: cfg.metrics, batchSize: cfg.batchSize });
  return base.toBytes();
}

describe('micro-batched plan files with int8 weights (WASI)', () => {
  it('loadModel reads an int8 model from a Node Buffer (readFileSync): only the kernel\'s bytes become its int8 values', async () => {
    setSeed(4);
    const m = sequential([layers.dense(6, { inputShape: [5], name: 'q1' }), layers.dense(2, { name: 'out' })]);
    m.layers[0].trainable = false;
    m.quantize('int8');
    const path = join(work, 'int8.safetensors');
    writeFileSync(path, m.toBytes());
    const back = await loadModel(readFileSync(path));
    const x = tensor(Float32Array.from({ length: 10 }, (_, i) => i / 7 - 0.5), [2, 5]);
    expect(back.predict(x).data).toEqual(m.predict(x).data);
  });

  it('edgetune compile --micro-batch 4 --batch 16 on an int8 base: the WASI module writes the bytes of fit({batchSize: 16, microBatch: 4}), losses too', async () => {
    // The MLP base, base_dense_1 frozen and int8; 50 records: 3 steps of 16 (4 micro-batches of
    // 4) and a last step of 2 rows (one micro-batch of 2, loss scale 1/2).
    const bytes = await int8MlpBase();
    const dir = join(work, 'mlp');
    for (const d of ['p', 'w', 'd']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'w/model.safetensors'), bytes);
    const plan = await compileModelFile(join(dir, 'w/model.safetensors'), join(dir, 'p/model.plan'), { batch: 16, microBatch: 4 });
    expect([plan.batchSize, plan.microBatching]).toEqual([4, true]);
    const info = readPlanFileInfo(readFileSync(join(dir, 'p/model.plan')));
    expect([info.batchSize, info.stepBatch]).toEqual([4, 16]);
    expect(info.bindings.filter((b) => b.flags & 4).map((b) => [b.name, b.bytes])).toEqual([['base_dense_1/kernel', 784 * 300]]);
    const data = mnistData([5, 6, 7, 8, 9], 50);
    await packDataFile(join(dir, 'd/train.etd'), data);

    const preopens = { '/p': join(dir, 'p'), '/w': join(dir, 'w'), '/d': join(dir, 'd') };
    const out = await runToEnd('node', RUNNER, [join(ROOT, 'build/edgetune-wasi.wasm'), JSON.stringify(preopens),
      'train', '--plan', '/p/model.plan', '--weights', '/w/model.safetensors', '--data', '/d/train.etd', '--epochs', '2'], work);
    expect(out).toMatch(/^wrote model\.safetensors after 8 steps$/m);
    const after = readFileSync(join(dir, 'w/model.safetensors'));

    const host = await loadModel(bytes);
    const history = await host.fit(tensor(data.x, [50, 784]), tensor(data.labels, [50]), { epochs: 2, batchSize: 16, microBatch: 4, shuffle: false, verbose: 0 });
    expect(host.plan.microBatching).toBe(true);
    expect(after.equals(Buffer.from(bytes))).toBe(false);
    expect(Buffer.compare(after, Buffer.from(host.toBytes()))).toBe(0);
    expect(printedBits(out)).toEqual((history.history.loss as number[]).map(bitsHex));
    // The int8 kernel and its scales come back unchanged.
    for (const name of ['base_dense_1/kernel', 'base_dense_1/kernel_scale']) expect(tensorBytes(after, name).equals(tensorBytes(bytes, name)), name).toBe(true);
  }, 120_000);

  it.each([
    [null, 'gemm_i8 (MLP) and conv2d_forward_i8 (the 256 KB CNN), weight-only'],
    ['absmax' as const, 'gemm_q8 (MLP) and conv2d_q8 (the 256 KB CNN), absmax'],
  ])('the no-SIMD WASI module (build/edgetune-wasi-nosimd.wasm) runs micro-batched int8 plans with the bytes of fit (activationQuantizer %s): %s', async (activationQuantizer) => {
    // Micro-batches of 4 on the MLP base with an int8 dense kernel; micro-batch 1 on the CNN base
    // with int8 convolutions (the showcase's plan and files). The scalar kernels add in the SIMD
    // order, so both runs must end on fit's weights and losses bit for bit.
    const bytes = await int8MlpBase(activationQuantizer);
    const dir = join(work, `mlp-nosimd-${activationQuantizer}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    await compileModelFile(join(dir, 'model.safetensors'), join(dir, 'model.plan'), { batch: 16, microBatch: 4 });
    const data = mnistData([5, 6, 7, 8, 9], 40);
    await packDataFile(join(dir, 'train.etd'), data);
    const nosimd = join(ROOT, 'build/edgetune-wasi-nosimd.wasm');
    const trainArgs = (epochs: number) => ['train', '--plan', '/m/model.plan', '--weights', '/m/model.safetensors', '--data', '/m/train.etd', '--epochs', String(epochs)];
    const out = await runToEnd('node', RUNNER, [nosimd, JSON.stringify({ '/m': dir }), ...trainArgs(2)], work);
    const host = await loadModel(bytes);
    const history = await host.fit(tensor(data.x, [40, 784]), tensor(data.labels, [40]), { epochs: 2, batchSize: 16, microBatch: 4, shuffle: false, verbose: 0 });
    expect(Buffer.compare(readFileSync(join(dir, 'model.safetensors')), Buffer.from(host.toBytes()))).toBe(0);
    expect(printedBits(out)).toEqual((history.history.loss as number[]).map(bitsHex));
    expect(allOps(host.plan!)).toContain(activationQuantizer ? 'gemm_q8' : 'gemm_i8');

    // @ts-expect-error: plain JavaScript module without types
    const { mcuFinetune, mcuWasiFiles } = await import('../examples/mcu/finetune-lib.mjs');
    const cnn = join(work, `mcu-nosimd-${activationQuantizer}`);
    mkdirSync(cnn, { recursive: true });
    await mcuWasiFiles(cnn, { activationQuantizer });
    const r = await mcuFinetune({ epochs: 1, activationQuantizer });
    const cnnOut = await runToEnd('node', RUNNER, [nosimd, JSON.stringify({ '/m': cnn }), ...trainArgs(1)], work, 120_000);
    expect(cnnOut).toMatch(/^wrote model\.safetensors after 16 steps$/m);
    expect(printedBits(cnnOut)).toEqual((r.history.history.loss as number[]).map(bitsHex));
    expect(Buffer.compare(readFileSync(join(cnn, 'model.safetensors')), Buffer.from(r.model.toBytes()))).toBe(0);
    expect(allOps(r.plan)).toContain(activationQuantizer ? 'conv2d_q8' : 'conv2d_forward_i8');
  }, 240_000);

  it('--micro-batch that does not divide --batch, or exceeds it: a typed error naming both, and no plan written', async () => {
    const model = join(ROOT, 'models/mnist-base-0to4.safetensors');
    for (const [microBatch, why] of [[5, /--micro-batch: microBatch 5 does not divide batchSize 16/], [32, /--micro-batch: microBatch 32 exceeds batchSize 16/]] as const) {
      const out = join(work, `bad-${microBatch}.plan`);
      const p = compileModelFile(model, out, { batch: 16, microBatch, freeze: 'base_dense_1' });
      await expect(p).rejects.toThrow(InvalidArgumentError);
      await expect(compileModelFile(model, out, { batch: 16, microBatch, freeze: 'base_dense_1' })).rejects.toThrow(why);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('the 256 KB showcase (examples/mcu/finetune-wasi.mjs) under node:wasi and Bun: weights and losses bit-identical to fit, arena within 256 KB', async () => {
    // @ts-expect-error: plain JavaScript module without types
    const { mcuFinetune, ARENA_BUDGET } = await import('../examples/mcu/finetune-lib.mjs');
    const r = await mcuFinetune({ epochs: 2 });
    const hostBytes = Buffer.from(r.model.toBytes());
    const hostLosses = (r.history.history.loss as number[]).map(bitsHex);
    expect(r.plan.totalBytes).toBeLessThanOrEqual(ARENA_BUDGET);
    expect(r.plan.pages * 65536).toBeLessThanOrEqual(256 * 1024);
    for (const runtime of ['node', 'bun'] as const) {
      const dir = join(work, `mcu-${runtime}`);
      mkdirSync(dir, { recursive: true });
      const out = await runToEnd(runtime, join(ROOT, 'examples/mcu/finetune-wasi.mjs'), [dir, '--epochs', '2'], work, 120_000);
      expect(out, runtime).toMatch(/^plan: micro-batch 1, step batch 16, arena [\d.]+ KB planned in 4 wasm page\(s\) = 256\.0 KB/m);
      expect(printedBits(out), runtime).toEqual(hostLosses);
      expect(out, runtime).toMatch(/^wrote model\.safetensors after 32 steps$/m);
      // The module's whole memory: the arena and one page of I/O region (sized to what it holds).
      expect(out, runtime).toMatch(/^WASI module memory: 320\.0 KB = the plan's arena 256\.0 KB \+ its I\/O region 64\.0 KB /m);
      expect(/^held-out accuracy on digits 5-9: ([\d.]+)%/m.exec(out)?.[1], runtime).toBe((100 * r.accuracy).toFixed(2));
      const written = readFileSync(join(dir, 'model.safetensors'));
      expect(Buffer.compare(written, hostBytes), runtime).toBe(0);
      // The frozen int8 kernels and their scales are written back as they were read.
      for (const name of ['base_conv_1/kernel', 'base_conv_1/kernel_scale', 'base_conv_2/kernel', 'base_conv_2/kernel_scale']) {
        expect(tensorBytes(written, name).equals(tensorBytes(r.initialBytes, name)), `${runtime} ${name}`).toBe(true);
      }
    }
    expect(existsSync(BUN)).toBe(true);
  }, 240_000);
});
