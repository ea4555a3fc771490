/** HNSW measurements: build time, memory, and recall@1 / speed against the exact answers. */
import { HnswIndex, type HnswParams } from '../../src/index/hnsw.js';
import type { SearchHit } from '../../src/index/types.js';
import { measureBuild, timeOnce, timeRepeated } from './index-measure.js';
import type { HnswRow } from './index-report.js';

export interface HnswSetup {
  size: number;
  dim: number;
  labels: string[];
  base: Float32Array;
  params: HnswParams;
  realQueries: Float32Array;
  randomQueries: Float32Array;
  /** Exact top-1 hit of each real-looking / random query. */
  exactReal: SearchHit[];
  exactRandom: SearchHit[];
  /** expansion_search values to sweep (the default one also gets single-query and random-query numbers). */
  expansions: number[];
  budgetS: number;
}

export interface HnswResult {
  rows: HnswRow[];
  buildS: number;
  buildCpuS: number;
  bytesPerVector: number;
}

function recall(hits: SearchHit[], exact: SearchHit[]): number {
  return hits.filter((h, q) => h.labels[0] === exact[q].labels[0]).length / hits.length;
}

function maxScoreError(hits: SearchHit[], exact: SearchHit[]): number {
  let worst = 0;
  hits.forEach((h, q) => {
    if (h.labels[0] === exact[q].labels[0]) worst = Math.max(worst, Math.abs(h.scores[0] - exact[q].scores[0]));
  });
  return worst;
}

/**
 * usearch searches with max(expansion_search, k) candidates: the graph is built with the
 * smallest swept value, and asking for k = ef hits and keeping the first one searches with
 * expansion_search = ef without rebuilding (a little extra JS work per query for large ef).
 */
const top1 = (hits: SearchHit[]): SearchHit[] => hits.map((h) => ({ labels: h.labels.slice(0, 1), scores: h.scores.slice(0, 1) }));

export function measureHnsw(s: HnswSetup): HnswResult {
  const built = measureBuild(() => {
    const index = new HnswIndex(s.dim, { ...s.params, expansionSearch: Math.min(...s.expansions) });
    index.add(s.labels, s.base);
    return index;
  });
  const index = built.result;
  const { dim, realQueries } = s;
  const nq = realQueries.length / dim;
  const rows: HnswRow[] = [];
  for (const ef of s.expansions) {
    const k = Math.max(1, ef);
    const batch = timeOnce(() => top1(index.search(realQueries, k)));
    const isDefault = ef === s.params.expansionSearch;
    let singleQps: number | null = null;
    let recallRandom: number | null = null;
    if (isDefault) {
      const query = (i: number): Float32Array => realQueries.subarray((i % nq) * dim, ((i % nq) + 1) * dim);
      const single = timeRepeated((i) => index.search(query(i), k), s.budgetS, nq);
      singleQps = single.units / single.wallS;
      recallRandom = recall(top1(index.search(s.randomQueries, k)), s.exactRandom);
    }
    rows.push({
      size: s.size,
      expansionSearch: ef,
      batchQps: nq / batch.timing.wallS,
      singleQps,
      recallReal: recall(batch.result, s.exactReal),
      recallRandom,
      maxScoreError: maxScoreError(batch.result, s.exactReal),
    });
  }
  return {
    rows,
    buildS: built.timing.wallS,
    buildCpuS: built.timing.cpuS,
    bytesPerVector: built.rssDelta / s.size,
  };
}
