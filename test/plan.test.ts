// The plan as checkable data: no two regions alive together overlap, every kernel call stays
// inside its regions, freezing shrinks the arena and removes backward work, budgets are enforced
// before allocation, and the wasm memory is exactly the planned size.
import { describe, expect, it } from 'vitest';
import { layers, sequential, model, input, optimizers, verifyPlan, MemoryBudgetError, type Plan, type Model } from '../dist/node.js';
import { GEMM_KC, GEMM_MR, GEMM_NC } from '../host/compile/gemm-scratch';

function mlp(sizes: number[], opts: { separateActivations?: boolean; softmaxLayer?: boolean } = {}): Model {
  const ls = [];
  for (let i = 1; i < sizes.length; i++) {
    const last = i === sizes.length - 1;
    const activation = last ? (opts.softmaxLayer ? 'linear' : 'softmax') : opts.separateActivations ? 'linear' : 'relu';
    ls.push(layers.dense(sizes[i], { activation, ...(i === 1 ? { inputShape: [sizes[0]] } : {}) }));
    if (!last && opts.separateActivations) ls.push(layers.relu());
  }
  if (opts.softmaxLayer) ls.push(layers.softmax());
  return sequential(ls);
}

function compileFor(model: Model, batchSize: number, optimizer = optimizers.adam()): Plan {
  model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize });
  return model.plan;
}

describe('plan', () => {
  const cases: [string, () => Plan][] = [
    ['adam mlp b64', () => compileFor(mlp([784, 256, 256, 10]), 64)],
    ['sgd momentum, odd sizes, b7', () => compileFor(mlp([13, 9, 7, 3]), 7, optimizers.sgd({ momentum: 0.9, nesterov: true }))],
    ['separate relu and softmax layers', () => compileFor(mlp([20, 17, 5], { separateActivations: true, softmaxLayer: true }), 5)],
    ['amsgrad, batch 1', () => compileFor(mlp([6, 4, 2]), 1, optimizers.adam({ amsgrad: true }))],
    ['frozen base', () => {
      const m = mlp([784, 256, 128, 5]);
      m.layers[0].trainable = false;
      m.layers[1].trainable = false;
      return compileFor(m, 32);
    }],
    ['inference only', () => mlp([30, 20, 10]).planInference(16)],
    ['residual CNN: conv, depthwise, BN, dropout, add, concatenate', () => {
      const inp = input({ shape: [12, 12, 3] });
      const h = layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(inp);
      const r = layers.add().apply([layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(h), h]);
      const b = layers.batchNormalization().apply(layers.dropout(0.3).apply(r));
      const c = layers.concatenate().apply([layers.maxPooling2d().apply(b), layers.averagePooling2d().apply(h)]);
      const out = layers.dense(4, { activation: 'softmax' }).apply(layers.globalAveragePooling2d().apply(c));
      const m = model({ inputs: inp, outputs: out });
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 5 });
      return m.plan;
    }],
  ];
  for (const [name, make] of cases) {
    it(`is memory-safe: ${name}`, () => {
      const plan = make();
      expect(verifyPlan(plan)).toEqual([]);
      // and the activation packing actually shares bytes where it can
      const acts = plan.regions.filter((r) => r.kind === 'activation');
      for (const r of acts) expect(r.live![0]).toBeLessThanOrEqual(r.live![1]);
    });
  }

  it('catches an overlap of two live regions and an op that overruns its region', () => {
    const plan = compileFor(mlp([20, 16, 4]), 8);
    const train = plan.programs.train!;
    // Two activations alive at the same time, forced to the same offset.
    const acts = plan.regions.filter((r) => r.kind === 'activation' && r.program === 'train');
    const [a, b] = acts.filter((r, i) => acts.some((q, j) => j !== i && q.live![0] <= r.live![1] && r.live![0] <= q.live![1]));
    const broken: Plan = structuredClone(plan);
    const ia = plan.regions.indexOf(a);
    const ib = plan.regions.indexOf(b);
    broken.regions[ib].offset = broken.regions[ia].offset;
    expect(verifyPlan(broken).some((p) => p.includes('overlap'))).toBe(true);
    // A gemm told to produce one more column than its output region holds.
    const overrun: Plan = structuredClone(plan);
    const g = overrun.programs.train!.ops.findIndex((o) => o.op === 'gemm' && o.args.batchFlags === 1);
    overrun.programs.train!.ops[g].args.m += 1;
    expect(verifyPlan(overrun).some((p) => p.includes(`op ${g} (gemm`))).toBe(true);
    expect(train.ops.length).toBeGreaterThan(0);
  });

  it('freezing the base: smaller arena, no gradients, slots or backward ops for it, its activations not kept', () => {
    const full = compileFor(mlp([784, 256, 128, 5]), 32);
    const m = mlp([784, 256, 128, 5]);
    const [l0, l1] = m.layers;
    l0.trainable = false;
    l1.trainable = false;
    const frozen = compileFor(m, 32);
    expect(frozen.totalBytes).toBeLessThan(full.totalBytes);
    expect(frozen.breakdown.gradients).toBe(5 * 128 * 4 + 32); // head kernel + bias (16-byte aligned)
    expect(frozen.breakdown.optimizerState).toBe(2 * frozen.breakdown.gradients);
    expect(frozen.breakdown.activations).toBeLessThan(full.breakdown.activations);
    const ops = frozen.programs.train!.ops;
    const lossAt = ops.findIndex((o) => o.op.startsWith('xent'));
    const backwardLayers = new Set(ops.slice(lossAt + 1).map((o) => o.layer));
    expect(backwardLayers.has(l0.name)).toBe(false);
    expect(backwardLayers.has(l1.name)).toBe(false);
    // The frozen layers' outputs die before the loss, except the one the head's dW reads.
    const head = m.layers[2].name;
    const headInput = frozen.regions.find((r) => r.name === `train:${l1.name}`)!;
    const firstOut = frozen.regions.find((r) => r.name === `train:${l0.name}`)!;
    expect(firstOut.live![1]).toBeLessThan(lossAt);
    expect(headInput.live![1]).toBeGreaterThan(lossAt);
    expect(ops.some((o) => o.layer === head && o.op === 'gemm' && o.args.batchFlags === 4)).toBe(true);
    // no dX for the head: nothing upstream needs a gradient
    expect(ops.filter((o) => o.layer === head && o.op === 'gemm').length).toBe(2);
  });

  it('refuses a plan over the memory budget before allocating, with the breakdown', () => {
    const m = mlp([784, 256, 256, 10]);
    let error: unknown;
    try {
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', memoryBudget: '512KB', batchSize: 64 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MemoryBudgetError);
    const e = error as MemoryBudgetError;
    expect(e.budget).toBe(512 * 1024);
    expect(e.message).toMatch(/weights .* gradients .* optimizer state .* activations .* scratch/);
    expect(e.breakdown.weights).toBe((784 * 256 + 256 + 256 * 256 + 256 + 256 * 10) * 4 + 48); // the 10-float bias pads to 48 bytes
    expect(e.needed).toBeGreaterThan(e.budget);
    expect(() => m.plan).toThrow(/no plan/);
    // The same model fits when the budget is the planned size, to the page.
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', memoryBudget: e.needed, batchSize: 64 });
    expect(m.plan.pages * 65536).toBe(e.needed);
  });

  it('sizes the wasm memory exactly to the plan, and it cannot grow', async () => {
    const m = mlp([50, 30, 10]);
    m.compile({ optimizer: optimizers.adam(), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 16, threads: 1 });
    const plan = m.plan;
    const exec = m.trainingExecutor();
    expect(exec.plan).toBe(plan);
    expect(exec.memory.buffer.byteLength).toBe(plan.pages * 65536);
    expect(plan.pages).toBe(Math.ceil(plan.totalBytes / 65536));
    expect(() => exec.memory.grow(1)).toThrow();
    // On 3 threads (docs/threads.md): the plan, then a 128-byte control block and each of the
    // two workers' GEMM packing scratch (4 * (KC * NC + KC * MR) bytes), to the page; shared,
    // and still never grown.
    // (A model with a GEMM worth splitting: a plan without one runs on one thread.)
    const big = mlp([256, 256, 10]);
    big.compile({ optimizer: optimizers.adam(), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 16, threads: 3 });
    const threaded = big.trainingExecutor();
    expect(threaded.threads).toBe(3);
    expect(threaded.memory.buffer.byteLength).toBe((big.plan.pages + Math.ceil((128 + 2 * 4 * (GEMM_KC * GEMM_NC + GEMM_KC * GEMM_MR)) / 65536)) * 65536);
    expect(threaded.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(() => threaded.memory.grow(1)).toThrow();
  });

  it('is plain serialisable data', () => {
    const plan = compileFor(mlp([10, 8, 3]), 4);
    const copy = JSON.parse(JSON.stringify(plan));
    expect(copy).toEqual(plan);
    expect(verifyPlan(copy)).toEqual([]);
  });
});
