// An edge function over edgetune: one fetch(Request) -> Response handler, no file system (the
// model arrives as bytes), the same module under Deno.serve, Bun.serve, Node's http and any
// platform that calls fetch handlers.
//
//   POST /predict               {"inputs": [[784 floats], ...], "tenant"?: "id"}
//        -> {"model": "base" | id, "seq"?, "head"?, "predictions": [{"label", "probabilities"}]}
//   POST /tenants/:id/train     {"inputs": [[784 floats], ...], "labels": [int, ...], "epochs"?: 1..20}
//        -> {"tenant", "seq", "iterations", "loss": [per epoch], "head": fnv1a of the head's bytes}
//   GET  /tenants/:id           -> {"tenant", "seq", "iterations", "head"}
//   GET  /health                -> {"tenants", "maxTenants", "evictions", "tenantArenaBytes", "baseArenaBytes", ...}
//
// Without a tenant, /predict uses the base model (digits 0-4). A tenant gets its own copy of the
// base with the base frozen and a new softmax head of `classes` units, fine-tuned by its /train
// calls (Adam, batch 16).
//
// Limits and access (docs/runtimes-and-edge.md): a body is read as a stream and reading stops at
// maxBodyBytes (413), so an oversized body never sits in memory. At most maxTenants tenants
// exist; creating one more evicts the least recently used idle tenant (no request queued or
// running for it; its fine-tuning is lost), and only when every tenant is busy does it get 429.
// `authorize(request, tenant)` (tenant: the id, or null for the base model) decides who may use
// a tenant: it returns true, false (403) or 401; see launch.mjs for a bearer-token example.
//
// Memory and concurrency: every tenant has its own model and so its own arena (one fixed wasm
// memory, planned once at compile time under TENANT_MEMORY_BUDGET: 1.25 MB at batch 16, of which
// 1.04 MB is its copy of the frozen base), and at most maxTenants tenants exist: the handler's
// wasm memory is bounded by baseArena + maxTenants * tenantArena (live tenants; an evicted one's
// memory goes when its model is garbage collected). No two tenants ever share an
// arena. Requests for one tenant are serialised by a per-tenant queue (a promise chain), because
// training yields to the event loop between epochs (so other tenants and base predictions are
// served meanwhile) and two interleaved fits on one model would mix their steps. Each tenant
// response carries `seq`, its position in that tenant's queue: replaying a tenant's requests one
// after the other in seq order gives the same bytes.
import { EdgetuneError, formatBytes, layers, loadModel, optimizers, ready, sequential, tensor } from '../../dist/index.js';

export const TENANT_MEMORY_BUDGET = '1280KB';
const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const INPUT_SIZE = 784;

class RequestError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

// FNV-1a over the bytes of the arrays: a short exact fingerprint of a head's weights.
function fnv1a(arrays) {
  let h = 0x811c9dc5 >>> 0;
  for (const a of arrays) {
    const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

// A seed per tenant id (the head's initial weights depend only on the id).
function seedOf(id) {
  let h = 0x811c9dc5 >>> 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const json = (status, body, headers = {}) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const quoted = (id) => JSON.stringify(id.length > 80 ? `${id.slice(0, 80)}...` : id);

// Reads the body as a stream and stops at maxBodyBytes: the rest is never read (nor buffered).
async function readBody(request, maxBodyBytes) {
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > maxBodyBytes) throw new RequestError(413, `request body of ${declared} bytes is over the ${maxBodyBytes}-byte limit`);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBodyBytes) {
      reader.cancel().catch(() => {});
      throw new RequestError(413, `request body is over the ${maxBodyBytes}-byte limit`);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { body.set(c, at); at += c.byteLength; }
  return body;
}

// The body as a JSON object (not null, an array or a number).
async function readJson(request, maxBodyBytes) {
  const bytes = await readBody(request, maxBodyBytes);
  let body;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new RequestError(400, 'request body is not JSON (UTF-8)');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new RequestError(400, 'request body must be a JSON object');
  return body;
}

// inputs: an array of rows of 784 finite numbers -> a [n, 784] tensor.
function inputTensor(inputs, maxBatch) {
  if (!Array.isArray(inputs) || inputs.length === 0) throw new RequestError(400, '"inputs" must be a non-empty array of rows of 784 numbers');
  if (inputs.length > maxBatch) throw new RequestError(413, `"inputs" has ${inputs.length} rows, at most ${maxBatch} per request`);
  const x = new Float32Array(inputs.length * INPUT_SIZE);
  inputs.forEach((row, r) => {
    if (!Array.isArray(row) || row.length !== INPUT_SIZE) throw new RequestError(400, `"inputs" row ${r} must have ${INPUT_SIZE} numbers`);
    for (let i = 0; i < INPUT_SIZE; i++) {
      // finite as a float32 too (1e39 is a finite double but Infinity once stored)
      if (typeof row[i] !== 'number' || !Number.isFinite(Math.fround(row[i]))) throw new RequestError(400, `"inputs" row ${r} element ${i} is not a finite float32`);
      x[r * INPUT_SIZE + i] = row[i];
    }
  });
  return tensor(x, [inputs.length, INPUT_SIZE]);
}

function predictions(model, x) {
  const probs = model.predict(x, { batchSize: 16 });
  const classes = probs.shape[1];
  const out = [];
  for (let r = 0; r < probs.shape[0]; r++) {
    const p = Array.from(probs.data.subarray(r * classes, (r + 1) * classes));
    // Finite inputs can still overflow the model (3e38 pixels): never answer NaN with a 200.
    if (!p.every(Number.isFinite)) throw new RequestError(400, `"inputs" row ${r} overflows the model: its probabilities are not finite (pixels are expected in [0, 1])`);
    let label = 0;
    for (let j = 1; j < classes; j++) if (p[j] > p[label]) label = j;
    out.push({ label, probabilities: p });
  }
  return out;
}

const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

// options: classes (units of a tenant head, default 10), maxTenants (8), maxBatch (rows per
// request, 64), maxEpochs (20), learningRate (1e-2), maxBodyBytes (4 MB), authorize (none: every
// request allowed) and serializePerTenant (true; false exists only so a test can show what the
// queue prevents).
export async function createHandler(modelBytes, options = {}) {
  const classes = options.classes ?? 10;
  const maxTenants = options.maxTenants ?? 8;
  const maxBatch = options.maxBatch ?? 64;
  const maxEpochs = options.maxEpochs ?? 20;
  const learningRate = options.learningRate ?? 1e-2;
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const serialize = options.serializePerTenant ?? true;
  const authorize = options.authorize ?? null;
  const bytes = modelBytes instanceof Uint8Array ? modelBytes : new Uint8Array(modelBytes);

  await ready(); // compile the kernels asynchronously once (edge platforms may refuse a sync compile)
  const base = await loadModel(bytes);
  base.predict(tensor(new Float32Array(INPUT_SIZE), [1, INPUT_SIZE]), { batchSize: 16 }); // plan its arena now
  const baseArenaBytes = base.plan.pages * 65536;

  // id -> { ready: Promise<tenant>, pending: requests queued or running }, least recently used first
  const tenants = new Map();
  let evictions = 0;
  let tenantArenaBytes = null; // known once the first tenant is planned

  async function newTenant(id) {
    const own = await loadModel(bytes); // its own layers, so its own arena: nothing shared with other tenants
    const frozen = own.layers.slice(0, -1);
    for (const l of frozen) l.trainable = false;
    const head = layers.dense(classes, { activation: 'softmax', name: 'head', kernelInitializer: { className: 'glorotUniform', seed: seedOf(id) } });
    const model = sequential([...frozen, head], { name: `tenant-${id}` });
    model.compile({ optimizer: optimizers.adam({ learningRate }), loss: 'sparseCategoricalCrossentropy', batchSize: 16, memoryBudget: TENANT_MEMORY_BUDGET });
    tenantArenaBytes = model.plan.pages * 65536;
    return { id, model, head, seq: 0, queue: Promise.resolve() };
  }

  function checkTenantId(id) {
    if (!TENANT_ID.test(id)) throw new RequestError(400, `tenant id ${quoted(id)} must be 1-64 letters, digits, '-' or '_'`);
  }

  // Evicts the least recently used tenant that has no request queued or running.
  function evictIdleTenant() {
    for (const [id, entry] of tenants) {
      if (entry.pending === 0) {
        tenants.delete(id);
        evictions++;
        return true;
      }
    }
    return false;
  }

  function tenant(id, create) {
    let entry = tenants.get(id);
    if (entry) {
      tenants.delete(id); // re-insert: the map's order is least recently used first
      tenants.set(id, entry);
      return entry;
    }
    if (!create) throw new RequestError(404, `no tenant ${quoted(id)} (POST /tenants/${id}/train creates it)`);
    if (tenants.size >= maxTenants && !evictIdleTenant()) {
      throw new RequestError(429, `all ${maxTenants} tenants (${formatBytes(Number(tenantArenaBytes))} each) are busy; retry later`);
    }
    entry = { ready: newTenant(id), pending: 0 };
    tenants.set(id, entry);
    entry.ready.catch(() => { if (tenants.get(id) === entry) tenants.delete(id); });
    return entry;
  }

  // Runs fn on the tenant after every earlier request for it has finished; fn gets its seq.
  async function onTenant(id, create, fn) {
    const entry = tenant(id, create);
    entry.pending++;
    try {
      const t = await entry.ready;
      const seq = ++t.seq;
      if (!serialize) return await fn(t, seq);
      const run = t.queue.then(() => fn(t, seq));
      t.queue = run.catch(() => {});
      return await run;
    } finally {
      entry.pending--;
    }
  }

  // tenant: an id, or null for the base model.
  async function checkAccess(request, tenant) {
    if (!authorize) return;
    const verdict = await authorize(request, tenant);
    if (verdict === true) return;
    const what = tenant === null ? 'the base model' : `tenant ${quoted(tenant)}`;
    if (verdict === 401) throw new RequestError(401, `credentials required for ${what}`, { 'www-authenticate': 'Bearer' });
    throw new RequestError(403, `not allowed to use ${what}`);
  }

  const headDigest = (t) => fnv1a(t.head.getWeights());

  async function train(id, body) {
    const x = inputTensor(body.inputs, maxBatch);
    const labels = body.labels;
    if (!Array.isArray(labels) || labels.length !== x.shape[0]) throw new RequestError(400, `"labels" must be an array of ${x.shape[0]} class indices`);
    labels.forEach((v, i) => {
      if (!Number.isInteger(v) || v < 0 || v >= classes) throw new RequestError(400, `"labels"[${i}] is ${v}, not a class index in [0, ${classes - 1}]`);
    });
    const epochs = body.epochs ?? 5;
    if (!Number.isInteger(epochs) || epochs < 1 || epochs > maxEpochs) throw new RequestError(400, `"epochs" must be an integer in [1, ${maxEpochs}]`);
    const y = tensor(Int32Array.from(labels), [labels.length]);
    return onTenant(id, true, async (t, seq) => {
      const history = await t.model.fit(x, y, { epochs, batchSize: 16, shuffle: false, verbose: 0, onEpochEnd: yieldToEventLoop });
      return { tenant: id, seq, iterations: t.model.iterations, loss: history.history.loss, head: headDigest(t) };
    });
  }

  async function predict(request, body) {
    if (body.tenant !== undefined && typeof body.tenant !== 'string') throw new RequestError(400, '"tenant" must be a string');
    if (body.tenant !== undefined) checkTenantId(body.tenant);
    await checkAccess(request, body.tenant ?? null);
    const x = inputTensor(body.inputs, maxBatch);
    if (body.tenant === undefined) return { model: 'base', predictions: predictions(base, x) };
    return onTenant(body.tenant, false, async (t, seq) => ({ model: t.id, seq, head: headDigest(t), predictions: predictions(t.model, x) }));
  }

  function tenantIdOf(encoded) {
    let id;
    try {
      id = decodeURIComponent(encoded);
    } catch {
      throw new RequestError(400, `tenant id ${quoted(encoded)} in the path is not valid percent-encoding`);
    }
    checkTenantId(id);
    return id;
  }

  async function route(request) {
    const url = new URL(request.url);
    const path = url.pathname;
    if (request.method === 'GET' && path === '/health') {
      return { tenants: tenants.size, maxTenants, evictions, tenantArenaBytes, baseArenaBytes, tenantMemoryBudget: TENANT_MEMORY_BUDGET };
    }
    if (path === '/predict') {
      if (request.method !== 'POST') throw new RequestError(405, 'use POST /predict');
      return predict(request, await readJson(request, maxBodyBytes));
    }
    const m = /^\/tenants\/(.+?)(\/train)?$/.exec(path);
    if (m) {
      const id = tenantIdOf(m[1]); // ids with '/' (a/b/train) or '..' are refused here
      if (m[2]) {
        if (request.method !== 'POST') throw new RequestError(405, `use POST /tenants/${id}/train`);
        await checkAccess(request, id);
        return train(id, await readJson(request, maxBodyBytes));
      }
      if (request.method !== 'GET') throw new RequestError(405, `use GET /tenants/${id}`);
      await checkAccess(request, id);
      return onTenant(id, false, async (t, seq) => ({ tenant: id, seq, iterations: t.model.iterations, head: headDigest(t) }));
    }
    throw new RequestError(404, `no route ${request.method} ${path}`);
  }

  return {
    async fetch(request) {
      try {
        return json(200, await route(request));
      } catch (e) {
        if (e instanceof RequestError) return json(e.status, { error: e.message }, e.headers);
        if (e instanceof EdgetuneError) return json(e.code === 'MemoryBudget' ? 507 : 400, { error: e.message, type: e.name });
        return json(500, { error: String(e?.message ?? e) });
      }
    },
    get tenantCount() {
      return tenants.size;
    },
  };
}
