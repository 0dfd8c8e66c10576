// Every subcommand of the built CLI answers --help and -h with its usage on stdout and exit 0, and
// the usage names every option the command's parser accepts (both come from host/cli/commands.ts);
// `edgetune --help` lists the subcommands and `edgetune --version` prints the package's version.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../host/cli/commands';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

describe('edgetune --help', () => {
  it('lists every subcommand, exit 0', () => {
    const r = cli('--help');
    expect(r.status, r.stderr).toBe(0);
    for (const name of Object.keys(COMMANDS)) expect(r.stdout, name).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it('--version prints the version in package.json', () => {
    const r = cli('--version');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
  });

  for (const [name, spec] of Object.entries(COMMANDS)) {
    it(`${name} --help and -h: usage on stdout naming every option, exit 0`, () => {
      for (const help of ['--help', '-h']) {
        const r = cli(name, help);
        expect({ status: r.status, stderr: r.stderr }, `${name} ${help}`).toEqual({ status: 0, stderr: '' });
        expect(r.stdout).toMatch(new RegExp(`^usage: edgetune ${name}\\b`));
        for (const o of spec.options) {
          expect(r.stdout, `${name} ${help} names ${o.flag}`).toMatch(new RegExp(`^  ${o.flag}${o.value ? ` ${o.value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}` : ''} `, 'm'));
        }
      }
    });
  }

  it('an option the command does not accept is refused with its usage, exit 1', () => {
    const r = cli('inspect', 'model.safetensors', '--bogus');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('inspect: unknown option --bogus');
    expect(r.stderr).toContain('usage: edgetune inspect');
  });
});
