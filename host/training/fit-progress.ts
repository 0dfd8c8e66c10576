// fit's own output, Keras's `verbose`: 1 a live one-line progress bar per epoch (steps, ETA, loss
// and metrics), redrawn in place; 2 one line per epoch; 0 nothing. 'auto' is 1 on a terminal, 2
// on any other output stream, 0 where there is no process stdout (browsers).
import { InvalidArgumentError } from '../core/errors';
import type { Callback, EpochLogs } from './model';

type Verbose = 'auto' | 0 | 1 | 2;
interface Out { write(s: string): unknown; isTTY?: boolean }

function stdout(): Out | null {
  const p = (globalThis as { process?: { stdout?: Out } }).process;
  return p?.stdout && typeof p.stdout.write === 'function' ? p.stdout : null;
}

export function resolveVerbose(v: unknown, out: Out | null = stdout()): 0 | 1 | 2 {
  if (v === undefined || v === 'auto') return out === null ? 0 : out.isTTY ? 1 : 2;
  if (v !== 0 && v !== 1 && v !== 2) throw new InvalidArgumentError(`fit: verbose must be 'auto', 0, 1 or 2, got ${JSON.stringify(v)}`);
  return out === null ? 0 : v;
}

const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;
const metrics = (logs: Record<string, number | undefined>) =>
  Object.entries(logs).filter(([k, v]) => v !== undefined && k !== 'learning_rate').map(([k, v]) => `${k}: ${v!.toFixed(4)}`).join(' - ');

// The printer fit adds in front of the user's callbacks; null when verbose is 0.
export function fitProgress(verbose: 0 | 1 | 2, epochs: number, stepsPerEpoch: number, out: Out | null = stdout()): Callback | null {
  if (verbose === 0 || out === null) return null;
  let epochStart = 0;
  let lossSum = 0;
  let width = 0;
  const redraw = (line: string) => {
    out.write(`\r${line.padEnd(width)}`);
    width = line.length;
  };
  return {
    onEpochBegin(epoch) {
      epochStart = Date.now();
      lossSum = 0;
      width = 0;
      if (verbose === 1) out.write(`Epoch ${epoch + 1}/${epochs}\n`);
    },
    onBatchEnd(batch, logs) {
      if (verbose !== 1) return;
      lossSum += logs.loss;
      const done = batch + 1;
      const bar = '='.repeat(Math.floor((20 * done) / stepsPerEpoch)).padEnd(20, '.');
      const eta = ((Date.now() - epochStart) / done) * (stepsPerEpoch - done);
      redraw(`${done}/${stepsPerEpoch} [${bar}] - ETA: ${seconds(eta)} - loss: ${(lossSum / done).toFixed(4)}`);
    },
    onEpochEnd(epoch, logs: EpochLogs) {
      const took = seconds(Date.now() - epochStart);
      if (verbose === 1) {
        redraw(`${stepsPerEpoch}/${stepsPerEpoch} [${'='.repeat(20)}] - ${took} - ${metrics(logs)}`);
        out.write('\n');
      } else {
        out.write(`Epoch ${epoch + 1}/${epochs} - ${took} - ${metrics(logs)}\n`);
      }
    },
  };
}
