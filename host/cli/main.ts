#!/usr/bin/env node
// The edgetune command line.
import { runConvert, runInspect } from './convert';
import { runDemo, trainBase } from './demo';
import { readFileSync } from 'node:fs';
import { COMMANDS, commandUsage, isHelp, mainUsage, parseCommandArgs, type CommandName } from './commands';
import { findLrCommand } from './find-lr';


async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command !== undefined && Object.hasOwn(COMMANDS, command) && argv.slice(1).some(isHelp)) {
    process.stdout.write(commandUsage(command as CommandName));
    return 0;
  }
  switch (command) {
    case 'demo':
      await runDemo({ quick: 'quick' in parseCommandArgs('demo', argv.slice(1)).flags });
      return 0;
    case 'train-base':
      parseCommandArgs('train-base', argv.slice(1));
      await trainBase(console.log, undefined, 'mlp');
      await trainBase(console.log, undefined, 'cnn');
      return 0;
    case 'convert':
      return runConvert(argv.slice(1));
    case 'inspect':
      return runInspect(argv.slice(1));
    case 'find-lr':
      return findLrCommand(argv.slice(1));
    case 'compile':
      return (await import('./wasi-files')).compileCommand(argv.slice(1), console.log);
    case 'pack-data':
      return (await import('./wasi-files')).packDataCommand(argv.slice(1), console.log);
    case 'kernels':
      return (await import('./kernels')).kernelsCommand(argv.slice(1), console.log);
    case '--version':
    case '-v':
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(mainUsage());
      return command ? 0 : 1;
    default:
      process.stderr.write(`edgetune: unknown command '${command}'\n${mainUsage()}`);
      return 2;
  }
}

// dist/cli.js sits next to the package's package.json, in the repository as in an installed package.
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`edgetune: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
