// Loopback load test of the edge handler (examples/edge) under Node's http server:
//   node scripts/edge-load.mjs [--requests 2000] [--concurrency 32] [--tenants 8] [--malformed 0.1]
// Starts examples/edge/serve-node.mjs in a child process, creates the tenants (one fine-tuning
// each), then sends the requests from `concurrency` loops: a mix of base and tenant predictions,
// tenant fine-tunings (one epoch of 16 rows) and GETs, of which `malformed` are malformed (bad
// JSON, a short row, a label out of range, a tenant id that looks like a path, a wrong method,
// an unknown route). Checks (each a line in `problems`):
//   - no 5xx; a malformed request gets a 4xx with a JSON {"error": string}; the others a 200;
//   - tenants are isolated: a tenant's responses in seq order show its head digest changing only
//     at its own fine-tunings, and replaying each tenant's fine-tunings in seq order on a fresh
//     in-process handler gives its final head digest; the base model answers a probe identically
//     before and after;
//   - the server's peak resident memory stays within its resident memory before the tenants
//     existed (Node, the code and the base model's arena) + the tenants' planned arenas
//     (tenants x tenantArenaBytes from /health, each + TENANT_OVERHEAD_BYTES) + OVERHEAD_BYTES for requests in flight and
//     garbage not yet collected, with the server's young generation held small (SERVER_FLAGS).
// Prints p50/p99 latency per kind and the memory figures; exits 1 if any check failed.
// test/edge-load.test.ts runs a short version through runEdgeLoad.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createHandler } from '../examples/edge/handler.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL = `${ROOT}models/mnist-base-0to4.safetensors`;
export const OVERHEAD_BYTES = 64 * 2 ** 20;
// The server's V8 young generation is held to 2 MB semi-spaces (the default lets it grow to 16 MB
// each, 3 of them): the garbage of 2,000 JSON requests in 5 s then stays inside OVERHEAD_BYTES
// (peak 129.6-131.6 MB against a 135.6 MB bound on 2026-12-05; 163 MB with the default), with the
// same throughput. docs/runtimes-and-edge.md gives this flag for deployments.
// What a tenant costs beside its planned arena: its model's JS objects, plans and wasm instance
// (node --expose-gc, 16 tenants built as the handler builds them: 2.52 MB resident each, 1.25 MB of
// it the arena; 2026-12-05).
export const TENANT_OVERHEAD_BYTES = 1.5 * 2 ** 20;
export const SERVER_FLAGS = ['--max-semi-space-size=2'];

// xorshift32, so a run's requests are the same for the same seed.
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
}

const rowOf = (k) => Array.from({ length: 784 }, (_, i) => ((i * 7 + k * 13) % 17) / 17);
const rssOf = (pid) => { try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024; } catch { return 0; } };
const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN; };

// The i-th request of the run: { kind, method, path, body?, malformed?, tenant?, rows?, labels? }.
function requestOf(next, tenants, malformedShare) {
  const tenant = `t${Math.floor(next() * tenants)}`;
  const rows = Array.from({ length: 1 + Math.floor(next() * 16) }, () => rowOf(Math.floor(next() * 50)));
  if (next() < malformedShare) {
    const kinds = [
      { method: 'POST', path: '/predict', body: '{"inputs": [[0.1, 0.2' },
      { method: 'POST', path: '/predict', body: JSON.stringify({ inputs: [[0.5, 0.5]] }) },
      { method: 'POST', path: `/tenants/${tenant}/train`, body: JSON.stringify({ inputs: rows, labels: rows.map(() => 10) }) },
      { method: 'POST', path: '/tenants/..%2F..%2Fetc/train', body: JSON.stringify({ inputs: rows, labels: rows.map(() => 1) }) },
      { method: 'POST', path: '/predict', body: JSON.stringify({ inputs: rows, tenant: '../t0' }) },
      { method: 'GET', path: '/predict' },
      { method: 'POST', path: '/nowhere', body: '{}' },
      { method: 'POST', path: `/tenants/${tenant}/train`, body: JSON.stringify({ inputs: rows, labels: rows.map(() => 1), epochs: 0 }) },
    ];
    return { kind: 'malformed', malformed: true, ...kinds[Math.floor(next() * kinds.length)] };
  }
  const k = next();
  if (k < 0.3) return { kind: 'predict-base', method: 'POST', path: '/predict', body: JSON.stringify({ inputs: rows }) };
  if (k < 0.6) return { kind: 'predict-tenant', tenant, method: 'POST', path: '/predict', body: JSON.stringify({ inputs: rows, tenant }) };
  if (k < 0.95) {
    const labels = rows.map(() => Math.floor(next() * 10));
    return { kind: 'train', tenant, rows, labels, method: 'POST', path: `/tenants/${tenant}/train`, body: JSON.stringify({ inputs: rows, labels, epochs: 1 }) };
  }
  return { kind: 'get-tenant', tenant, method: 'GET', path: `/tenants/${tenant}` };
}

async function startServer() {
  const child = spawn(process.execPath, [...SERVER_FLAGS, `${ROOT}examples/edge/serve-node.mjs`, '0', MODEL], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => { out += d; const m = /listening (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
    child.once('close', (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
  return { child, base: `http://127.0.0.1:${port}`, stderr: () => err };
}

export async function runEdgeLoad({ requests = 2000, concurrency = 32, tenants = 8, malformed = 0.1, seed = 1 } = {}) {
  const problems = [];
  const server = await startServer();
  const call = async (r) => {
    const t0 = performance.now();
    const res = await fetch(server.base + r.path, { method: r.method, body: r.body, headers: r.body ? { 'content-type': 'application/json' } : {} });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { /* checked below */ }
    return { status: res.status, json, text, ms: performance.now() - t0 };
  };
  try {
    const probe = { method: 'POST', path: '/predict', body: JSON.stringify({ inputs: [rowOf(3)] }) };
    const probeBefore = (await call(probe)).text;
    const rssBeforeTenants = rssOf(server.child.pid);
    let peak = rssBeforeTenants;
    const watch = setInterval(() => { peak = Math.max(peak, rssOf(server.child.pid)); }, 20);

    // The tenants, each created by a first fine-tuning (recorded like any other).
    const log = [];
    const next = rng(seed);
    const creations = Array.from({ length: tenants }, (_, i) => {
      const rows = [rowOf(i), rowOf(i + 1)];
      const labels = [i % 10, (i + 1) % 10];
      return { kind: 'train', tenant: `t${i}`, rows, labels, method: 'POST', path: `/tenants/t${i}/train`, body: JSON.stringify({ inputs: rows, labels, epochs: 1 }) };
    });
    for (const r of creations) log.push({ r, ...(await call(r)) });
    const health = await fetch(`${server.base}/health`);
    const planned = await health.json();
    const keepAlive = health.headers.get('keep-alive');

    const queue = Array.from({ length: requests }, () => requestOf(next, tenants, malformed));
    let at = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (at < queue.length) {
        const r = queue[at++];
        try {
          log.push({ r, ...(await call(r)) });
        } catch (e) {
          problems.push(`${r.method} ${r.path}: ${e?.message ?? e} (${e?.cause?.code ?? e?.cause?.message ?? "no cause"}; ${r.kind})`);
        }
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(watch);
    peak = Math.max(peak, rssOf(server.child.pid));

    // Statuses and bodies.
    for (const { r, status, json, text } of log) {
      const where = `${r.kind} ${r.method} ${r.path}`;
      if (status >= 500) problems.push(`${where}: ${status} ${text.slice(0, 200)}`);
      else if (r.malformed && !(status >= 400 && status < 500 && typeof json?.error === 'string')) problems.push(`${where} (malformed): ${status} ${text.slice(0, 200)}`);
      else if (!r.malformed && status !== 200) problems.push(`${where}: ${status} ${text.slice(0, 200)}`);
    }
    // Isolation: per tenant, in seq order, the head changes only at its own fine-tunings.
    const finals = {};
    for (let i = 0; i < tenants; i++) {
      const id = `t${i}`;
      const mine = log.filter((e) => e.r.tenant === id && e.status === 200).sort((a, b) => a.json.seq - b.json.seq);
      mine.forEach((e, j) => {
        if (e.json.seq !== j + 1) problems.push(`${id}: responses' seq ${mine.map((x) => x.json.seq).slice(0, 20)}... are not 1, 2, 3...`);
        if (j > 0 && e.r.kind !== 'train' && e.json.head !== mine[j - 1].json.head) problems.push(`${id}: head changed at seq ${e.json.seq} (${e.r.kind}), not at a fine-tuning of its own`);
      });
      finals[id] = { head: (await call({ method: 'GET', path: `/tenants/${id}` })).json?.head, trains: mine.filter((e) => e.r.kind === 'train').map((e) => e.r) };
    }
    const replay = await createHandler(new Uint8Array(readFileSync(MODEL)), { maxTenants: tenants });
    for (const [id, f] of Object.entries(finals)) {
      let head;
      for (const r of f.trains) head = (await (await replay.fetch(new Request(`http://replay${r.path}`, { method: 'POST', body: r.body }))).json()).head;
      if (head !== f.head) problems.push(`${id}: the server's final head ${f.head} is not the replay's ${head} of its ${f.trains.length} fine-tunings`);
    }
    if ((await call(probe)).text !== probeBefore) problems.push('the base model answers the probe differently after the load');

    const bound = rssBeforeTenants + tenants * (planned.tenantArenaBytes + TENANT_OVERHEAD_BYTES) + OVERHEAD_BYTES;
    if (peak > bound) problems.push(`peak RSS ${(peak / 2 ** 20).toFixed(0)} MB over the bound ${(bound / 2 ** 20).toFixed(0)} MB`);
    const kinds = {};
    for (const e of log.slice(tenants)) (kinds[e.r.kind] ??= []).push(e.ms);
    const all = log.slice(tenants).map((e) => e.ms);
    const latency = Object.fromEntries([['all', all], ...Object.entries(kinds)].map(([k, ms]) => [k, { n: ms.length, p50: quantile(ms, 0.5), p99: quantile(ms, 0.99) }]));
    const statuses = {};
    for (const e of log) statuses[e.status] = (statuses[e.status] ?? 0) + 1;
    return {
      problems, requests: log.length, seconds, statuses, latency, keepAlive,
      memory: { rssBeforeTenants, peak, bound, tenantArenaBytes: planned.tenantArenaBytes, baseArenaBytes: planned.baseArenaBytes, overheadBytes: OVERHEAD_BYTES, tenantOverheadBytes: TENANT_OVERHEAD_BYTES },
      serverStderr: server.stderr(),
    };
  } finally {
    server.child.kill('SIGKILL');
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : fallback; };
  const r = await runEdgeLoad({ requests: arg('requests', 2000), concurrency: arg('concurrency', 32), tenants: arg('tenants', 8), malformed: arg('malformed', 0.1) });
  const mb = (b) => `${(b / 2 ** 20).toFixed(1)} MB`;
  console.log(`${r.requests} requests in ${r.seconds.toFixed(1)} s; statuses ${JSON.stringify(r.statuses)}`);
  for (const [k, l] of Object.entries(r.latency)) console.log(`  ${k.padEnd(15)} n=${String(l.n).padStart(5)}  p50 ${l.p50.toFixed(1)} ms  p99 ${l.p99.toFixed(1)} ms`);
  const m = r.memory;
  console.log(`  server RSS: ${mb(m.rssBeforeTenants)} before tenants, peak ${mb(m.peak)}; bound ${mb(m.bound)} = that + 8 x (${mb(m.tenantArenaBytes)} tenant arena + ${mb(m.tenantOverheadBytes)} its host objects) + ${mb(m.overheadBytes)} overhead`);
  for (const p of r.problems.slice(0, 20)) console.log(`PROBLEM ${p}`);
  console.log(r.problems.length ? `${r.problems.length} problems` : 'no problems');
  process.exitCode = r.problems.length ? 1 : 0;
}
