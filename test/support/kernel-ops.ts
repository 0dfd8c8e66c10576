// Runs one op with every argument 0 (sizes of 0: nothing is read or written) through a kernel
// module's interpreter: 0 when the build has the op's case, -1 (unknown op at index 0) when not.
import { OP_SPECS } from '../../dist/index.js';

export function runZeroedOp(module: WebAssembly.Module, name: keyof typeof OP_SPECS): number {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
  const k = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, (...a: number[]) => number>;
  const i32 = new Int32Array(memory.buffer);
  const header = 32768, ops = 40960; // step header (batch 1 at offset 0), then the op words
  i32[header / 4] = 1;
  const spec = OP_SPECS[name];
  i32[ops / 4] = spec.code;
  i32[ops / 4 + 1] = spec.args.length;
  return k.run(ops, 1, header);
}
