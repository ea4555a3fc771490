/**
 * The registry's default thresholds (and the ensemble's weights) are the ones bench/fit-ensemble.ts fitted
 * on LFW View 1 and wrote to bench/results/view1-fit.json: a hand edit of either, or a refit not copied
 * over, fails here. The fit itself embeds ~3,400 LFW photos, so it is a bench, not a test.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_EMBEDDERS, DEFAULT_EMBEDDER } from '../../src/models/registry.js';
import { repoRoot } from '../helpers/shared.js';

const fit = JSON.parse(readFileSync(path.join(repoRoot, 'bench/results/view1-fit.json'), 'utf8')) as {
  thresholds: Record<string, { verify: number; login: number }>;
  default: string;
  ensembles: Record<string, { members: string[]; flip: boolean; weights: number[] }>;
};

describe('default thresholds come from the View 1 fit', () => {
  for (const [id, t] of Object.entries(fit.thresholds)) {
    it(`${id}: verify ${t.verify} (FPR 1e-3), login ${t.login} (FPIR 1e-2), provenance says View 1`, () => {
      const spec = BUILTIN_EMBEDDERS.find((s) => s.id === id);
      expect(spec, id).toBeDefined();
      expect(spec!.thresholds.verify.value).toBe(t.verify);
      expect(spec!.thresholds.login.value).toBe(t.login);
      expect(spec!.thresholds.verify.provenance).toMatch(/View 1 \(pairsDevTrain\).*FPR 1e-3/);
      expect(spec!.thresholds.login.provenance).toMatch(/View 1 \(pairsDevTrain\).*FPIR 1e-2/);
      // login is 1:N against a whole gallery, so it must be the stricter of the two
      expect(t.login).toBeGreaterThan(t.verify);
    });
  }
});

describe('the ensembles are the ones fitted, and the default is the fit’s choice', () => {
  for (const [id, e] of Object.entries(fit.ensembles)) {
    it(`${id}: members, weights and flip as in the View 1 fit; its dimension is the sum of its members`, () => {
      const spec = BUILTIN_EMBEDDERS.find((s) => s.id === id)!;
      expect(spec.members!.map((m) => m.id)).toEqual(e.members);
      expect(spec.members!.map((m) => m.weight)).toEqual(e.weights);
      expect(spec.flip).toBe(e.flip);
      const dims = spec.members!.map((m) => BUILTIN_EMBEDDERS.find((s) => s.id === m.id)!.dim);
      expect(spec.dim).toBe(dims.reduce((a, b) => a + b, 0));
    });
  }

  it(`DEFAULT_EMBEDDER is ${fit.default}, the best on View 1 DIR @ FPIR 1 % with accuracy no lower than dlib's`, () => {
    expect(DEFAULT_EMBEDDER).toBe(fit.default);
  });
});
