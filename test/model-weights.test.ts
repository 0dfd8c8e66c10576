// Model.getWeights() / setWeights() (Keras 3 get_weights / set_weights) against TF.js: a
// tfjs-layers model imported into edgetune lists the arrays tfjs's own getWeights() holds, in
// Keras 3's order (model.weights walks the layers, each layer's trainable then non-trainable
// weights: a batch norm's moving statistics right after its gamma and beta), where TF.js, as
// Keras 2, lists every trainable weight of the model first; another tfjs model's weights set
// through setWeights give that model's predictions; a bad list is a ShapeError naming the layer
// and leaves the model as it was.
import { describe, expect, it } from 'vitest';
import { importTfjsLayersModel, ShapeError, tensor } from '../dist/node.js';
import { randomArray } from './support/harness';
import { maxAbsDiff } from './support/close';
import { tf, tfl } from './tfjs';

function tfjsCnn(seed: number): tfl.LayersModel {
  const m = tfl.sequential({ layers: [
    tfl.layers.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
    tfl.layers.batchNormalization(),
    tfl.layers.flatten(),
    tfl.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
  // Random values everywhere, BN moving statistics included (variance positive).
  m.setWeights(m.getWeights().map((w, i) => {
    const variance = m.weights[i].originalName.endsWith('moving_variance');
    return tf.tensor(randomArray(w.size, seed + i, variance ? 0.5 : -1, variance ? 2 : 1), w.shape);
  }));
  return m;
}

async function imported(m: tfl.LayersModel) {
  let saved: tf.io.ModelArtifacts | null = null;
  await m.save(tf.io.withSaveHandler(async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
  const a = saved! as tf.io.ModelArtifacts;
  const json = { format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['w.bin'], weights: a.weightSpecs! }] };
  return importTfjsLayersModel(json, async () => new Uint8Array(a.weightData as ArrayBuffer), 'model.json');
}

describe('Model.getWeights / setWeights', () => {
  it("list TF.js's arrays in Keras 3's order, and set another model's weights to its predictions", async () => {
    const a = tfjsCnn(1), b = tfjsCnn(50);
    const m = await imported(a);
    // TF.js's arrays by '<layer>/<weight>', and ours in our order with the same names.
    // (b's layers, named by tfjs's counters, take the names of a's layers at the same place.)
    const byName = (t: tfl.LayersModel) => {
      const rename = new Map(t.layers.map((l, i) => [l.name, a.layers[i].name]));
      return new Map(t.weights.map((w, i) => {
        const [layer, weight] = w.originalName.split('/');
        return [`${rename.get(layer)}/${weight}`, t.getWeights()[i].dataSync() as Float32Array];
      }));
    };
    const keys = m.layers.flatMap((l) => l.weightSpecs.map((s) => `${l.name}/${s.name}`));
    expect(keys.map((k) => k.split('/')[1])).toEqual(['kernel', 'bias', 'gamma', 'beta', 'moving_mean', 'moving_variance', 'kernel', 'bias']);
    const theirs = byName(a);
    expect([...theirs.keys()].sort()).toEqual([...keys].sort());
    const mine = m.getWeights();
    mine.forEach((w, i) => expect(Array.from(w), keys[i]).toEqual(Array.from(theirs.get(keys[i])!)));
    const other = byName(b);
    m.setWeights(keys.map((k) => other.get(k)!));
    const x = randomArray(4 * 8 * 8 * 2, 9, -1, 1);
    const want = b.predict(tf.tensor(x, [4, 8, 8, 2])) as tf.Tensor;
    expect(maxAbsDiff(m.predict(tensor(x, [4, 8, 8, 2])).data, want.dataSync() as Float32Array)).toBeLessThan(1e-5);
    // copies: changing what getWeights returned changes nothing
    const got = m.getWeights();
    got[0].fill(7);
    expect(m.getWeights()[0][0]).not.toBe(7);
  });

  it('a wrong count or size is a ShapeError naming the layer and weight; nothing changes', async () => {
    const m = await imported(tfjsCnn(3));
    const before = m.getWeights();
    const names = m.layers.filter((l) => l.weightSpecs.length).map((l) => l.name);
    expect(() => m.setWeights(before.slice(1))).toThrow(ShapeError);
    expect(() => m.setWeights(before.slice(1))).toThrow(new RegExp(`has ${before.length} weight arrays .*got ${before.length - 1}`));
    const bad = before.map((w) => w.map((v) => v + 1));
    bad[4] = new Float32Array(3); // the batch norm's moving mean has 4 values
    expect(() => m.setWeights(bad)).toThrow(new RegExp(`array 4 is layer ${names[1]}'s 'moving_mean' of shape \\[4\\] \\(4 values\\), got 3`));
    m.getWeights().forEach((w, i) => expect(Array.from(w), `array ${i}`).toEqual(Array.from(before[i])));
  });
});
