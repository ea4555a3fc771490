import { describe, expect, it } from 'vitest';
import { clusteringScores } from '../../src/cluster/metrics.js';

describe('clusteringScores', () => {
  it('BCubed and pairwise scores of a small case worked out by hand', () => {
    // Groups {a1 a2 b1} {b2} {c1}; people a: 2 items, b: 2, c: 1.
    const s = clusteringScores([0, 0, 0, 1, 2], ['a', 'a', 'b', 'b', 'c']);
    // precision per item: a1 2/3, a2 2/3, b1 1/3, b2 1, c1 1 → 11/3 / 5
    expect(s.bcubedPrecision).toBeCloseTo(11 / 15, 12);
    // recall per item: a1 1, a2 1, b1 1/2, b2 1/2, c1 1 → 4 / 5
    expect(s.bcubedRecall).toBeCloseTo(4 / 5, 12);
    expect(s.bcubedF1).toBeCloseTo((2 * (11 / 15) * (4 / 5)) / (11 / 15 + 4 / 5), 12);
    // pairs put together: (a1,a2) right, (a1,b1) and (a2,b1) wrong; true pairs (a1,a2), (b1,b2)
    expect(s.pairPrecision).toBeCloseTo(1 / 3, 12);
    expect(s.pairRecall).toBeCloseTo(1 / 2, 12);
    expect([s.items, s.groups, s.classes]).toEqual([5, 3, 3]);
  });

  it('perfect grouping scores 1; everyone alone has full precision and no pairwise recall', () => {
    const truth = ['x', 'x', 'y', 'z', 'z', 'z'];
    expect(clusteringScores([5, 5, 7, 1, 1, 1], truth)).toMatchObject({ bcubedPrecision: 1, bcubedRecall: 1, pairPrecision: 1, pairRecall: 1 });
    const alone = clusteringScores([0, 1, 2, 3, 4, 5], truth);
    expect(alone.bcubedPrecision).toBe(1);
    expect(alone.pairRecall).toBe(0);
    expect(() => clusteringScores([0], ['a', 'b'])).toThrow(RangeError);
  });

  it('mixed label types: 1 and "1" are one label in every count, so the scores stay in [0, 1]', () => {
    // Before, the group counts kept 1 and '1' apart (Map keys) while the combined key merged them:
    // precision 2 for both items.
    const s = clusteringScores([1, '1'], ['x', 'x']);
    expect(s).toMatchObject({ groups: 1, classes: 1, bcubedPrecision: 1, bcubedRecall: 1, pairPrecision: 1, pairRecall: 1 });
    expect(clusteringScores([0, 0], [7, '7'])).toMatchObject({ classes: 1, bcubedRecall: 1, bcubedPrecision: 1 });
  });
});
