// PyTorch as the reference for the zoo: test/torch/export.py exports torchvision models with
// torch.onnx.export and writes PyTorch's own outputs; this reads them back. PyTorch must be there
// (Debian's python3-torch, python3-torchvision, python3-onnx; .ci/run installs them): a missing
// PyTorch fails the test that needs it with a message saying what to install, it never skips.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const EXPORT_SCRIPT = new URL('../torch/export.py', import.meta.url).pathname;
const TRAIN_SCRIPT = new URL('../torch/zoo_train.py', import.meta.url).pathname;
const PROBE = 'import torch, torchvision, onnx; print(torch.__version__, torchvision.__version__, onnx.__version__)';

export interface TorchExport {
  name: string;
  onnx: Uint8Array;
  inputShape: number[]; // per sample, CHW
  outputShape: number[];
  batchNorms: number;
  parameters: number;
  exportSeconds: number; // building, BatchNorm statistics, torch.onnx.export and the two reference runs
  inputs: Record<1 | 2, Float32Array>; // NCHW
  outputs: Record<1 | 2, Float32Array>; // PyTorch's
}

let found: string | undefined;

// The first interpreter that imports torch, torchvision and onnx: $EDGETUNE_PYTHON, then Debian's
// /usr/bin/python3 (a pyenv or venv `python3` on PATH usually has no torch), then python3.
export function torchPython(candidates = [process.env.EDGETUNE_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c)): string {
  if (found) return found;
  const tried: string[] = [];
  for (const python of candidates) {
    try {
      execFileSync(python, ['-c', PROBE], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
      return (found = python);
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      const why = err.stderr?.toString().trim().split('\n').at(-1) ?? err.message;
      tried.push(`${python}: ${why}`);
    }
  }
  throw new Error(
    'PyTorch is needed for the torchvision zoo tests and none of the interpreters imports torch, torchvision and onnx:\n  ' +
      tried.join('\n  ') +
      "\nInstall Debian's packages (as .ci/run does): apt-get install python3-torch python3-torchvision python3-onnx," +
      ' or point EDGETUNE_PYTHON at an interpreter that has them.',
  );
}

// Exports the models in one Python process into a fresh temporary folder, reads everything back
// and removes the folder. A spec is a torchvision builder name, optionally ':SIZE' (input side,
// 64 by default).
export function exportTorchvision(specs: string[]): Map<string, TorchExport> {
  return inTorchDir(EXPORT_SCRIPT, specs, (dir) => {
    const out = new Map<string, TorchExport>();
    for (const spec of specs) {
      const name = spec.split(':')[0];
      const meta = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
      const f32 = (file: string) => readF32(join(dir, file));
      out.set(name, {
        ...meta,
        onnx: new Uint8Array(readFileSync(join(dir, `${name}.onnx`))),
        inputs: { 1: f32(`${name}.x1.bin`), 2: f32(`${name}.x2.bin`) },
        outputs: { 1: f32(`${name}.y1.bin`), 2: f32(`${name}.y2.bin`) },
      });
    }
    return out;
  });
}

const readF32 = (path: string) => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
};

// Runs a script of test/torch/ as `script DIR ...args` in a fresh temporary folder, reads its files
// with `read` and removes the folder.
function inTorchDir<T>(script: string, args: string[], read: (dir: string) => T): T {
  const python = torchPython();
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-torch-'));
  try {
    try {
      execFileSync(python, [script, dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 1_200_000, maxBuffer: 64 << 20 });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(`test/torch/${script.split('/').at(-1)} ${args.join(' ')} failed: ${err.stderr?.toString().trim().split('\n').slice(-8).join('\n') ?? err.message}`);
    }
    return read(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// One fine-tuning step in PyTorch (test/torch/zoo_train.py): the export it imports and the step's
// loss, gradients, updated parameters and BatchNorm running statistics, keyed by PyTorch's names
// ('features.16.conv.0.0.weight:grad', 'features.18.1.running_mean:after'; see the script).
export interface TorchFineTune {
  name: string;
  onnx: Uint8Array;
  labels: number[];
  lr: number;
  loss: number;
  trainableParams: number;
  norms: Record<string, number>; // trained BatchNorm module -> values per channel in its batch statistics
  nodes: { node: string; op: 'Conv' | 'Gemm' | 'BatchNormalization'; inputs: string[] }[]; // the ONNX nodes holding trained parameters
  tensors: Record<string, { shape: number[]; data: Float32Array }>;
}

// specs: 'NAME=PREFIX,PREFIX' with the module-name prefixes to fine-tune.
export function torchFineTune(specs: string[]): Map<string, TorchFineTune> {
  return inTorchDir(TRAIN_SCRIPT, specs, (dir) => {
    const out = new Map<string, TorchFineTune>();
    for (const spec of specs) {
      const name = spec.split('=')[0];
      const meta = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
      const blob = readF32(join(dir, `${name}.bin`));
      const tensors: TorchFineTune['tensors'] = {};
      for (const [k, { shape, offset }] of Object.entries(meta.tensors as Record<string, { shape: number[]; offset: number }>)) {
        tensors[k] = { shape, data: blob.subarray(offset, offset + shape.reduce((a, b) => a * b, 1)) };
      }
      out.set(name, { ...meta, tensors, onnx: new Uint8Array(readFileSync(join(dir, `${name}.onnx`))) });
    }
    return out;
  });
}
