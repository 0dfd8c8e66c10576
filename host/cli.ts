#!/usr/bin/env node
// The edgetune command line.
import { runDemo, trainBase } from './demo';

const usage = `usage: edgetune <command>

commands:
  demo         transfer learning on real MNIST digits (the main job of npm start)
  train-base   train the bundled bases (digits 0-4) and write models/mnist-base-0to4.safetensors and
               models/mnist-cnn-base-0to4.safetensors
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
