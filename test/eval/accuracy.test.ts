import { describe, expect, it } from 'vitest';
import { bestAccuracyThreshold, kFoldAccuracy } from '../../src/eval/accuracy.js';
import { EDGE_MARGIN } from '../../src/eval/operating-point.js';
import { createRng } from '../../src/eval/rng.js';

/** Brute force: every midpoint / outer threshold, accuracy counted pair by pair; middle of the optimal ones. */
function bruteBest(scores: number[], same: boolean[]): number {
  const v = [...new Set(scores)].sort((a, b) => a - b);
  const cands = [v[0]! - EDGE_MARGIN, ...v.slice(1).map((x, i) => (v[i]! + x) / 2), v[v.length - 1]! + EDGE_MARGIN];
  const acc = cands.map((t) => scores.filter((s, i) => s >= t === same[i]).length);
  const max = Math.max(...acc);
  const optimal = cands.filter((_, i) => acc[i] === max);
  return optimal[Math.floor((optimal.length - 1) / 2)]!;
}

describe('bestAccuracyThreshold', () => {
  it('perfect separation: 100% at the midpoint between classes', () => {
    const r = bestAccuracyThreshold([0.1, 0.2, 0.6, 0.9], [false, false, true, true]);
    expect(r.accuracy).toBe(1);
    expect(r.threshold).toBeCloseTo(0.4, 12);
  });

  it('inverted separation: best is to predict one class for all', () => {
    const r = bestAccuracyThreshold([0.1, 0.2, 0.6, 0.9], [true, true, false, false]);
    expect(r.accuracy).toBe(0.5);
    // Correct counts per cut c0..c4 = 2, 1, 0, 1, 2 -> optimal {accept all, reject all} -> lower middle = accept all.
    expect(r.threshold).toBeCloseTo(0.1 - EDGE_MARGIN, 12);
  });

  it('all-same scores: accept all or reject all, whichever class is larger', () => {
    expect(bestAccuracyThreshold([0.5, 0.5, 0.5], [true, true, false]).threshold).toBeLessThan(0.5);
    expect(bestAccuracyThreshold([0.5, 0.5, 0.5], [true, false, false]).threshold).toBeGreaterThan(0.5);
  });

  it('ties between optimal cuts take the middle one', () => {
    // G 0.8, I 0.6, G 0.4, I 0.2: cut accuracies c0..c4 = 2,3,2,3,2 -> optimal {1, 3} -> cut 1 = (0.2 + 0.4) / 2.
    const r = bestAccuracyThreshold([0.8, 0.6, 0.4, 0.2], [true, false, true, false]);
    expect(r.accuracy).toBe(0.75);
    expect(r.threshold).toBeCloseTo(0.3, 12);
  });

  it('matches brute force on random tied data', () => {
    const rng = createRng(3);
    for (let t = 0; t < 40; t++) {
      const n = 1 + rng.int(60);
      const same = Array.from({ length: n }, () => rng.next() < 0.5);
      const scores = same.map((s) => Math.round((rng.next() + (s ? 0.25 : 0)) * 10) / 10);
      const r = bestAccuracyThreshold(scores, same);
      expect(r.threshold).toBeCloseTo(bruteBest(scores, same), 12);
      expect(r.correct).toBe(scores.filter((s, i) => s >= r.threshold === same[i]).length);
    }
  });
});

describe('kFoldAccuracy', () => {
  /** Brute force 10-fold: per fold, the brute-force threshold on the other folds, applied to the fold. */
  function bruteKFold(scores: number[], same: boolean[], folds: number[], k: number) {
    const accs: number[] = [];
    for (let f = 0; f < k; f++) {
      const test = folds.flatMap((g, i) => (g === f ? [i] : []));
      if (test.length === 0) continue;
      const train = folds.flatMap((g, i) => (g !== f ? [i] : []));
      const t = bruteBest(train.map((i) => scores[i]!), train.map((i) => same[i]!));
      accs.push(test.filter((i) => scores[i]! >= t === same[i]).length / test.length);
    }
    const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
    const sd = Math.sqrt(accs.reduce((a, x) => a + (x - mean) ** 2, 0) / (accs.length - 1));
    return { accs, mean, sd };
  }

  it('matches a brute-force 10-fold protocol on random data', () => {
    const rng = createRng(5);
    for (let t = 0; t < 10; t++) {
      const n = 100 + rng.int(200);
      const same = Array.from({ length: n }, () => rng.next() < 0.5);
      const scores = same.map((s) => Math.round((rng.next() + (s ? 0.5 : 0)) * 50) / 50);
      const folds = Array.from({ length: n }, (_, i) => Math.floor((i * 10) / n));
      const r = kFoldAccuracy(scores, same, folds, 10);
      const b = bruteKFold(scores, same, folds, 10);
      expect(r.folds.map((f) => f.accuracy)).toEqual(b.accs);
      expect(r.mean).toBeCloseTo(b.mean, 12);
      expect(r.sampleStd).toBeCloseTo(b.sd, 12);
      expect(r.standardError).toBeCloseTo(b.sd / Math.sqrt(10), 12);
    }
  });

  it('hand case: one fold whose held-out threshold misclassifies', () => {
    // Fold 0: G 0.9, I 0.1. Fold 1: G 0.6, I 0.7 (inverted). Fold 2: G 0.8, I 0.3.
    const scores = [0.9, 0.1, 0.6, 0.7, 0.8, 0.3];
    const same = [true, false, true, false, true, false];
    const r = kFoldAccuracy(scores, same, [0, 0, 1, 1, 2, 2], 3);
    // Train on folds 0,2 -> threshold (0.3 + 0.8) / 2 = 0.55: fold 1 gets G 0.6 right, I 0.7 wrong = 0.5.
    expect(r.folds.map((f) => f.accuracy)).toEqual([1, 0.5, 1]);
    expect(r.folds[1]!.threshold).toBeCloseTo(0.55, 12);
    expect(r.mean).toBeCloseTo(2.5 / 3, 12);
    const sd = Math.sqrt(((1 / 6) ** 2 * 2 + (1 / 3) ** 2) / 2);
    expect(r.sampleStd).toBeCloseTo(sd, 12);
    expect(r.populationStd).toBeCloseTo(Math.sqrt(((1 / 6) ** 2 * 2 + (1 / 3) ** 2) / 3), 12);
  });

  it('handles tiny folds: fewer pairs than folds, and a fold with one class', () => {
    // 3 pairs over 10 folds: folds 0, 4, 7 non-empty, each a single pair (one class only).
    const r = kFoldAccuracy([0.9, 0.2, 0.8], [true, false, true], [0, 4, 7], 10);
    expect(r.emptyFolds).toEqual([1, 2, 3, 5, 6, 8, 9]);
    expect(r.folds.map((f) => f.fold)).toEqual([0, 4, 7]);
    // Held-out fold 0 (G 0.9): train {I 0.2, G 0.8} -> threshold 0.5 -> right. Fold 4 (I 0.2): train {G .9, G .8}
    // -> accept all (below 0.8) -> 0.2 < 0.8 - eps is rejected -> right. Fold 7 (G 0.8): train {G .9, I .2} -> 0.55 -> right.
    expect(r.folds.map((f) => f.accuracy)).toEqual([1, 1, 1]);
    expect(r.mean).toBe(1);
    expect(r.sampleStd).toBe(0);
  });

  it('is null with a reason when fewer than two folds have pairs', () => {
    const r = kFoldAccuracy([0.9, 0.2], [true, false], [3, 3], 10);
    expect(r.mean).toBeNull();
    expect(r.reason).toMatch(/at least 2 non-empty folds/);
  });

  it('rejects fold numbers out of range', () => {
    expect(() => kFoldAccuracy([0.9, 0.2], [true, false], [0, 10], 10)).toThrow(/outside 0..9/);
  });
});
