#!/usr/bin/env node
// The edgetune command line.
import { runConvert, runInspect } from './convert';
import { runDemo, trainBase } from './demo';
import { FIND_LR_USAGE, findLrCommand } from './find-lr';

const usage = `usage: edgetune <command>

commands:
  demo         transfer learning on real MNIST digits (the main job of npm start)
  train-base   train the bundled bases (digits 0-4) and write models/mnist-base-0to4.safetensors and
               models/mnist-cnn-base-0to4.safetensors
  convert      edgetune convert <input> <output> [--quantize float16] [--progress]
               input: .onnx, .safetensors, TF.js model.json (layers or graph), .keras, .h5;
               output: .safetensors, or a TF.js layers model (a directory or its model.json)
  inspect      edgetune inspect <model> [--batch N] [--train] [--freeze <layer>] [--json]
               layers, output shapes, trainable/frozen parameters, planned arenas
  find-lr      the learning-rate finder on MNIST digits, with an SVG plot (find-lr --help)
  compile      <model.safetensors> --train --batch 16 [--freeze <layer>] [--budget 256KB]
               [--optimizer adam --lr 1e-3] -o model.plan   (a plan file for edgetune-wasi.wasm)
  pack-data    <data.json> -o train.etd | --mnist --digits 5-9 --count N -o train.etd
`;

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  switch (command) {
    case 'demo':
      await runDemo();
      return 0;
    case 'train-base':
      await trainBase(console.log, undefined, 'mlp');
      await trainBase(console.log, undefined, 'cnn');
      return 0;
    case 'convert':
      return runConvert(argv.slice(1));
    case 'inspect':
      return runInspect(argv.slice(1));
    case 'find-lr':
      if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(FIND_LR_USAGE); return 0; }
      return findLrCommand(argv.slice(1));
    case 'compile':
      return (await import('./wasi-files')).compileCommand(argv.slice(1), console.log);
    case 'pack-data':
      return (await import('./wasi-files')).packDataCommand(argv.slice(1), console.log);
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(usage);
      return command ? 0 : 1;
    default:
      process.stderr.write(`edgetune: unknown command '${command}'\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`edgetune: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
