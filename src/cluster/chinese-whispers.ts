/**
 * Grouping faces by person without enrolling anyone: a similarity graph over the faces' unit vectors,
 * then Chinese whispers (Biemann 2006), the graph clustering dlib's face-clustering example uses.
 *  - Graph: each face is linked to those of its k nearest neighbours (exact inner product, the flat
 *    index's kernel) whose cosine reaches the threshold, weighted by that cosine, both ways. k bounds
 *    the work at n·k edges; a person with more than k photos still ends in one group through chains.
 *  - Whispers: every face starts in its own group; in passes over the faces in a seeded random order,
 *    each takes the group with the most link weight among its neighbours, until a pass changes nothing.
 * No number of people is given: a face with no link at the threshold stays alone.
 */
import { createRng } from '../eval/rng.js';
import { FlatIndex } from '../index/flat.js';

export interface ClusterOptions {
  /** Cosine at or above which two faces are linked (a verify threshold: same person). */
  threshold: number;
  /** Neighbours looked at per face (default 50). */
  neighbours?: number;
  /** Seed of the pass order (default 1): the same input and seed give the same groups. */
  seed?: number;
  /** Upper bound on passes (default 100); it stops as soon as a pass changes nothing. */
  maxPasses?: number;
}

export interface WeightedGraph {
  /** For node i: its neighbours and the link weights, same order. */
  neighbours: Int32Array[];
  weights: Float32Array[];
}

/** The k-nearest-neighbour links at or above `threshold` among n row-major unit vectors, made symmetric. */
export function similarityGraph(vectors: Float32Array, dim: number, threshold: number, k: number): WeightedGraph {
  const n = vectors.length / dim;
  const links = Array.from({ length: n }, () => new Map<number, number>());
  if (n > 1) {
    const index = new FlatIndex(dim, { prefilter: 'none' });
    index.add(Array.from({ length: n }, (_, i) => String(i)), vectors);
    const hits = index.search(vectors, Math.min(n, k + 1));
    index.dispose?.();
    hits.forEach((hit, i) =>
      hit.labels.forEach((label, j) => {
        const other = Number(label);
        const score = hit.scores[j]!;
        if (other === i || score < threshold) return;
        links[i]!.set(other, score);
        links[other]!.set(i, score);
      }),
    );
  }
  return {
    neighbours: links.map((m) => Int32Array.from(m.keys())),
    weights: links.map((m) => Float32Array.from(m.values())),
  };
}

/** Chinese whispers over `graph`: a group label per node, renumbered 0.. by first appearance. */
export function chineseWhispers(graph: WeightedGraph, seed = 1, maxPasses = 100): Int32Array {
  const n = graph.neighbours.length;
  const labels = Int32Array.from({ length: n }, (_, i) => i);
  const rng = createRng(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  const weightOf = new Map<number, number>();
  for (let pass = 0; pass < maxPasses; pass++) {
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let changed = false;
    for (const node of order) {
      const ns = graph.neighbours[node]!;
      if (ns.length === 0) continue;
      weightOf.clear();
      const ws = graph.weights[node]!;
      for (let e = 0; e < ns.length; e++) weightOf.set(labels[ns[e]!]!, (weightOf.get(labels[ns[e]!]!) ?? 0) + ws[e]!);
      let best = labels[node]!;
      let bestWeight = -1;
      // Ties go to the smaller label, so the result does not depend on Map order.
      for (const [label, w] of weightOf) if (w > bestWeight || (w === bestWeight && label < best)) [best, bestWeight] = [label, w];
      if (best !== labels[node]) {
        labels[node] = best;
        changed = true;
      }
    }
    if (!changed) break;
  }
  const renumber = new Map<number, number>();
  return labels.map((l) => {
    if (!renumber.has(l)) renumber.set(l, renumber.size);
    return renumber.get(l)!;
  });
}

/** Groups of n row-major unit vectors: a label per vector (0.. in order of first appearance). */
export function clusterVectors(vectors: Float32Array, dim: number, options: ClusterOptions): Int32Array {
  return chineseWhispers(similarityGraph(vectors, dim, options.threshold, options.neighbours ?? 50), options.seed ?? 1, options.maxPasses ?? 100);
}
