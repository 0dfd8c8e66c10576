// docs/importers.md's coverage table (written by `npm run zoo`) says what the zoo tests assert:
// every model of test/zoo/models.json has a row, a required model reads "imports" with a max
// difference below 1e-4, a model to be refused reads "refused", and the summary counts the rows.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BEGIN, END, summary } from '../scripts/zoo.mjs';
import { ZOO } from './support/zoo';

const doc = readFileSync(new URL('../docs/importers.md', import.meta.url), 'utf8');

function tableRows(): Map<string, { format: string; status: string; maxDiff: string }> {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  expect(a, 'docs/importers.md has the zoo table (npm run zoo writes it)').toBeGreaterThanOrEqual(0);
  expect(b).toBeGreaterThan(a);
  const rows = new Map<string, { format: string; status: string; maxDiff: string }>();
  for (const line of doc.slice(a, b).split('\n')) {
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    if (cells.length !== 6 || cells[0] === 'Model' || cells[0].startsWith('---')) continue;
    expect(rows.has(cells[0]), `${cells[0]} listed twice`).toBe(false);
    rows.set(cells[0], { format: cells[1], status: cells[2], maxDiff: cells[3] });
  }
  return rows;
}

describe('docs/importers.md zoo table', () => {
  const rows = tableRows();
  const torchvision = [...ZOO.torchvision.required, ...ZOO.torchvision.more].map((s) => s.split(':')[0]);

  it('lists exactly the models of test/zoo/models.json, each with its format', () => {
    const expected = [...torchvision, ...Object.keys(ZOO.torchvision.notRun), ...ZOO.human.map((e) => e.name)];
    expect([...rows.keys()].sort()).toEqual(expected.sort());
    for (const name of torchvision) expect(rows.get(name)!.format, name).toBe('ONNX');
    for (const e of ZOO.human) expect(rows.get(e.name)!.format, e.name).toBe('TF.js graph');
  });

  it('gives each model the status the zoo tests require, and a max difference below 1e-4 where it imports', () => {
    const tolerance = new Map(ZOO.human.map((e) => [e.name, e.tolerance ?? 1e-4]));
    const required = [...ZOO.torchvision.required, ...ZOO.human.filter((e) => e.expect === 'imports').map((e) => e.name)];
    for (const name of required) expect(rows.get(name)!.status, name).toBe('imports');
    for (const e of ZOO.human.filter((e) => e.expect === 'refused')) expect(rows.get(e.name)!.status, e.name).toBe(`refused: ${e.reason}`);
    for (const [name, row] of rows) {
      if (row.status !== 'imports') continue;
      expect(row.maxDiff, name).toMatch(/^\d\.\de[-+]\d+|^0/);
      expect(parseFloat(row.maxDiff), name).toBeLessThan(tolerance.get(name) ?? 1e-4);
    }
  });

  it('summarises the rows it holds', () => {
    expect(doc).toContain(summary(ZOO, (m: string) => rows.get(m)?.status ?? ''));
  });
});
