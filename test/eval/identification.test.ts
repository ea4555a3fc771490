import { describe, expect, it } from 'vitest';
import {
  FAILED_PROBE,
  cmcCurve,
  dirAtFpir,
  openSetConfusion,
  probeOutcome,
  probeOutcomes,
  type ProbeOutcome,
} from '../../src/eval/identification.js';

describe('probeOutcome', () => {
  it('ranks the true identity among the gallery scores', () => {
    expect(probeOutcome([0.1, 0.9, 0.5], 2)).toEqual({ rank: 2, topIndex: 1, topScore: 0.9, trueScore: 0.5 });
    expect(probeOutcome([0.1, 0.9, 0.5], 1)).toEqual({ rank: 1, topIndex: 1, topScore: 0.9, trueScore: 0.9 });
  });

  it('resolves ties pessimistically, whatever the column order', () => {
    expect(probeOutcome([0.7, 0.7, 0.1], 0)).toMatchObject({ rank: 2, topIndex: 1 });
    expect(probeOutcome([0.7, 0.7, 0.1], 1)).toMatchObject({ rank: 2, topIndex: 0 });
    // Constant scores: the true identity is last among equals.
    expect(probeOutcome([0.3, 0.3, 0.3, 0.3], 2).rank).toBe(4);
  });

  it('a probe whose identity is not in the gallery has rank Infinity but a top candidate', () => {
    expect(probeOutcome([0.2, 0.4], -1)).toEqual({ rank: Infinity, topIndex: 1, topScore: 0.4, trueScore: null });
  });

  it('reads rows out of a row-major matrix', () => {
    const m = { rows: 2, cols: 3, data: Float64Array.from([0.1, 0.2, 0.3, 0.9, 0.8, 0.7]) };
    expect(probeOutcomes(m, [0, 0]).map((o) => o.rank)).toEqual([3, 1]);
    expect(() => probeOutcomes(m, [0])).toThrow(/2 probes/);
  });
});

describe('cmcCurve', () => {
  it('accumulates ranks; misses never count', () => {
    const cmc = cmcCurve([1, 1, 2, 5, Infinity], 5);
    expect(cmc.ranks).toEqual([1, 2, 3, 4, 5]);
    expect(cmc.rates).toEqual([0.4, 0.6, 0.6, 0.6, 0.8]);
    expect(cmc.probes).toBe(5);
  });

  it('ranks past maxRank only count as misses within the curve', () => {
    expect(cmcCurve([30, 1], 20).rates[19]).toBe(0.5);
  });
});

const outcome = (rank: number, topScore: number): ProbeOutcome => ({ rank, topIndex: 0, topScore, trueScore: rank === 1 ? topScore : null });

describe('open set', () => {
  const mated = [outcome(1, 0.9), outcome(1, 0.6), outcome(2, 0.8), outcome(1, 0.4), { ...FAILED_PROBE }];
  const nonMated = [outcome(Infinity, 0.7), outcome(Infinity, 0.5), outcome(Infinity, 0.3), outcome(Infinity, 0.2), { ...FAILED_PROBE }];

  it('counts the five accept/reject outcomes at a threshold', () => {
    const c = openSetConfusion(mated, nonMated, 0.55);
    expect(c.mated).toEqual({ correctAccept: 2, wrongIdentityAccept: 1, reject: 2, total: 5 });
    expect(c.nonMated).toEqual({ falseAccept: 1, correctReject: 4, total: 5 });
  });

  it('DIR at FPIR: threshold from the non-mated top scores, failures rejected but counted', () => {
    // N = 5, target 0.2 -> 1 false accept allowed; pivot = 2nd highest non-mated = 0.5;
    // next higher among all top scores = 0.6 -> threshold 0.55.
    const r = dirAtFpir(mated, nonMated, 0.2);
    expect(r.threshold).toBeCloseTo(0.55, 12);
    expect(r.fpir).toBe(0.2);
    expect(r.dir).toBe(0.4); // 0.9 and 0.6 correct at rank 1; 0.8 is a wrong identity
  });

  it('is null when non-mated probes are too few for the target', () => {
    const r = dirAtFpir(mated, nonMated, 0.01);
    expect(r.dir).toBeNull();
    expect(r.reason).toMatch(/at least 100 non-mated probes, have 5/);
    expect(dirAtFpir(mated, [], 0.1).reason).toMatch(/0 non-mated/);
  });
});
