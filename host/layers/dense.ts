// Keras Dense: y = activation(x . kernel + bias), on the last axis of x.
import { optionNames } from '../core/options';
import { activationClamp, activationForward, gradThroughActivation } from '../compile/activation-lowering';
import { gemm, gradTarget, last, needScratch, packedInt8Weight, packedQ8Weight, packedScratchBytes, packedWeight, paramGrad, rowsOf, SCRATCH } from '../compile/program';
import { gemmScratchBytes, q8ScratchBytes } from '../compile/gemm-scratch';
import { sizeOf } from '../compile/graph';
import { type ActivationSpec, resolveActivation } from './activations';
import { flag, type LayerOptions, pending, positionalOrOptions, positiveInt, weightConfig, type WeightOptions, LAYER_OPTION_NAMES, WEIGHT_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { activationOf, kerasActivation, kerasBase, weightOptionsFromKeras, weightOptionsToKeras } from './keras-json';
import { Layer, weightSpec } from './layer';

export interface DenseOptions extends LayerOptions, WeightOptions {
  units?: number;
  activation?: ActivationSpec | null;
  useBias?: boolean;
}

// dense(10, options) or dense({ units: 10, ... })
export function dense(units: number | DenseOptions, options?: DenseOptions): Layer {
  const o = positionalOrOptions<DenseOptions>('dense', 'units', units, options);
  const where = pending('dense', o);
  return new Layer(DENSE, {
    units: positiveInt(where, 'units', o.units as number),
    activation: resolveActivation(o.activation, where),
    useBias: flag(where, 'useBias', o.useBias, true),
    ...weightConfig(where, o, 'glorotUniform'),
  }, o);
}

export const DENSE: LayerDef = {
  kind: 'dense',
  snake: 'dense',
  get options() { return optionNames<DenseOptions>()([...LAYER_OPTION_NAMES, ...WEIGHT_OPTION_NAMES, 'units', 'activation', 'useBias']); },
  outputShape(layer, [s], fail) {
    if (s.length < 1) throw fail('needs an input of rank >= 1 per sample');
    return [...s.slice(0, -1), layer.config.units as number];
  },
  weights({ config: c }, s) {
    return [
      weightSpec('kernel', [s[s.length - 1], c.units as number], c.kernelInitializer, c.kernelRegularizer, c.kernelConstraint),
      ...(c.useBias ? [weightSpec('bias', [c.units as number], c.biasInitializer, c.biasRegularizer, c.biasConstraint)] : []),
    ];
  },
  forward({ ctx, p, node, layer, x, shape, count, params, outputLogits }) {
    const [w, b] = params;
    const rows = rowsOf(shape);
    const features = last(shape);
    const z = p.activation(node.name, count * ctx.batch);
    const k = last(x.shape);
    const int8 = ctx.int8Kernels.get(w);
    if (int8?.absmax) {
      // Keras 3's int8 x int8 -> int32 product, the inputs quantized per row (gemm_q8), in every
      // plan: q packed once by prepare, or per call; bias and a ReLU / ReLU6 in the epilogue.
      const bp = packedQ8Weight(ctx, p, layer.name, w, features, k);
      const clamp = activationClamp(layer.config.activation);
      const [lo, hi] = clamp ?? [-Infinity, Infinity];
      needScratch(ctx, q8ScratchBytes(k));
      p.emit('gemm_q8', layer.name, { c: z, a: x.region, bp, scale: int8.scale, ...(b !== undefined ? { bias: b } : {}), scratch: SCRATCH },
        { ...(b !== undefined ? {} : { bias: 0 }), m: rows, n: features, k, rsa: k, ldc: features, lo, hi });
      if (clamp) return { region: z, shape };
      const y = activationForward(p, layer, node, z, shape, outputLogits, ctx.batch, true);
      return { region: y, shape, pre: y === z ? undefined : z };
    }
    const packed = int8 ? packedInt8Weight(ctx, layer.name, w, features, k) : packedWeight(ctx, layer.name, w, features, k);
    if (packed !== null) {
      // Kernel packed once by the plan's prepare program; bias and a ReLU / ReLU6 on each tile.
      const clamp = activationClamp(layer.config.activation);
      const [lo, hi] = clamp ?? [-Infinity, Infinity];
      const bias = { ...(b !== undefined ? { bias: b } : {}) }, dims = { ...(b !== undefined ? {} : { bias: 0 }), m: rows, n: features, k, rsa: k, csa: 1, ldc: features, lo, hi };
      if (int8) {
        needScratch(ctx, gemmScratchBytes(rows * ctx.batch, features, k));
        p.emit('gemm_i8_packed', layer.name, { c: z, a: x.region, bp: packed, scale: int8.scale, ...bias, pack: SCRATCH }, dims);
      } else {
        needScratch(ctx, packedScratchBytes(k));
        p.emit('gemm_packed', layer.name, { c: z, a: x.region, bp: packed, ...bias, pack: SCRATCH }, dims);
      }
      if (clamp) return { region: z, shape };
      const y = activationForward(p, layer, node, z, shape, outputLogits, ctx.batch, true);
      return { region: y, shape, pre: y === z ? undefined : z };
    }
    if (b !== undefined) p.emit('bias_fill', layer.name, { y: z, b }, { rows, n: features });
    gemm(ctx, p, layer.name, z, x.region, w, {
      m: rows, n: features, k: last(x.shape), rsa: last(x.shape), csa: 1, rsb: features, csb: 1, ldc: features,
      accumulate: b !== undefined ? 1 : 0, batchFlags: 1,
    });
    const y = activationForward(p, layer, node, z, shape, outputLogits, ctx.batch, true);
    return { region: y, shape, pre: y === z ? undefined : z };
  },
  backward(a) {
    const { ctx, p, g, layer, v, x, grads, params, input } = a;
    const dz = gradThroughActivation(a);
    const rows = rowsOf(v.shape);
    const n = last(v.shape);
    const k = last(x.shape);
    if (grads) {
      const dw = paramGrad(ctx, grads[0]!);
      // dW (K,N) += X^T (K, B*rows) . dZ (B*rows, N)
      gemm(ctx, p, layer.name, dw.region, x.region, dz, { m: k, n, k: rows, rsa: 1, csa: k, rsb: n, csb: 1, ldc: n, accumulate: dw.accumulate, batchFlags: 4 });
      if (grads[1] !== undefined && grads[1] !== null) {
        const db = paramGrad(ctx, grads[1]);
        p.emit('bias_backward', layer.name, { db: db.region, dy: dz }, { rows, n, accumulate: db.accumulate });
      }
    }
    if (a.needsInputGrad) {
      const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
      // dX (B*rows, K) += dZ (B*rows, N) . W^T (N, K)
      gemm(ctx, p, layer.name, dx.region, dz, params[0], { m: rows, n: k, k: n, rsa: n, csa: 1, rsb: 1, csb: n, ldc: k, accumulate: dx.accumulate, batchFlags: 1 });
    }
  },
  kerasClasses: ['Dense'],
  toKeras(l) {
    const c = l.config;
    return { class_name: 'Dense', config: { ...kerasBase(l), units: c.units, activation: kerasActivation(c.activation), use_bias: c.useBias, ...weightOptionsToKeras(c, 'kernel') } };
  },
  fromKeras(c, r) {
    return dense(c.units, { ...r.base, activation: activationOf(c.activation), useBias: c.use_bias ?? undefined, ...weightOptionsFromKeras(r, c, 'kernel') });
  },
  kerasWeights: (c) => (c.useBias ? ['kernel', 'bias'] : ['kernel']),
};
