import { describe, expect, it } from 'vitest';
import { ExitCode, FacectlError } from '../../src/errors.js';
import type { FolderDataset } from '../../src/eval/datasets.js';
import { evaluateIdentification } from '../../src/eval/evaluate-identification.js';
import { evaluateVerification, scorePairs } from '../../src/eval/evaluate-verification.js';
import { generatePairs } from '../../src/eval/pair-generation.js';
import { createRng } from '../../src/eval/rng.js';
import { averageTemplate, collectFailures, cosineSimilarity, type EmbeddingResult } from '../../src/eval/scoring.js';
import { makeIdentificationSplit } from '../../src/eval/splits.js';

const DIM = 16;

/** Synthetic world: each identity has a random unit centre; each image is centre + noise, normalised. */
function world(sizes: number[], noise: number, failEvery = 0) {
  const rng = createRng(123);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const unit = (v: Float32Array) => {
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  const identities = sizes.map((n, i) => ({ name: `p${i}`, images: Array.from({ length: n }, (_, k) => `p${i}/${k}.jpg`) }));
  const ds: FolderDataset = { root: '/w', name: 'w', identities, emptyIdentities: [], ignoredEntries: [], imageCount: sizes.reduce((a, b) => a + b, 0) };
  const results = new Map<string, EmbeddingResult>();
  let count = 0;
  for (const id of identities) {
    const centre = unit(Float32Array.from({ length: DIM }, gauss));
    for (const img of id.images) {
      count++;
      if (failEvery > 0 && count % failEvery === 0) results.set(img, { ok: false, reason: 'no face found' });
      else results.set(img, { ok: true, embedding: unit(centre.map((c) => c + noise * gauss())) });
    }
  }
  return { ds, lookup: (img: string) => results.get(img), results };
}

describe('scoring helpers', () => {
  it('cosine similarity and averaged templates', () => {
    expect(cosineSimilarity(Float32Array.from([1, 0]), Float32Array.from([0, 2]))).toBe(0);
    expect(cosineSimilarity(Float32Array.from([1, 1]), Float32Array.from([2, 2]))).toBeCloseTo(1, 6);
    expect(() => cosineSimilarity(Float32Array.from([1]), Float32Array.from([1, 0]))).toThrow(/sizes differ/);
    const t = averageTemplate([
      { ok: true, embedding: Float32Array.from([1, 0]) },
      { ok: false, reason: 'no face found' },
      { ok: true, embedding: Float32Array.from([0, 1]) },
    ])!;
    expect(t[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(t[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(averageTemplate([{ ok: false, reason: 'x' }])).toBeNull();
  });
});

describe('evaluateVerification', () => {
  it('scores failed pairs -1 and reports all pairs and valid pairs only', () => {
    const { ds, lookup, results } = world(Array.from({ length: 30 }, () => 5), 0.15, 17);
    const protocol = generatePairs(ds, { seed: 2 });
    const { report, scored } = evaluateVerification(protocol, lookup);
    const failedImages = new Set(collectFailures(results.keys(), lookup).map((f) => f.image));
    expect(failedImages.size).toBeGreaterThan(0);
    protocol.pairs.forEach((p, i) => {
      const failed = failedImages.has(p.a) || failedImages.has(p.b);
      expect(scored.failed[i]).toBe(failed);
      if (failed) expect(scored.scores[i]).toBe(-1);
    });
    expect(report.failedPairs).toBe(scored.failed.filter(Boolean).length);
    expect(report.allPairs.pairs).toBe(protocol.pairs.length);
    expect(report.validPairsOnly!.pairs).toBe(protocol.pairs.length - report.failedPairs);
    // Clean synthetic data separates well; failures can only hurt the all-pairs figure.
    expect(report.validPairsOnly!.rocAuc).toBeGreaterThan(0.95);
    expect(report.allPairs.rocAuc).toBeLessThan(report.validPairsOnly!.rocAuc);
    expect(report.allPairs.kFold!.folds).toHaveLength(10);
    expect(report.protocol.pairs).toBe(protocol.pairs.length);
    expect(report.failureHandling).toMatch(/scored -1/);
  });

  it('no pair with a face on both sides is NO_FACE (exit 4), as identification without a gallery face, not 50 % accuracy', () => {
    const { ds, results } = world(Array.from({ length: 6 }, () => 3), 0.1);
    const protocol = generatePairs(ds, { seed: 2 });
    // Every other photo without a face, so no pair keeps both: the first photo of each pair fails.
    const noFace = new Set(protocol.pairs.map((p) => p.a));
    const lookup = (img: string): EmbeddingResult | undefined => (noFace.has(img) ? { ok: false, reason: 'no face found' } : results.get(img));
    let err: unknown;
    try {
      evaluateVerification(protocol, lookup);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.NO_FACE);
    expect((err as FacectlError).message).toBe(
      `verification: none of the ${protocol.pairs.length} pairs has a face on both sides (first: ${protocol.pairs[0]!.a}: no face found); use --no-verification for identification alone`,
    );
    // One pair with two faces is enough to measure (the valid-pairs view says what it can).
    const one = protocol.pairs.find((p) => p.same)!;
    const lookupOne = (img: string) => (img === one.a || img === one.b ? results.get(img) : lookup(img));
    expect(evaluateVerification(protocol, lookupOne).report.failedPairs).toBeLessThan(protocol.pairs.length);
  });

  it('throws when an image was never processed', () => {
    const { ds } = world([3, 3], 0.1);
    expect(() => scorePairs(generatePairs(ds, { folds: 1 }), () => undefined)).toThrow(/no embedding result/);
  });
});

describe('evaluateIdentification', () => {
  it('rank-1 equals an independent nearest-template search; failures are misses and rejects', () => {
    const { ds, lookup } = world(Array.from({ length: 40 }, (_, i) => 2 + (i % 4)), 0.9, 13);
    const split = makeIdentificationSplit(ds, { seed: 5, gallerySize: 1 });
    const r = evaluateIdentification(split, lookup, { maxRank: 10 });

    // Independent closed-set rank-1: nearest template with strict >, templates from lookup directly.
    const templates = split.gallery
      .map((g) => ({ id: g.identity, t: averageTemplate(g.images.map((img) => lookup(img)!)) }))
      .filter((x) => x.t !== null);
    let hits = 0;
    for (const probe of split.matedProbes) {
      const e = lookup(probe.image)!;
      if (!e.ok) continue;
      const sims = templates.map((x) => cosineSimilarity(x.t!, e.embedding));
      const trueIdx = templates.findIndex((x) => x.id === probe.identity);
      if (trueIdx >= 0 && sims.every((s, j) => j === trueIdx || s < sims[trueIdx]!)) hits++;
    }
    expect(r.closedSet.probes).toBe(split.matedProbes.length);
    expect(r.closedSet.rank1).toBeCloseTo(hits / split.matedProbes.length, 12);
    expect(r.closedSetValidProbesOnly!.probes).toBe(split.matedProbes.length - r.failedMatedProbes);
    expect(r.closedSetValidProbesOnly!.rank1).toBeGreaterThanOrEqual(r.closedSet.rank1);
    expect(r.closedSet.cmc.rates).toHaveLength(10);
    expect(r.closedSet.rank5).toBe(r.closedSet.cmc.rates[4]);
    expect(r.enrolledIdentities + r.failedTemplates.length).toBe(split.gallery.length);

    // Open set: this split has too few non-mated probes to measure FPIR = 1% (the next test measures it).
    const open = r.openSet!;
    expect(open.dirAtFpir).toHaveLength(2);
    const at1 = open.dirAtFpir[0]!;
    expect(split.nonMatedProbes).toHaveLength(16);
    expect(at1).toMatchObject({ targetFpir: 0.01, dir: null, fpir: null, threshold: null, reason: 'needs at least 100 non-mated probes, have 16' });
  });

  it('open set at FPIR = 1%: with >= 100 non-mated probes, at most 1% are accepted, as counted here', () => {
    // 60 identities of 5 photos, 40% held out: 120 non-mated probes (some with no face: never accepted).
    const { ds, lookup } = world(Array.from({ length: 60 }, () => 5), 0.9, 11);
    const split = makeIdentificationSplit(ds, { seed: 7, gallerySize: 1, openSetFraction: 0.4 });
    expect(split.nonMatedProbes.length).toBeGreaterThanOrEqual(100);
    const r = evaluateIdentification(split, lookup);
    const at1 = r.openSet!.dirAtFpir[0]!;
    expect(at1.targetFpir).toBe(0.01);
    expect(at1.reason).toBeUndefined();
    expect(at1.dir).not.toBeNull();
    expect(at1.fpir!).toBeLessThanOrEqual(0.01);

    // Independent count: a non-mated probe is accepted when its best template scores >= the threshold.
    const templates = split.gallery.map((g) => averageTemplate(g.images.map((img) => lookup(img)!))).filter((t) => t !== null);
    const best = split.nonMatedProbes.map((p) => {
      const e = lookup(p.image)!;
      return e.ok ? Math.max(...templates.map((t) => cosineSimilarity(t, e.embedding))) : -Infinity;
    });
    expect(best.filter((s) => s === -Infinity).length).toBeGreaterThan(0); // failed probes are in the count's N
    const falseAccepts = best.filter((s) => s >= at1.threshold!).length;
    expect(at1.falseAccepts).toBe(falseAccepts);
    expect(at1.fpir).toBe(falseAccepts / split.nonMatedProbes.length);
    expect(at1.nonMatedProbes).toBe(split.nonMatedProbes.length);
    // And not stricter than it must be (a threshold of 1 would accept none and pass the lines above): at the
    // next non-mated score below it, more than 1% would be accepted.
    const below = Math.max(...best.filter((s) => s < at1.threshold!));
    expect(best.filter((s) => s >= below).length).toBeGreaterThan(Math.floor(0.01 * split.nonMatedProbes.length));
  });

  it('the open-set confusion uses the given threshold and covers every probe', () => {
    const { ds, lookup } = world(Array.from({ length: 30 }, () => 4), 0.5);
    const split = makeIdentificationSplit(ds, { seed: 1, openSetFraction: 0.2 });
    const r = evaluateIdentification(split, lookup, { threshold: 0.5 });
    const c = r.openSet!.confusion!;
    expect(c.threshold).toBe(0.5);
    expect(r.openSet!.thresholdSource).toBe('given threshold');
    expect(c.mated.correctAccept + c.mated.wrongIdentityAccept + c.mated.reject).toBe(split.matedProbes.length);
    expect(c.nonMated.falseAccept + c.nonMated.correctReject).toBe(split.nonMatedProbes.length);
  });

  it('no gallery photo with a face: a no-face error (exit 4) naming the first failure, not an internal error', () => {
    const { ds, results } = world(Array.from({ length: 10 }, () => 3), 0.1);
    const split = makeIdentificationSplit(ds, { seed: 3 });
    const gallery = new Set(split.gallery.flatMap((g) => g.images));
    const lookup = (img: string) => (gallery.has(img) ? { ok: false as const, reason: 'no face found' } : results.get(img));
    let err: unknown;
    try {
      evaluateIdentification(split, lookup);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.NO_FACE);
    expect((err as FacectlError).message).toMatch(
      new RegExp(`no photo of the ${split.gallery.length} gallery identities gave a face \\(first: ${split.gallery[0]!.images[0]}: no face found\\)`),
    );
  });
});
