// The page: a drawing pad, the bundled samples, labelling, the loss curve, the held-out grid, what
// is saved and the memory plan. The model lives in worker.ts; this thread only draws and talks.
import { formatBytes } from '../../host/core/errors';
import { toMnistInput } from './preprocess';
import type { FromWorker, Persisted, PlanSummary, Prediction, ToWorker } from './protocol';
import { decodeSamples, type SampleSet } from './samples';
import { loadLabels, storeLabels } from './store';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);
const setState = (s: string) => { document.body.dataset.state = s; };

let train: SampleSet;
let heldOut: SampleSet;
let current: Float32Array | null = null;
let currentSample: number | undefined; // index of the bundled sample on the pad, if it is one
const labelled: { x: Float32Array; digit: number; sample?: number }[] = [];
let busy = false;

// ---- small drawing helpers ----------------------------------------------------------------------

function paintDigit(canvas: HTMLCanvasElement, x: Float32Array, offset = 0) {
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(28, 28);
  for (let p = 0; p < 784; p++) {
    const v = Math.round(255 * x[offset + p]);
    img.data.set([v, v, v, 255], p * 4);
  }
  ctx.putImageData(img, 0, 0);
}

function thumb(x: Float32Array, offset = 0): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = c.height = 28;
  paintDigit(c, x, offset);
  return c;
}

function bars(el: HTMLElement, probs: number[] | null, first: number) {
  const top = probs ? probs.indexOf(Math.max(...probs)) : -1;
  el.innerHTML = '';
  for (let j = 0; j < 5; j++) {
    const p = probs ? probs[j] : 0;
    const bar = document.createElement('div');
    bar.className = `bar${j === top ? ' top' : ''}`;
    bar.dataset.digit = String(first + j);
    bar.innerHTML = `<i style="height:${(100 * p).toFixed(1)}%"></i><b>${first + j}</b><em>${probs ? (100 * p).toFixed(0) + '%' : ''}</em>`;
    el.append(bar);
  }
}

function showPrediction(p: Prediction | null) {
  bars($('pred-head'), p?.head ?? null, 5);
  bars($('pred-base'), p?.base ?? null, 0);
}

// ---- the pad --------------------------------------------------------------------------------------

const pad = $<HTMLCanvasElement>('pad');
const padCtx = pad.getContext('2d', { willReadFrequently: true })!;

function clearPad() {
  padCtx.fillStyle = '#000';
  padCtx.fillRect(0, 0, pad.width, pad.height);
  current = null;
  currentSample = undefined;
  paintDigit($('preview'), new Float32Array(784));
  showPrediction(null);
}

let predictId = 0;
const pending = new Map<number, (p: Prediction) => void>();
function predictCurrent() {
  if (!current || busy) return;
  paintDigit($('preview'), current);
  const id = ++predictId;
  pending.set(id, (p) => { if (id === predictId) showPrediction(p); });
  send({ type: 'predict', id, x: current.slice() });
}

function readPad() {
  const { data } = padCtx.getImageData(0, 0, pad.width, pad.height);
  const ink = new Float32Array(pad.width * pad.height);
  for (let i = 0; i < ink.length; i++) ink[i] = data[i * 4] / 255;
  current = toMnistInput(ink, pad.width, pad.height);
  if (current) predictCurrent();
}

let drawing = false;
let last: [number, number] | null = null;
let frame = 0;
pad.addEventListener('pointerdown', (e) => { drawing = true; last = null; currentSample = undefined; pad.setPointerCapture(e.pointerId); stroke(e); });
pad.addEventListener('pointermove', (e) => { if (drawing) stroke(e); });
pad.addEventListener('pointerup', () => { drawing = false; readPad(); });
function stroke(e: PointerEvent) {
  const r = pad.getBoundingClientRect();
  const p: [number, number] = [(e.clientX - r.left) * (pad.width / r.width), (e.clientY - r.top) * (pad.height / r.height)];
  padCtx.strokeStyle = '#fff';
  padCtx.fillStyle = '#fff';
  padCtx.lineWidth = 20;
  padCtx.lineCap = 'round';
  padCtx.lineJoin = 'round';
  padCtx.beginPath();
  if (last) { padCtx.moveTo(...last); padCtx.lineTo(...p); padCtx.stroke(); } else { padCtx.arc(p[0], p[1], 10, 0, 2 * Math.PI); padCtx.fill(); }
  last = p;
  if (!frame) frame = requestAnimationFrame(() => { frame = 0; readPad(); });
}
$('clear').onclick = clearPad;

// ---- samples and labels -------------------------------------------------------------------------

function loadSample(i: number) {
  const x = train.x.subarray(i * 784, (i + 1) * 784);
  const c = thumb(x);
  padCtx.imageSmoothingEnabled = false;
  padCtx.drawImage(c, 0, 0, pad.width, pad.height);
  current = x.slice(); // the sample itself, not a re-sampling of its enlargement
  currentSample = i;
  predictCurrent();
}

// The labelled set is saved (a moment after the last change) so a reload keeps it.
let saveTimer = 0;
function saveLabels() {
  clearTimeout(saveTimer);
  saveTimer = window.setTimeout(() => {
    const x = new Float32Array(labelled.length * 784);
    labelled.forEach((l, i) => x.set(l.x, i * 784));
    storeLabels({ x, digits: Uint8Array.from(labelled, (l) => l.digit), samples: Int16Array.from(labelled, (l) => l.sample ?? -1) })
      .then(() => { $('labelled-count').dataset.saved = String(labelled.length); })
      .catch((e: Error) => { $('status').textContent = `Could not save the labels: ${e.message}`; });
  }, 150);
}

function addLabelled(x: Float32Array, digit: number, sample?: number, save = true) {
  labelled.push({ x: x.slice(), digit, sample });
  const t = thumb(x);
  t.title = `labelled ${digit}`;
  $('labelled').append(t);
  if (sample !== undefined) $('samples').children[sample].classList.add('labelled');
  $('labelled-count').textContent = String(labelled.length);
  $<HTMLButtonElement>('train').disabled = busy || labelled.length === 0;
  if (save) saveLabels();
}

for (const b of document.querySelectorAll<HTMLButtonElement>('#label-buttons button')) {
  b.onclick = () => { if (current) addLabelled(current, Number(b.dataset.digit), currentSample); };
}
$('label-all').onclick = () => { for (let i = 0; i < train.n; i++) addLabelled(train.x.subarray(i * 784, (i + 1) * 784), train.digits[i], i); };
$('clear-labelled').onclick = () => {
  labelled.length = 0;
  $('labelled').innerHTML = '';
  for (const c of $('samples').children) c.classList.remove('labelled');
  $('labelled-count').textContent = '0';
  $<HTMLButtonElement>('train').disabled = true;
  saveLabels();
};

// ---- training, the curve, the held-out grid ------------------------------------------------------

const curve: { loss: number; acc: number }[] = [];
function drawCurve(epochs: number) {
  const c = $<HTMLCanvasElement>('curve');
  const ctx = c.getContext('2d')!;
  const W = c.width, H = c.height, L = 34, B = 22, T = 10, R = 34;
  ctx.clearRect(0, 0, W, H);
  ctx.font = '11px system-ui, sans-serif';
  ctx.strokeStyle = '#ccd';
  ctx.strokeRect(L, T, W - L - R, H - T - B);
  const maxLoss = Math.max(0.5, ...curve.map((p) => p.loss));
  const xAt = (i: number) => L + ((W - L - R) * (i + 1)) / Math.max(1, epochs);
  const yLoss = (v: number) => T + (H - T - B) * (1 - v / maxLoss);
  const yAcc = (v: number) => T + (H - T - B) * (1 - v);
  ctx.fillStyle = '#667';
  ctx.fillText(maxLoss.toFixed(1), 4, T + 8);
  ctx.fillText('0', 4, H - B);
  ctx.fillText('100%', W - R + 3, T + 8);
  ctx.fillText(`epoch (${epochs})`, W / 2 - 20, H - 6);
  const line = (color: string, y: (p: { loss: number; acc: number }) => number) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    curve.forEach((p, i) => (i ? ctx.lineTo(xAt(i), y(p)) : ctx.moveTo(xAt(i), y(p))));
    ctx.stroke();
  };
  line('#d43', (p) => yLoss(p.loss));
  line('#3a7', (p) => yAcc(p.acc));
  ctx.fillStyle = '#d43';
  ctx.fillText('training loss', L + 6, T + 14);
  ctx.fillStyle = '#3a7';
  ctx.fillText('held-out accuracy', L + 90, T + 14);
}

function showHeldOut(probs: Float32Array) {
  const grid = $('heldout');
  let correct = 0;
  for (let i = 0; i < heldOut.n; i++) {
    let best = 0;
    for (let j = 1; j < 5; j++) if (probs[i * 5 + j] > probs[i * 5 + best]) best = j;
    const ok = best + 5 === heldOut.digits[i];
    if (ok) correct++;
    const c = grid.children[i] as HTMLCanvasElement;
    c.className = ok ? 'right' : 'wrong';
    c.title = `digit ${heldOut.digits[i]}, predicted ${best + 5}`;
    c.dataset.predicted = String(best + 5);
  }
  $('heldout-acc').textContent = `${correct} of ${heldOut.n} right (${((100 * correct) / heldOut.n).toFixed(1)}%)`;
  $('heldout-acc').dataset.accuracy = String(correct / heldOut.n);
  hooks.heldOutProbs = Array.from(probs);
}

function showPersisted(p: Persisted | null, digest: string) {
  $('persisted').textContent = p
    ? `${formatBytes(p.byteLength)} of safetensors, saved ${new Date(p.savedAt).toLocaleString()} after ${p.runs} fine-tuning run${p.runs === 1 ? '' : 's'} (last on ${p.examples} labelled images). It is loaded again when the page reloads.`
    : 'nothing yet: the head is new.';
  $('digest').textContent = digest;
  hooks.digest = digest;
  hooks.persisted = p;
}

function showPlans(plans: PlanSummary[]) {
  const names: Record<string, string> = {
    weights: 'weights', gradients: 'gradients', optimizerState: 'optimizer state (Adam m, v)', state: 'non-trainable state',
    activations: 'activations (packed by live range)', scratch: 'kernel scratch', other: 'plan, I/O, kernel statics',
  };
  $('plans').innerHTML = plans.map((p) => `<table><tr><th>${p.title}</th><th>${formatBytes(p.arenaBytes)}</th></tr>` +
    Object.entries(p.breakdown).map(([k, v]) => `<tr><td>${names[k] ?? k}</td><td>${formatBytes(v)}</td></tr>`).join('') +
    `<tr><td><small>batch ${p.batchSize}, ${p.regions} regions, ${p.ops} ops per step; one wasm memory of exactly this size</small></td><td></td></tr></table>`).join('');
}

$('train').onclick = () => {
  if (busy || labelled.length === 0) return;
  busy = true;
  setState('training');
  $<HTMLButtonElement>('train').disabled = true;
  $<HTMLButtonElement>('reset').disabled = true;
  curve.length = 0;
  const x = new Float32Array(labelled.length * 784);
  labelled.forEach((l, i) => x.set(l.x, i * 784));
  const pace = Number(new URLSearchParams(location.search).get('pace') ?? 25);
  $('status').textContent = `fine-tuning on ${labelled.length} labelled images...`;
  send({ type: 'train', x, digits: Uint8Array.from(labelled, (l) => l.digit), current: current?.slice() ?? null, paceMs: pace }, [x.buffer]);
};

$('reset').onclick = () => {
  if (busy) return;
  busy = true;
  send({ type: 'reset' });
};

// ---- the worker's replies ------------------------------------------------------------------------

interface Hooks {
  digest: string;
  persisted: Persisted | null;
  heldOutProbs: number[];
  determinism(): Promise<unknown>;
  threads(): Promise<unknown>;
}
const hooks: Hooks = { digest: '', persisted: null, heldOutProbs: [], determinism: () => Promise.reject(new Error('not ready')), threads: () => Promise.reject(new Error('not ready')) };
(window as unknown as { edgetuneDemo: Hooks }).edgetuneDemo = hooks;
let determinismReply: ((r: unknown) => void) | null = null;
hooks.determinism = () => new Promise((resolve) => { determinismReply = resolve; send({ type: 'determinism' }); });
let threadsReply: ((r: unknown) => void) | null = null;
hooks.threads = () => new Promise((resolve) => { threadsReply = resolve; send({ type: 'threads' }); });

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case 'ready':
      showPlans(m.plans);
      showPersisted(m.persisted, m.digest);
      curve.splice(0, curve.length, ...(m.persisted?.curve ?? []));
      drawCurve(Math.max(1, curve.length));
      showHeldOut(m.heldOut);
      $('status').textContent = m.restoreError ?? (m.persisted ? 'Restored the fine-tuned head from IndexedDB.' : 'Ready: label a few digits 5-9, then fine-tune.');
      setState('ready');
      break;
    case 'prediction':
      pending.get(m.id)?.(m.prediction);
      pending.delete(m.id);
      break;
    case 'progress':
      curve.push({ loss: m.loss, acc: m.heldOutAccuracy });
      drawCurve(m.epochs);
      showHeldOut(m.heldOut);
      if (m.current) showPrediction(m.current);
      $('status').textContent = `epoch ${m.epoch + 1}/${m.epochs}: loss ${m.loss.toFixed(4)}, training accuracy ${(100 * m.accuracy).toFixed(0)}%, held-out ${(100 * m.heldOutAccuracy).toFixed(1)}%`;
      break;
    case 'trained':
      busy = false;
      showPersisted(m.persisted, m.digest);
      showHeldOut(m.heldOut);
      $('status').textContent += ` - done in ${m.seconds.toFixed(2)} s, saved to IndexedDB.`;
      $<HTMLButtonElement>('train').disabled = false;
      $<HTMLButtonElement>('reset').disabled = false;
      setState('trained');
      predictCurrent();
      break;
    case 'reset':
      busy = false;
      curve.length = 0;
      drawCurve(1);
      showPersisted(null, m.digest);
      showHeldOut(m.heldOut);
      $('status').textContent = 'Forgotten: a new head, nothing saved.';
      setState('ready');
      predictCurrent();
      break;
    case 'determinism':
      determinismReply?.(m.result);
      determinismReply = null;
      break;
    case 'threads':
      threadsReply?.(m.result);
      threadsReply = null;
      break;
    case 'error':
      busy = false;
      $('status').textContent = `Error: ${m.message}`;
      $<HTMLButtonElement>('train').disabled = labelled.length === 0;
      $<HTMLButtonElement>('reset').disabled = false;
      setState('error');
      break;
  }
};
worker.onerror = (e) => { $('status').textContent = `Worker failed: ${e.message}`; setState('error'); };

// ---- start ---------------------------------------------------------------------------------------

async function start() {
  clearPad();
  drawCurve(1);
  const res = await fetch('samples.bin');
  if (!res.ok) throw new Error(`samples.bin: HTTP ${res.status}`);
  ({ train, heldOut } = decodeSamples(await res.arrayBuffer()));
  for (let i = 0; i < train.n; i++) {
    const c = thumb(train.x, i * 784);
    c.title = `sample ${i + 1}`;
    c.dataset.index = String(i);
    c.onclick = () => loadSample(i);
    $('samples').append(c);
  }
  for (let i = 0; i < heldOut.n; i++) $('heldout').append(thumb(heldOut.x, i * 784));
  const saved = await loadLabels().catch(() => undefined);
  if (saved) {
    for (let i = 0; i < saved.digits.length; i++) {
      addLabelled(saved.x.subarray(i * 784, (i + 1) * 784), saved.digits[i], saved.samples[i] >= 0 ? saved.samples[i] : undefined, false);
    }
  }
  send({ type: 'init', heldOut: { x: heldOut.x, digits: heldOut.digits } });
}
// The service worker keeps a copy of the page so that it opens with the server gone.
async function offlineCopy() {
  if (!('serviceWorker' in navigator)) {
    $('offline').textContent = 'this browser has no service workers: the page needs its server to open';
    return;
  }
  await navigator.serviceWorker.register('sw.js');
  await navigator.serviceWorker.ready;
  $('offline').textContent = 'kept by a service worker: the page opens without its server';
  $('offline').dataset.ready = 'true';
}
offlineCopy().catch((e) => { $('offline').textContent = `no offline copy (${e.message})`; });
start().catch((e) => { $('status').textContent = `Failed to start: ${e.message}`; setState('error'); });
