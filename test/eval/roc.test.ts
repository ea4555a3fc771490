import { describe, expect, it } from 'vitest';
import { equalErrorRate, rocAuc, rocCurve } from '../../src/eval/roc.js';
import { createRng } from '../../src/eval/rng.js';

/** Independent AUC: Mann–Whitney U / (P * N), a tie counting one half. O(P * N). */
function mannWhitneyAuc(scores: number[], same: boolean[]): number {
  const pos = scores.filter((_, i) => same[i]);
  const neg = scores.filter((_, i) => !same[i]);
  let u = 0;
  for (const p of pos) for (const n of neg) u += p > n ? 1 : p === n ? 0.5 : 0;
  return u / (pos.length * neg.length);
}

describe('rocCurve', () => {
  it('makes one point per distinct score, ties as a single diagonal step', () => {
    // scores: 0.9 G, 0.8 G + 0.8 I (tie), 0.3 I
    const roc = rocCurve([0.9, 0.8, 0.8, 0.3], [true, true, false, false]);
    expect(roc.thresholds).toEqual([Infinity, 0.9, 0.8, 0.3]);
    expect(roc.tpr).toEqual([0, 0.5, 1, 1]);
    expect(roc.fpr).toEqual([0, 0, 0.5, 1]);
    expect(roc.truePositives).toEqual([0, 1, 2, 2]);
    expect(roc.falsePositives).toEqual([0, 0, 1, 2]);
    // Area: 0.5 * (0.5 + 1) / 2 + 0.5 * 1 = 0.875; Mann–Whitney: (1 + 1 + 1 + 0.5) / 4.
    expect(rocAuc(roc)).toBeCloseTo(0.875, 12);
  });

  it('all-same scores give the diagonal: AUC 0.5, EER 0.5', () => {
    const roc = rocCurve([0.4, 0.4, 0.4, 0.4, 0.4], [true, false, true, false, false]);
    expect(roc.fpr).toEqual([0, 1]);
    expect(roc.tpr).toEqual([0, 1]);
    expect(rocAuc(roc)).toBe(0.5);
    expect(equalErrorRate(roc)).toEqual({ rate: 0.5, threshold: 0.4 });
  });

  it('perfect separation: AUC 1, EER 0 at the lowest genuine score', () => {
    const roc = rocCurve([0.9, 0.7, 0.2, 0.1], [true, true, false, false]);
    expect(rocAuc(roc)).toBe(1);
    expect(equalErrorRate(roc)).toEqual({ rate: 0, threshold: 0.7 });
  });

  it('inverted separation: AUC 0, EER 1', () => {
    const roc = rocCurve([0.9, 0.7, 0.2, 0.1], [false, false, true, true]);
    expect(rocAuc(roc)).toBe(0);
    expect(equalErrorRate(roc).rate).toBe(1);
  });

  it('interpolates the EER inside a segment', () => {
    // G: 0.9, 0.5; I: 0.6, 0.1. Points: (0,0) (0,.5) (.5,.5) (.5,1) (1,1).
    // FPR - FNR: -1, -0.5, 0, ... -> crosses exactly at (0.5, 0.5), threshold 0.6.
    const roc = rocCurve([0.9, 0.5, 0.6, 0.1], [true, true, false, false]);
    expect(equalErrorRate(roc)).toEqual({ rate: 0.5, threshold: 0.6 });
    // 3 genuine, 2 impostor with a tie G/I at 0.5: (0,0) (0,1/3) (0.5,1) (1,1).
    // Segment (0,1/3)->(0.5,1): d goes -2/3 -> 0.5, alpha = 4/7, EER = 2/7.
    const roc2 = rocCurve([0.9, 0.5, 0.5, 0.5, 0.1], [true, true, false, true, false]);
    expect(equalErrorRate(roc2).rate).toBeCloseTo(2 / 7, 12);
  });

  it('matches the Mann–Whitney AUC on random data with many ties', () => {
    const rng = createRng(7);
    for (let trial = 0; trial < 20; trial++) {
      const n = 20 + rng.int(200);
      // Scores quantised to 12 levels force ties; genuine shifted upward.
      const same = Array.from({ length: n }, () => rng.next() < 0.4);
      same[0] = true;
      same[1] = false;
      const scores = same.map((s) => Math.round((rng.next() + (s ? 0.3 : 0)) * 8) / 8);
      expect(rocAuc(rocCurve(scores, same))).toBeCloseTo(mannWhitneyAuc(scores, same), 12);
    }
  });

  it('rejects mismatched lengths, non-finite scores and one-class input', () => {
    expect(() => rocCurve([0.1], [true, false])).toThrow(/differ in length/);
    expect(() => rocCurve([NaN, 0.2], [true, false])).toThrow(/not a finite/);
    expect(() => rocCurve([0.1, 0.2], [true, true])).toThrow(/both classes/);
  });
});
