import { describe, expect, it } from 'vitest';
import { chineseWhispers, clusterVectors, similarityGraph } from '../../src/cluster/chinese-whispers.js';
import { createRng } from '../../src/eval/rng.js';
import { l2normalize } from '../../src/pipeline/vector.js';

const DIM = 32;
/** `perGroup` noisy unit vectors around each of `groups` random directions, then `loners` random ones. */
function blobs(groups: number, perGroup: number, loners: number, noise: number, seed = 3) {
  const rng = createRng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rng.next() + 1e-12)) * Math.cos(2 * Math.PI * rng.next());
  const random = () => l2normalize(Float32Array.from({ length: DIM }, gauss));
  const rows: Float32Array[] = [];
  const truth: number[] = [];
  for (let g = 0; g < groups; g++) {
    const centre = random();
    for (let i = 0; i < perGroup; i++) {
      rows.push(l2normalize(Float32Array.from(centre, (x) => x + noise * gauss())));
      truth.push(g);
    }
  }
  for (let i = 0; i < loners; i++) {
    rows.push(random());
    truth.push(groups + i);
  }
  const vectors = new Float32Array(rows.length * DIM);
  rows.forEach((r, i) => vectors.set(r, i * DIM));
  return { vectors, truth };
}

/** Same partition, whatever the label names. */
const samePartition = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  const ab = new Map<number, number>(), ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    if ((ab.get(a[i]!) ?? b[i]) !== b[i] || (ba.get(b[i]!) ?? a[i]) !== a[i]) return false;
    ab.set(a[i]!, b[i]!);
    ba.set(b[i]!, a[i]!);
  }
  return true;
};

describe('clustering by Chinese whispers', () => {
  it('finds well-separated groups and leaves unrelated vectors alone', () => {
    const { vectors, truth } = blobs(5, 12, 6, 0.08);
    const labels = clusterVectors(vectors, DIM, { threshold: 0.6 });
    expect(samePartition(labels, truth)).toBe(true);
    expect(new Set(labels).size).toBe(11);
  });

  it('a group larger than the neighbours looked at still ends as one group (links chain)', () => {
    const { vectors, truth } = blobs(2, 40, 0, 0.1);
    expect(samePartition(clusterVectors(vectors, DIM, { threshold: 0.6, neighbours: 5 }), truth)).toBe(true);
  });

  it('is deterministic for a seed, labels groups 0.. in order of first appearance', () => {
    const { vectors } = blobs(4, 8, 3, 0.3);
    const a = clusterVectors(vectors, DIM, { threshold: 0.5, seed: 9 });
    expect(Array.from(clusterVectors(vectors, DIM, { threshold: 0.5, seed: 9 }))).toEqual(Array.from(a));
    let next = 0;
    for (const l of a) {
      expect(l).toBeLessThanOrEqual(next);
      if (l === next) next++;
    }
  });

  it('a threshold nothing reaches: every vector alone; empty and single inputs', () => {
    const { vectors } = blobs(3, 5, 0, 0.1);
    expect(new Set(clusterVectors(vectors, DIM, { threshold: 1.01 })).size).toBe(15);
    expect(Array.from(clusterVectors(new Float32Array(0), DIM, { threshold: 0.5 }))).toEqual([]);
    expect(Array.from(clusterVectors(vectors.subarray(0, DIM), DIM, { threshold: 0.5 }))).toEqual([0]);
  });

  it('the graph is symmetric with cosine weights at or above the threshold', () => {
    const { vectors } = blobs(3, 6, 2, 0.3);
    const g = similarityGraph(vectors, DIM, 0.4, 4);
    g.neighbours.forEach((ns, i) =>
      ns.forEach((j, e) => {
        const w = g.weights[i]![e]!;
        expect(w).toBeGreaterThanOrEqual(0.4);
        let dot = 0;
        for (let d = 0; d < DIM; d++) dot += vectors[i * DIM + d]! * vectors[j * DIM + d]!;
        expect(w).toBeCloseTo(dot, 5);
        expect(Array.from(g.neighbours[j]!)).toContain(i);
      }),
    );
  });

  it('a weak bridge between two groups does not merge them (majority weight wins)', () => {
    // Two triangles of strong links joined by one weak link.
    const neighbours = [[1, 2], [0, 2], [0, 1, 3], [2, 4, 5], [3, 5], [3, 4]].map((a) => Int32Array.from(a));
    const weights = neighbours.map((ns, i) => Float32Array.from(ns, (j) => ((i === 2 && j === 3) || (i === 3 && j === 2) ? 0.1 : 0.9)));
    expect(Array.from(chineseWhispers({ neighbours, weights }))).toEqual([0, 0, 0, 1, 1, 1]);
  });
});
