// What one layer kind is, as a plain record: its output shape, its weights, its forward and
// backward lowering into a program, and its Keras JSON. Each kind's record is in
// host/layers/<kind>.ts; host/layers/index.ts collects them in LAYER_DEFS. The Layer class, the
// plan's graph walk (host/compile/lower.ts) and the Keras readers and writers dispatch through it.
// A record's literal calls and spreads nothing at load (`options` is a getter, shared lowering is
// called from arrow functions, helpers it calls are marked pure): a bundler can then drop the
// kinds an app never makes (edgetune/layers, test/bundle.test.ts).
import type { RowBanding } from '../compile/band';
import type { BackwardArgs, ForwardArgs, NodeValue } from '../compile/program';
import type { LayerJson, KerasReader } from './keras-json';
import type { Layer, LayerKind, WeightSpec } from './layer';

export type Shapes = readonly (readonly number[])[];

export interface LayerDef {
  kind: LayerKind;
  // Keras's snake_case name: default layer names ('dense', 'dense_1', ...) and messages.
  snake: string;
  // The base of default names when it depends on the config (activation layers: 're_lu', ...).
  nameBase?: (config: Record<string, unknown>) => string;
  // The names its factory's options object may hold (LayerOptions and its own); any other key is
  // refused when the layer is made.
  options: readonly string[];
  // Layers that take a list of inputs (add, concatenate, ...); the others take exactly one.
  multiInput?: boolean;
  // Output shape per sample for these input shapes; throws a ShapeError (via `fail`) or an
  // InvalidArgumentError when the inputs do not fit the layer.
  outputShape(layer: Layer, inputShapes: Shapes, fail: (what: string) => Error): number[];
  // The weights for this input shape, in Keras order (none when absent).
  weights?(layer: Layer, inputShape: readonly number[]): WeightSpec[];
  // Initial weight values taken from the config rather than from the initializers (rescaling).
  initialValues?(layer: Layer, inputShape: readonly number[]): Float32Array[];
  forward(a: ForwardArgs): NodeValue;
  // The channel re-layouts (concatenate, reshape, permute, slice): their forward is given channel
  // gathers (host/compile/channel-gather.ts gatherOrForward); every other kind reads regions.
  readsGathers?: true;
  // The kinds whose window ops can start a frozen prefix computed in row bands (host/compile/band.ts):
  // the plan compiler bands a graph through the first such record it finds.
  banding?: RowBanding;
  backward(a: BackwardArgs): void;
  // The Keras classes this kind reads (the first is the one it writes, unless toKeras says else).
  kerasClasses: string[];
  toKeras(layer: Layer): LayerJson;
  fromKeras(c: Record<string, any>, r: KerasReader): Layer;
  // The weights a Keras file holds for this config, in Keras order (rescaling's constants are
  // config in Keras, weights here).
  kerasWeights?(config: Record<string, unknown>): string[];
  // TF.js layers reads some configs differently: adjusts the Keras JSON, or refuses the layer.
  toTfjs?(layer: Layer, json: LayerJson, where: string, source: string | undefined): void;
}
