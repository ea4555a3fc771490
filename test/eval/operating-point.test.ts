import { describe, expect, it } from 'vitest';
import { calibrateThreshold, thresholdAtFalseAcceptRate, tprAtFpr } from '../../src/eval/operating-point.js';
import { rocCurve } from '../../src/eval/roc.js';
import { createRng } from '../../src/eval/rng.js';

describe('thresholdAtFalseAcceptRate', () => {
  it('allows floor(target * N) false accepts and places the threshold mid-gap', () => {
    // 10 impostors 0.0..0.9; target 0.2 -> 2 allowed; pivot = 3rd highest = 0.7; next higher score = 0.8.
    const neg = Array.from({ length: 10 }, (_, i) => i / 10);
    const op = thresholdAtFalseAcceptRate(neg, 0.2);
    expect(op.allowedFalseAccepts).toBe(2);
    expect(op.threshold).toBeCloseTo(0.75, 12);
    expect(op.falseAccepts).toBe(2);
    expect(op.achievedRate).toBe(0.2);
    expect(op.reliable).toBe(true);
  });

  it('uses positives between the pivot and the next negative, so no genuine score is lost', () => {
    const op = thresholdAtFalseAcceptRate([0.1, 0.2, 0.3, 0.9], 0.25, [0.31, 0.5, 0.95]);
    // allowed 1; pivot 0.3; next higher among all = 0.31 -> threshold 0.305; accepts 0.31, 0.5, 0.95.
    expect(op.threshold).toBeCloseTo(0.305, 12);
    expect(op.truePositives).toBe(3);
    expect(op.falseAccepts).toBe(1);
  });

  it('ties at the pivot are all rejected', () => {
    const op = thresholdAtFalseAcceptRate([0.5, 0.5, 0.5, 0.1], 0.5, [0.5]);
    // allowed 2, pivot (3rd highest) = 0.5: accepting 0.5 would take 3 impostors, so reject all at 0.5.
    expect(op.falseAccepts).toBe(0);
    expect(op.threshold).toBeGreaterThan(0.5);
    expect(op.truePositives).toBe(0);
  });

  it('counts unscored negatives in N, and accepts everything when allowed', () => {
    const op = thresholdAtFalseAcceptRate([0.4], 0.5, [0.2], 1);
    expect(op.negatives).toBe(2);
    expect(op.allowedFalseAccepts).toBe(1);
    expect(op.threshold).toBeLessThan(0.2);
    expect(op.truePositives).toBe(1);
  });

  it('rejects targets outside (0, 1)', () => {
    expect(() => thresholdAtFalseAcceptRate([0.1], 0)).toThrow(/\(0, 1\)/);
    expect(() => thresholdAtFalseAcceptRate([0.1], 1)).toThrow(/\(0, 1\)/);
  });
});

describe('tprAtFpr', () => {
  it('equals the highest ROC TPR with FPR <= target on random tied data', () => {
    const rng = createRng(11);
    for (let trial = 0; trial < 30; trial++) {
      const n = 200 + rng.int(300);
      const same = Array.from({ length: n }, (_, i) => i % 2 === 0);
      const scores = same.map((s) => Math.round((rng.next() + (s ? 0.4 : 0)) * 40) / 40);
      const roc = rocCurve(scores, same);
      for (const target of [0.1, 0.05, 0.01]) {
        const result = tprAtFpr(
          scores.filter((_, i) => same[i]),
          scores.filter((_, i) => !same[i]),
          target,
        );
        const best = Math.max(...roc.tpr.filter((_, k) => roc.fpr[k]! <= target + 1e-12));
        expect(result.tpr).toBeCloseTo(best, 12);
        expect(result.fpr!).toBeLessThanOrEqual(target);
      }
    }
  });

  it('is null with a reason when there are fewer than 1/target impostors', () => {
    const r = tprAtFpr([0.9, 0.8], Array.from({ length: 999 }, (_, i) => i / 1000), 1e-3);
    expect(r.tpr).toBeNull();
    expect(r.reason).toMatch(/at least 1000 impostor pairs, have 999/);
    const ok = tprAtFpr([0.9, 0.8], Array.from({ length: 1000 }, (_, i) => i / 2000), 1e-3);
    expect(ok.tpr).toBe(1);
    expect(ok.falsePositives).toBe(1);
  });
});

describe('calibrateThreshold', () => {
  it('reports the counts it rests on and the TPR at the threshold', () => {
    const impostors = Array.from({ length: 2000 }, (_, i) => i / 2000); // 0 .. 0.9995
    const c = calibrateThreshold(impostors, 1e-3, [0.99, 0.9991, 1]);
    expect(c.allowedFalseAccepts).toBe(2);
    expect(c.falseAccepts).toBe(2);
    expect(c.threshold).toBeGreaterThan(0.9985);
    expect(c.threshold).toBeLessThan(0.999);
    expect(c.tpr).toBeCloseTo(2 / 3, 12);
    expect(c.note).toMatch(/2 of 2000 impostor pairs accepted/);
  });

  it('says when the impostors are too few for the target', () => {
    const c = calibrateThreshold([0.1, 0.2, 0.3], 1e-3);
    expect(c.reliable).toBe(false);
    expect(c.falseAccepts).toBe(0);
    expect(c.tpr).toBeNull();
    expect(c.note).toMatch(/needs at least 1000/);
  });
});
