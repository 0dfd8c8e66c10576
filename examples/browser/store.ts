// IndexedDB: the fine-tuned model (model.toBytes(): safetensors with weights, topology and training
// config) with what the page shows about it, and the labelled images. A put is one transaction, so
// a reader sees the old record or the new one, never half of one.
export interface SavedModel {
  bytes: Uint8Array;
  digest: string; // FNV-1a of the head's weights (examples/common/determinism.mjs)
  savedAt: string;
  examples: number;
  runs: number; // trainings since the head was made (the next shuffle seed depends on it)
  curve: { loss: number; acc: number }[]; // the last training's loss and held-out accuracy per epoch
}

const DB = 'edgetune-browser';
const STORE = 'models';
const KEY = 'head-5to9';
const LABELLED = 'labelled';

// The labelled images, so that a reload keeps them as well as the weights.
export interface SavedLabels {
  x: Float32Array; // n x 784
  digits: Uint8Array; // n, 5-9
  samples: Int16Array; // n, index of the bundled sample or -1 for a drawing
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function transaction<T>(mode: IDBTransactionMode, act: (s: IDBObjectStore) => IDBRequest | null): Promise<T | undefined> {
  const db = await open();
  try {
    return await new Promise<T | undefined>((resolve, reject) => {
      // 'strict': 'complete' only after the browser has the record on persistent storage, not
      // merely handed to the OS (the default in some browsers); see docs/browser.md.
      const tx = db.transaction(STORE, mode, { durability: 'strict' });
      const req = act(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req ? (req.result as T) : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

export const loadSaved = () => transaction<SavedModel>('readonly', (s) => s.get(KEY));
export const storeSaved = (m: SavedModel) => transaction<void>('readwrite', (s) => s.put(m, KEY));
export const forgetSaved = () => transaction<void>('readwrite', (s) => s.delete(KEY));
export const loadLabels = () => transaction<SavedLabels>('readonly', (s) => s.get(LABELLED));
export const storeLabels = (l: SavedLabels) => transaction<void>('readwrite', (s) => s.put(l, LABELLED));
