// The real-model rows of the bench time edgetune and its peer in alternating rounds
// (scripts/bench-peers.mjs timeInterleaved), so that a burst of load on the shared machine slows
// both rather than the one timed during it (README's mobilenet_v2 batch-1 row read 2.8x slower
// per sample than batch 8 while the CPU time per sample was the same).
import { describe, expect, it } from 'vitest';
import { timeInterleaved, timeInterleavedRounds } from '../scripts/bench-peers.mjs';

describe('timeInterleaved', () => {
  it('alternates the functions call by call after their warm-up, and returns each one\'s median', async () => {
    const log: string[] = [];
    const busy = (ms: number) => { const t = performance.now(); while (performance.now() - t < ms); };
    const [a, b] = await timeInterleaved([() => { log.push('a'); busy(2); }, async () => { log.push('b'); busy(6); }], { warmup: 2, reps: 5, minMs: 0 });
    expect(log.slice(0, 4)).toEqual(['a', 'a', 'b', 'b']);
    expect(log.slice(4).join('')).toBe('ababababab');
    expect(a).toBeGreaterThanOrEqual(2);
    expect(b).toBeGreaterThanOrEqual(6);
    expect(b).toBeGreaterThan(a);
  });

  it('keeps going until every function has minMs of timed calls', async () => {
    let fast = 0;
    let slow = 0;
    const busy = (ms: number) => { const t = performance.now(); while (performance.now() - t < ms); };
    await timeInterleaved([() => { fast++; }, () => { slow++; busy(1); }], { warmup: 0, reps: 3, minMs: 20 });
    expect(slow).toBeGreaterThanOrEqual(20);
    expect(fast).toBe(slow);
  });

  it('says how many rounds it timed (the threads bench prints them beside each row)', async () => {
    let calls = 0;
    const busy = (ms: number) => { const t = performance.now(); while (performance.now() - t < ms); };
    // 1 ms against 10 ms of busy waiting: a loaded machine stretches a wait (a full test run read a
    // median of 4 ms for 1 ms against 2 ms), never shortens it.
    const { medians, rounds } = await timeInterleavedRounds([() => { calls++; busy(1); }, () => busy(10)], { warmup: 1, reps: 4, minMs: 12 });
    expect(rounds).toBe(calls - 1);
    expect(rounds).toBeGreaterThanOrEqual(4);
    expect(medians[0]).toBeGreaterThanOrEqual(1);
    expect(medians[1]).toBeGreaterThanOrEqual(10);
    expect(medians[1]).toBeGreaterThan(medians[0]);
  });
});
