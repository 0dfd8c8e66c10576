// Output as people read it: the CLI progress bar redraws without leftovers, summary() columns fit
// long names, the LR finder's label stays inside its plot, plotHistory draws what fit() returned.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layers, lrFinderSvg, plotHistory, sequential, tensor } from '../dist/node.js';
import { randomArray } from './support/harness';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const MODELS = new URL('./fixtures/models/', import.meta.url).pathname;

// What a terminal shows for text with carriage returns: each \r returns to column 0 and overwrites.
function screen(text: string): string[] {
  return text.split('\n').map((line) => {
    let shown = '';
    for (const part of line.split('\r')) shown = part + shown.slice(part.length);
    return shown;
  });
}

const attrs = (tag: string) => Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));

describe('output polish', () => {
  it('the convert progress bar leaves nothing of a longer line behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgetune-progress-'));
    const r = spawnSync(process.execPath, [CLI, 'convert', join(MODELS, 'emotion.json'), join(dir, 'e.safetensors'), '--progress'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.includes('\r'));
    expect(lines.length).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/100%\r\S/); // a shorter line did follow a bar
    for (const line of lines) expect(screen(line)[0].trimEnd()).toBe(line.split('\r').pop()!.trimEnd());
  });

  it('summary() columns are as wide as their longest cell', () => {
    const long = 'a_rather_long_layer_name_from_an_imported_model_block3';
    const m = sequential([layers.dense(4, { inputShape: [3], name: long }), layers.dense(2)]);
    const text = m.summary(null);
    const rows = text.split('\n');
    const header = rows.find((l) => l.startsWith('Layer (type)'))!;
    const row = rows.find((l) => l.startsWith(long))!;
    expect(row).toMatch(/\(dense\) {2,}\(None, 4\)/);
    expect(row.indexOf('(None')).toBe(header.indexOf('Output Shape'));
    expect(row.indexOf('16') + 2).toBe(header.indexOf('Param #') + 'Param #'.length);
  });

  it('the LR finder labels its suggestion inside the plot, even at the right edge', () => {
    const lrs = Array.from({ length: 50 }, (_, i) => 1e-4 * 10 ** (i / 12.25));
    const losses = lrs.map((_, i) => 2 - i * 0.02);
    const svg = lrFinderSvg({ lrs, losses, smoothed: losses, minLossLr: lrs[49], suggestion: lrs[48] });
    const axis = attrs(svg.match(/<line [^>]*stroke="black"\/>/)![0]); // the x axis: the plot's width
    const label = svg.match(/<text [^>]*>suggested [^<]*<\/text>/)![0];
    const a = attrs(label), text = label.replace(/<[^>]+>/g, '');
    const x = Number(a.x), width = text.length * 6; // 12px sans-serif: at least 6 px a character
    const [left, right] = a['text-anchor'] === 'end' ? [x - width, x] : [x, x + width];
    expect(left).toBeGreaterThanOrEqual(Number(axis.x1));
    expect(right).toBeLessThanOrEqual(Number(axis.x2));
  });

  it('plotHistory draws loss and accuracy per epoch, validation dashed, points mapping the values', async () => {
    const m = sequential([layers.dense(8, { inputShape: [4], activation: 'relu' }), layers.dense(3, { activation: 'softmax' })]);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 8 });
    const y = tensor(Int32Array.from({ length: 24 }, (_, i) => i % 3), [24]);
    const x = tensor(randomArray(96, 7), [24, 4]);
    const history = await m.fit(x, y, { epochs: 4, validationData: [x, y], seed: 1 });
    const series = (svg: string) => [...svg.matchAll(/<polyline [^>]*\/>/g)].map((p) => attrs(p[0]));
    const fitted = plotHistory(history);
    expect(fitted.startsWith('<svg')).toBe(true);
    expect(series(fitted).map((l) => l['data-series']).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    // The mapping, on values chosen here: 4 epochs, learning rate not plotted.
    const known = { epoch: [0, 1, 2, 3], history: {
      loss: [1.2, 0.5, 0.4, 0.2], val_loss: [1.1, 0.7, 0.6, 0.65], accuracy: [0.3, 0.6, 0.7, 0.9], val_accuracy: [0.25, 0.5, 0.6, 0.55], learning_rate: [1e-3, 1e-3, 1e-3, 1e-3],
    } };
    const lines = series(plotHistory(known));
    expect(lines.length).toBe(4);
    for (const base of ['loss', 'accuracy']) {
      const panel = lines.filter((l) => l['data-series'].replace(/^val_/, '') === base);
      const values = panel.flatMap((l) => known.history[l['data-series'] as keyof typeof known.history]);
      const [lo, hi] = [Math.min(...values), Math.max(...values)];
      const points = panel.flatMap((l) => l.points.split(' ').map((p) => p.split(',').map(Number)));
      const ys = points.map((p) => p[1]);
      const [top, bottom] = [Math.min(...ys), Math.max(...ys)];
      expect(bottom - top).toBeGreaterThan(100);
      for (const l of panel) {
        const k = l['data-series'];
        expect(l['stroke-dasharray'] !== undefined).toBe(k.startsWith('val_'));
        const pts = l.points.split(' ').map((p) => p.split(',').map(Number));
        expect(pts.length).toBe(4);
        const step = pts[1][0] - pts[0][0];
        expect(step).toBeGreaterThan(0);
        pts.forEach(([px, py], i) => {
          expect(px - pts[0][0]).toBeCloseTo(i * step, 1);
          expect((bottom - py) / (bottom - top)).toBeCloseTo((known.history[k as keyof typeof known.history][i] - lo) / (hi - lo), 3);
        });
      }
    }
  });
});
