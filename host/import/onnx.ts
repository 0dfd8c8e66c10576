// ONNX -> an ordinary edgetune model (trainable, freezable, saveable). The protobuf is decoded by
// onnx-proto.ts (on our own wire-format reader, protobuf.ts). The graph walk, layouts and constant
// folding are in onnx-convert.ts, onnx-layout.ts and onnx-fold.ts; the ops in onnx-nn.ts,
// onnx-math.ts and onnx-shape.ts.
//
// ONNX computes NCHW; images are kept NHWC here, and the layout of every value is tracked so that
// Reshape / Transpose / Flatten move no data unless the memory order cannot express their result
// (then one permute layer does). Convolution weights are transposed once (OIHW -> HWIO) and a dense
// layer after a Flatten of an image gets its rows permuted. Outputs are returned in ONNX's order
// (images NCHW, as onnxruntime returns them; a final permute), or images NHWC with the import
// option outputLayout: 'nhwc'. Inputs are taken NHWC.
//
// The batch dimension may be symbolic ('N'); another dynamic dimension needs the inputShape import
// option. Every refusal is a ModelFormatError (UnsupportedOpError for an op) naming the file and
// the node (or tensor).
import { ModelFormatError } from '../core/errors';
import { checkOptions, optionNames } from '../core/options';
import type { Model } from '../training/model';
import { Converter, type OnnxImportOptions } from './onnx-convert';
import { MATH_OPS } from './onnx-math';
import { NN_OPS } from './onnx-nn';
import { type OnnxGraph, parseOnnxModel } from './onnx-proto';
import { SHAPE_OPS } from './onnx-shape';
import { ProtoError } from './protobuf';

export type { OnnxImportOptions } from './onnx-convert';

const OPTION_NAMES = optionNames<OnnxImportOptions>()(['inputs', 'outputs', 'inputShape', 'outputLayout']);
const OPS = { ...NN_OPS, ...MATH_OPS, ...SHAPE_OPS };

export function importOnnx(bytes: Uint8Array, fileName: string, options: OnnxImportOptions = {}): Model {
  checkOptions('importOnnx', options, OPTION_NAMES);
  let graph: OnnxGraph;
  try {
    graph = parseOnnxModel(bytes);
  } catch (e) {
    if (e instanceof ProtoError || e instanceof TypeError || e instanceof RangeError) {
      throw new ModelFormatError(`${fileName}: not a readable ONNX model (${e.message})`, fileName);
    }
    throw e instanceof ModelFormatError ? new ModelFormatError(`${fileName}: ${e.message}`, fileName, e.tensor) : e;
  }
  return new Converter(graph, fileName, OPS, options ?? {}).convert();
}
