// docs/api.md lists every option of every layer, optimizer, schedule and callback as the types
// declare them: regenerated from the types here, it must equal the committed page.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without declarations
import { apiMarkdown } from '../scripts/api-docs.mjs';

describe('docs/api.md', () => {
  it('is current (run `npm run docs` after changing an option type)', () => {
    const page = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');
    expect(page).toBe((apiMarkdown as () => string)());
  }, 60_000);

  it('covers every factory with its options', () => {
    const page = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');
    for (const f of ['layers.dense', 'layers.conv2d', 'layers.batchNormalization', 'optimizers.adam', 'optimizers.sgd', 'schedules.cosineDecay', 'callbacks.earlyStopping', 'callbacks.progress']) {
      expect(page).toContain(`### ${f}\n`);
    }
    expect(page).toMatch(/\| `nesterov` \| `boolean` \|/);
    expect(page).toMatch(/\| `restoreBestWeights` \| `boolean` \|/);
    expect(page).toMatch(/\| `warmupSteps` \| `number` \|/);
  });
});
