// The edge function (examples/edge/handler.mjs) served by Deno.serve, Bun.serve and Node's http on
// loopback: predictions and per-tenant fine-tuning give the bytes this Node process computes with
// the same handler; 20 requests in flight across 3 tenants give what the same requests give one
// after the other (per tenant, in the order the server ran them); without the per-tenant queue,
// interleaved training does not.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnist, selectDigits } from '../dist/examples.js';
import { createHandler } from '../examples/edge/handler.mjs';
import { ROOT, RUNTIMES, scratchDir, startServer, stop } from './runtime-spawn';

const modelBytes = new Uint8Array(readFileSync(join(ROOT, 'models/mnist-base-0to4.safetensors')));
const LAUNCHER = { node: 'serve-node.mjs', deno: 'serve-deno.mjs', bun: 'serve-bun.mjs' } as const;

interface Req { method: 'GET' | 'POST'; path: string; body?: unknown }
type Handler = Awaited<ReturnType<typeof createHandler>>;

// Real digits 5-9: `perClass` rows per digit starting at `offset` within the class, interleaved
// (5, 6, 7, 8, 9, 5, 6, ...), as JSON rows and labels 5..9 (class indices of a 10-unit head).
const digits = loadMnist();
function batch(part: 'train' | 'test', perClass: number, offset: number): { inputs: number[][]; labels: number[] } {
  const s = selectDigits(digits, [5, 6, 7, 8, 9], part);
  const byClass = [5, 6, 7, 8, 9].map((d) => [...s.y.keys()].filter((i) => s.y[i] === d).slice(offset, offset + perClass));
  const inputs: number[][] = [];
  const labels: number[] = [];
  for (let j = 0; j < perClass; j++) for (const rows of byClass) { inputs.push(Array.from(s.x.subarray(rows[j] * 784, (rows[j] + 1) * 784))); labels.push(s.y[rows[j]]); }
  return { inputs, labels };
}

async function inProcess(handler: Handler, r: Req): Promise<{ status: number; body: any }> {
  const response = await handler.fetch(new Request(`http://edge.test${r.path}`, { method: r.method, body: r.body === undefined ? undefined : JSON.stringify(r.body) }));
  return { status: response.status, body: await response.json() };
}

async function overHttp(port: number, r: Req): Promise<{ status: number; body: any }> {
  const response = await fetch(`http://127.0.0.1:${port}${r.path}`, {
    method: r.method, body: r.body === undefined ? undefined : JSON.stringify(r.body), signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: await response.json() };
}

const held = batch('test', 4, 0); // 20 held-out digits
const train1 = batch('train', 12, 0); // 60 labelled digits
const sequentialRequests: Req[] = [
  { method: 'POST', path: '/predict', body: { inputs: held.inputs.slice(0, 6) } },
  { method: 'POST', path: '/tenants/alpha/train', body: { ...train1, epochs: 10 } },
  { method: 'POST', path: '/predict', body: { inputs: held.inputs, tenant: 'alpha' } },
  { method: 'GET', path: '/tenants/alpha' },
];

// 20 requests over 3 tenants (trains on different small batches, predictions between them) and
// the base model, meant to be sent all at once.
function concurrentRequests(): Req[] {
  const out: Req[] = [];
  ['t0', 't1', 't2'].forEach((id, i) => {
    for (let k = 0; k < 3; k++) {
      const b = batch('train', 2, 10 + 6 * i + 2 * k);
      out.push({ method: 'POST', path: `/tenants/${id}/train`, body: { ...b, epochs: 2 + k } });
      out.push({ method: 'POST', path: '/predict', body: { inputs: held.inputs.slice(4 * k, 4 * k + 4), tenant: id } });
    }
  });
  out.push({ method: 'POST', path: '/predict', body: { inputs: held.inputs.slice(0, 3) } });
  out.push({ method: 'POST', path: '/predict', body: { inputs: held.inputs.slice(10, 12) } });
  return out;
}

// Replays each tenant's requests one at a time, in the order the server ran them (seq), on a
// fresh handler, and expects the server's responses byte for byte.
async function expectSequentialEquivalent(requests: Req[], responses: { status: number; body: any }[]): Promise<void> {
  const fresh = await createHandler(modelBytes);
  const tenantOf = (r: Req) => (/\/tenants\/([^/]+)/.exec(r.path)?.[1] ?? (r.body as { tenant?: string })?.tenant);
  const ids = [...new Set(requests.map(tenantOf).filter((t): t is string => t !== undefined))];
  for (const id of ids) {
    const mine = requests.map((r, i) => ({ r, res: responses[i] })).filter((x) => tenantOf(x.r) === id);
    const seqs = mine.map((x) => x.res.body.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(mine.map((_, i) => i + 1)); // every request ran once, none skipped
    mine.sort((a, b) => a.res.body.seq - b.res.body.seq);
    for (const { r, res } of mine) {
      const replay = await inProcess(fresh, r);
      expect(res.body).toEqual(replay.body);
    }
  }
  for (const [i, r] of requests.entries()) if (tenantOf(r) === undefined) expect(responses[i]).toEqual(await inProcess(fresh, r));
}

describe('edge function', () => {
  let expected: { status: number; body: any }[];
  const scratch = scratchDir('edgetune-edge-');
  afterAll(() => scratch.remove());

  beforeAll(async () => {
    const reference = await createHandler(modelBytes);
    expected = [];
    for (const r of sequentialRequests) expected.push(await inProcess(reference, r));
  });

  it('in this process: base predictions are probabilities, the tenant head learns digits 5-9 (held out)', () => {
    for (const res of expected) expect(res.status).toBe(200);
    const [base, trained, tuned, info] = expected.map((e) => e.body);
    expect(base.predictions).toHaveLength(6);
    for (const p of base.predictions) {
      expect(p.probabilities).toHaveLength(5);
      expect(p.probabilities.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 5);
    }
    expect(trained.loss).toHaveLength(10);
    expect(trained.loss[9]).toBeLessThan(trained.loss[0]);
    expect(trained.iterations).toBe(10 * 4); // 60 rows at batch 16: 4 steps per epoch
    const correct = tuned.predictions.filter((p: { label: number }, i: number) => p.label === held.labels[i]).length;
    expect(correct / held.labels.length).toBeGreaterThanOrEqual(0.6); // chance among 5 digits is 0.2
    expect(info).toEqual({ tenant: 'alpha', seq: 3, iterations: 40, head: trained.head });
  });

  it('refuses bad requests with a reason', async () => {
    const h = await createHandler(modelBytes, { maxTenants: 1 });
    const bad = async (r: Req) => (await inProcess(h, r));
    expect(await bad({ method: 'POST', path: '/predict', body: { inputs: [[1, 2, 3]] } })).toEqual({ status: 400, body: { error: '"inputs" row 0 must have 784 numbers' } });
    expect((await bad({ method: 'POST', path: '/tenants/a/train', body: { inputs: train1.inputs.slice(0, 2), labels: [5, 10] } })).body.error).toMatch(/"labels"\[1\] is 10/);
    expect((await bad({ method: 'POST', path: '/predict', body: { inputs: held.inputs.slice(0, 1), tenant: 'nobody' } })).status).toBe(404);
    expect((await bad({ method: 'POST', path: '/tenants/a/train', body: { inputs: train1.inputs.slice(0, 2), labels: [5, 6] } })).status).toBe(200);
    expect((await bad({ method: 'POST', path: '/tenants/b/train', body: { inputs: train1.inputs.slice(0, 2), labels: [5, 6] } })).status).toBe(429);
  });

  it('the per-tenant queue is what keeps concurrent training equal to a sequential run', async () => {
    const reqs: Req[] = [0, 1, 2].map((k) => ({ method: 'POST', path: '/tenants/x/train', body: { ...batch('train', 2, 30 + 2 * k), epochs: 3 } }));
    for (const serializePerTenant of [true, false]) {
      const h = await createHandler(modelBytes, { serializePerTenant });
      await inProcess(h, reqs[0]); // create the tenant first, so all three below start together
      const together = reqs.slice(1).concat(reqs.slice(1));
      const responses = await Promise.all(together.map((r) => inProcess(h, r)));
      const fresh = await createHandler(modelBytes);
      await inProcess(fresh, reqs[0]);
      const order = together.map((r, i) => ({ r, res: responses[i] })).sort((a, b) => a.res.body.seq - b.res.body.seq);
      const replayed = [];
      for (const { r } of order) replayed.push((await inProcess(fresh, r)).body);
      if (serializePerTenant) expect(order.map((x) => x.res.body)).toEqual(replayed);
      else expect(order.map((x) => x.res.body)).not.toEqual(replayed); // interleaved epochs mix two fits' steps
    }
  });

  for (const runtime of RUNTIMES) {
    it(`${runtime}: serves the Node-computed predictions and fine-tuning; 20 concurrent requests over 3 tenants equal a sequential run`, async () => {
      const { port, child } = await startServer(runtime, join(ROOT, 'examples/edge', LAUNCHER[runtime]), ['0'], scratch.dir);
      try {
        const got = [];
        for (const r of sequentialRequests) got.push(await overHttp(port, r));
        expect(got).toEqual(expected);
        const health = await overHttp(port, { method: 'GET', path: '/health' });
        expect(health.body).toMatchObject({ tenants: 1, tenantArenaBytes: 1310720 });

        const requests = concurrentRequests();
        expect(requests).toHaveLength(20);
        const responses = await Promise.all(requests.map((r) => overHttp(port, r)));
        for (const res of responses) expect(res.status).toBe(200);
        await expectSequentialEquivalent(requests, responses);
      } finally {
        await stop(child);
      }
    });
  }
});
