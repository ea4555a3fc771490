/**
 * Seeded synthetic identity vectors for the index benchmark and tests.
 *
 * - randomUnitVectors: components uniform in [-1, 1), each row L2-normalised. Not exactly
 *   uniform on the sphere, but in 128–1024 dimensions pairwise cosines concentrate around 0
 *   just the same, which is what makes nearest-neighbour search hard.
 * - nearbyQueries: "real-looking" login queries, a stored vector plus noise with cosine ≈ c
 *   to its source, renormalised, like a new photo of an enrolled person.
 */

/** xorshift32: tiny, fast and plenty random for benchmarks; same seed, same vectors. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fills `out` with uniform values in [-1, 1) (inlined generator: this runs 5e8 times at 1e6×512). */
  fillSigned(out: Float32Array): void {
    let x = this.state;
    for (let i = 0; i < out.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = (x >>> 0) / 2147483648 - 1;
    }
    this.state = x >>> 0 || 0x9e3779b9;
  }
}

/** L2-normalises every `dim`-float row in place. */
export function normaliseRows(vectors: Float32Array, dim: number): void {
  for (let at = 0; at < vectors.length; at += dim) {
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += vectors[at + j] * vectors[at + j];
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let j = 0; j < dim; j++) vectors[at + j] *= scale;
  }
}

/** n random L2-normalised vectors, row-major n×dim. */
export function randomUnitVectors(n: number, dim: number, seed: number): Float32Array {
  const out = new Float32Array(n * dim);
  new Rng(seed).fillSigned(out);
  normaliseRows(out, dim);
  return out;
}

export interface NearbyQueries {
  queries: Float32Array;
  /** Row of the stored vector each query was made from. */
  sources: Int32Array;
}

/**
 * q queries, each = normalise(c·v + √(1−c²)·u) for a random stored row v and a random unit
 * vector u; u is almost orthogonal to v in high dimension, so cos(query, v) ≈ c.
 */
export function nearbyQueries(
  base: Float32Array,
  dim: number,
  q: number,
  cosine: number,
  seed: number,
): NearbyQueries {
  const rng = new Rng(seed);
  const n = base.length / dim;
  const noise = randomUnitVectors(q, dim, seed ^ 0x5bd1e995);
  const queries = new Float32Array(q * dim);
  const sources = new Int32Array(q);
  const spread = Math.sqrt(1 - cosine * cosine);
  for (let i = 0; i < q; i++) {
    const src = rng.int(n);
    sources[i] = src;
    for (let j = 0; j < dim; j++) {
      queries[i * dim + j] = cosine * base[src * dim + j] + spread * noise[i * dim + j];
    }
  }
  normaliseRows(queries, dim);
  return { queries, sources };
}

/** Exact top-k reference in float64: a naive loop and a full sort, for tests. */
export function naiveTopK(
  base: Float32Array,
  queries: Float32Array,
  dim: number,
  k: number,
): { rows: number[]; scores: number[] }[] {
  const n = base.length / dim;
  const results: { rows: number[]; scores: number[] }[] = [];
  for (let qAt = 0; qAt < queries.length; qAt += dim) {
    const scored: { row: number; score: number }[] = [];
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += queries[qAt + j] * base[r * dim + j];
      scored.push({ row: r, score: s });
    }
    scored.sort((a, b) => b.score - a.score || a.row - b.row);
    const top = scored.slice(0, k);
    results.push({ rows: top.map((t) => t.row), scores: top.map((t) => t.score) });
  }
  return results;
}
