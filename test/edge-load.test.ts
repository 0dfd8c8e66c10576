// The edge handler under loopback load, short version (scripts/edge-load.mjs runs 2,000 requests):
// 300 requests from 32 concurrent loops over 8 tenants, mixed predictions and fine-tunings, 10%
// malformed (path-like tenant ids among them). No 5xx, 4xx with a JSON error for every malformed
// one, tenants' heads changed only by their own fine-tunings (replayed in-process), the base
// model unchanged, and the server's peak RSS within its RSS before the tenants + their planned
// arenas + the stated overhead.
import { describe, expect, it } from 'vitest';
import { runEdgeLoad } from '../scripts/edge-load.mjs';

describe('edge handler under load', () => {
  it('300 requests, 32 concurrent, 8 tenants, 10% malformed: isolated, bounded, never a 5xx', async () => {
    const r = await runEdgeLoad({ requests: 300, concurrency: 32, tenants: 8, malformed: 0.1 });
    expect(r.problems).toEqual([]);
    expect(r.requests).toBe(308);
    const fourxx = Object.entries(r.statuses).filter(([s]) => Number(s) >= 400).reduce((n, [, c]) => n + (c as number), 0);
    expect(fourxx).toBe(r.latency.malformed.n);
    expect(r.latency.malformed.n).toBeGreaterThan(10);
    expect(r.latency.train.n).toBeGreaterThan(30);
    expect(r.memory.peak).toBeLessThanOrEqual(r.memory.bound);
    expect(r.memory.tenantArenaBytes).toBeGreaterThan(0);
    // Node's default 5 s made the server close connections the client was reusing under load
    expect(r.keepAlive).toBe('timeout=65');
  }, 240_000);
});
