// Messages between the page (main.ts) and the worker that owns the model (worker.ts).
import type { SavedModel } from './store';

export interface PlanSummary {
  title: string;
  arenaBytes: number;
  breakdown: Record<string, number>;
  regions: number;
  ops: number;
  batchSize: number;
}

export interface Prediction {
  base: number[]; // the bundled base's softmax over digits 0-4
  head: number[]; // the new head's softmax over digits 5-9
}

// heldOut fields: the head's softmax for every held-out sample, n x 5, row by row.

export type ToWorker =
  | { type: 'init'; heldOut: { x: Float32Array; digits: Uint8Array } }
  | { type: 'predict'; id: number; x: Float32Array }
  | { type: 'train'; x: Float32Array; digits: Uint8Array; current: Float32Array | null; paceMs: number }
  | { type: 'reset' }
  | { type: 'determinism' }
  | { type: 'threads' };

export type Persisted = Omit<SavedModel, 'bytes'> & { byteLength: number };

export type FromWorker =
  | { type: 'ready'; plans: PlanSummary[]; persisted: Persisted | null; digest: string; heldOut: Float32Array; restoreError?: string }
  | { type: 'prediction'; id: number; prediction: Prediction }
  | { type: 'progress'; epoch: number; epochs: number; loss: number; accuracy: number; heldOutAccuracy: number; current: Prediction | null; heldOut: Float32Array }
  | { type: 'trained'; persisted: Persisted; digest: string; seconds: number; heldOut: Float32Array }
  | { type: 'reset'; digest: string; heldOut: Float32Array }
  | { type: 'determinism'; result: { digest: string; weightsHex: string[]; predictions: number[] } }
  | { type: 'threads'; result: ThreadsCheck }
  | { type: 'error'; message: string };

// The threads scenario (examples/common/threads-scenario.mjs) on 1, 2 and 3 threads in the worker,
// whether the page is cross-origin isolated, and the Threads: line of a model asking for 2.
export interface ThreadsCheck {
  isolated: boolean;
  summary: string;
  byThreads: Record<number, unknown>;
}
