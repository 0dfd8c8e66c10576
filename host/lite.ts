// edgetune/lite: the core entry on the lite kernel build, dist/edgetune-lite.wasm (26 KB gzipped
// instead of 46), or on an app's own kernel build (`npx edgetune kernels`, host/cli/kernels.ts, loaded with
// ready(url)): dense networks built, trained and run. A plan that needs an op the loaded kernels
// lack is refused with an EdgetuneError (code 'KernelBuild') naming the op and its layer.
// Its models are LiteModels: the core entry's Model without quantize, toBytes, save, summary and
// Keras sample and class weights, so that a bundler drops their code (docs/api.md, "edgetune/lite").
// One kernel set per process: do not load this entry and 'edgetune' in the same one.
import { useKernelSet } from './runtime/kernel-source';
import { LiteModel, type EvaluateOptions as FullEvaluateOptions, type EvaluateResult, type FitOptions as FullFitOptions, type History, type Prediction } from './training/model';
import type { Layer, SymbolicTensor } from './layers/layer';
import type { Tensor } from './core/tensor';
import type { TensorArgs } from './training/model-io';

useKernelSet('lite');

export * from './index';
// The executor's ready(), not the core entry's: that one brings the thread pool (docs/threads.md).
export { ready } from './runtime/executor';
export { usedOps } from './runtime/kernel-source';

// fit without sampleWeight and classWeight (validationData without a third entry).
export interface FitOptions extends Omit<FullFitOptions, 'sampleWeight' | 'classWeight' | 'validationData'> {
  validationData?: [TensorArgs, TensorArgs];
}
export type EvaluateOptions = Omit<FullEvaluateOptions, 'sampleWeight'>;

// What an edgetune/lite model has: the core entry's Model less quantize, toBytes, save, summary
// and sample weights. A value of this type is a LiteModel.
export interface Model<Out extends Prediction = Tensor<Float32Array>> extends Omit<LiteModel<Out>, 'fit' | 'evaluate' | 'trainOnBatch' | 'freeze'> {
  freeze(untilLayerName: string): this;
  fit(x: TensorArgs, y: TensorArgs, options?: FitOptions): Promise<History>;
  evaluate(x: TensorArgs, y: TensorArgs, options?: EvaluateOptions): EvaluateResult;
  trainOnBatch(x: TensorArgs, y: TensorArgs): EvaluateResult;
}
// The class (for instanceof): models are made by sequential() and model().
export const Model = LiteModel;

type Symbolic = SymbolicTensor | SymbolicTensor[];

export function sequential(layerList: Layer[], options: { name?: string; inputShape?: number[] } = {}): Model {
  return new LiteModel(layerList, options);
}

// Functional model (Keras keras.Model(inputs, outputs)), as the core entry's model(): built from a
// list of outputs, predict returns a list.
export function model<O extends Symbolic>(options: { inputs: Symbolic; outputs: O; name?: string }): Model<[O] extends [SymbolicTensor] ? Tensor<Float32Array> : Prediction> {
  return new LiteModel({ inputs: options.inputs, outputs: options.outputs }, { name: options.name });
}
