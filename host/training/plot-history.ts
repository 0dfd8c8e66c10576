// plotHistory: what fit() returned, as a standalone SVG. One panel per quantity (loss, then each
// metric), its value per epoch as a solid line and the validation value (val_<name>) dashed.
import { InvalidArgumentError } from '../core/errors';
import type { History } from './model';
import { axes, escapeXml, type PlotArea, svgPage } from './svg';

const W = 680, PANEL = 240, L = 70, R = 160, T = 40, GAP = 60;
const COLORS = ['#08519c', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

// The panels: each quantity with its validation twin. The learning rate is not plotted.
function panels(history: Record<string, number[]>): string[][] {
  const names = Object.keys(history).filter((k) => k !== 'learning_rate');
  const bases = [...new Set(names.map((k) => (k.startsWith('val_') && !names.includes(k.slice(4)) ? k : k.replace(/^val_/, ''))))];
  bases.sort((a, b) => (a === 'loss' ? -1 : b === 'loss' ? 1 : 0));
  return bases.map((b) => [b, `val_${b}`].filter((k) => names.includes(k)));
}

function panel(a: PlotArea, series: string[], history: Record<string, number[]>, n: number, color: string): string[] {
  const values = series.flatMap((k) => history[k]).filter(Number.isFinite);
  let lo = Math.min(...values), hi = Math.max(...values);
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, hi + 0.5];
  const px = (i: number) => a.x + (n > 1 ? i / (n - 1) : 0.5) * a.w;
  const py = (v: number) => a.y + (1 - (v - lo) / (hi - lo)) * a.h;
  const out: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4, Y = py(v).toFixed(1);
    out.push(`<line x1="${a.x}" y1="${Y}" x2="${a.x + a.w}" y2="${Y}" stroke="#eee"/><text x="${a.x - 8}" y="${Y}" text-anchor="end" dominant-baseline="middle">${v.toPrecision(3)}</text>`);
  }
  const every = Math.ceil(n / 10);
  for (let i = 0; i < n; i += every) out.push(`<text x="${px(i).toFixed(1)}" y="${a.y + a.h + 18}" text-anchor="middle">${i + 1}</text>`);
  out.push(axes(a, 'epoch', series[0].replace(/^val_/, ''), 16));
  series.forEach((k, s) => {
    const dashed = k.startsWith('val_');
    const points = history[k].map((v, i) => (Number.isFinite(v) ? `${px(i).toFixed(2)},${py(v).toFixed(2)}` : '')).filter(Boolean).join(' ');
    const dash = dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline data-series="${escapeXml(k)}" points="${points}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    const ly = a.y + 12 + 18 * s, lx = a.x + a.w + 12;
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${dash}/><text x="${lx + 30}" y="${ly}">${escapeXml(k)}</text>`);
  });
  return out;
}

// The history fit() returned as an SVG document: loss and metrics per epoch, validation dashed.
export function plotHistory(history: Pick<History, 'history'>): string {
  const h = history?.history;
  if (!h || typeof h !== 'object') throw new InvalidArgumentError('plotHistory: expected the History that fit() returns ({ epoch, history: { loss: [...], ... } })');
  const groups = panels(h);
  const n = Math.max(0, ...groups.flat().map((k) => h[k].length));
  if (groups.length === 0 || n === 0) throw new InvalidArgumentError('plotHistory: the history has no epochs to plot (fit ran 0 epochs?)');
  const body = groups.flatMap((series, p) => panel({ x: L, y: T + p * (PANEL + GAP), w: W - L - R, h: PANEL }, series, h, n, COLORS[p % COLORS.length]));
  return svgPage(W, T + groups.length * (PANEL + GAP), `Training history (${n} epoch${n > 1 ? 's' : ''})`, body);
}
