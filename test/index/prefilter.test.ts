/**
 * The i8 prefilter of single exact queries (src/index/i8-codes.ts + FlatIndex.scanPrefiltered):
 * its top-k must be the float32 exact top-k, ties by insertion order, on any data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng, naiveTopK, randomUnitVectors } from '../../bench/lib/index-vectors.js';
import { FlatIndex } from '../../src/index/flat.js';
import { quantizeQuery } from '../../src/index/i8-codes.js';
import { WasmDotKernel } from '../../src/index/wasm-kernel.js';

const labelsFor = (n: number): string[] => Array.from({ length: n }, (_, i) => `id${i}`);
const row = (data: Float32Array, dim: number, r: number): Float32Array => data.subarray(r * dim, (r + 1) * dim);

function build(dim: number, base: Float32Array, prefilter: 'i8' | 'none'): FlatIndex {
  const index = new FlatIndex(dim, { prefilter });
  index.add(labelsFor(base.length / dim), base);
  index.buildPrefilter(); // else the first single query scans floats
  return index;
}

/** Single-query results of the prefilter and of the float32 scan, for every query. */
function bothWays(dim: number, base: Float32Array, queries: Float32Array, k: number) {
  const i8 = build(dim, base, 'i8');
  const plain = build(dim, base, 'none');
  expect(i8.prefilter).toBe('i8');
  expect(plain.prefilter).toBe('none');
  const nq = queries.length / dim;
  return Array.from({ length: nq }, (_, q) => ({
    got: i8.search(row(queries, dim, q), k)[0],
    want: plain.search(row(queries, dim, q), k)[0],
  }));
}

/** Noisy copies of a few centres: many rows whose scores differ by less than the i8 error. */
function clustered(n: number, dim: number, centres: number, noise: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const c = randomUnitVectors(centres, dim, seed + 1);
  const out = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) {
    const from = (r % centres) * dim;
    for (let j = 0; j < dim; j++) out[r * dim + j] = c[from + j] + noise * (rng.next() * 2 - 1);
  }
  return out;
}

describe('i8 prefilter: single exact queries', () => {
  // 130: codes padded to 160; 5000 rows cross the 4096-row scan chunk.
  it.each([
    [130, 5000],
    [512, 1200],
  ])('matches a float64 brute force (dim %i, %i rows, ties by insertion order)', (dim, n) => {
    const base = randomUnitVectors(n, dim, 11);
    // Exact duplicates of row 7 at rows 4100 (next scan chunk, when present) and 600.
    const dupAt = [600, ...(n > 4100 ? [4100] : [])];
    for (const at of dupAt) base.set(row(base, dim, 7), at * dim);
    const queries = randomUnitVectors(12, dim, 12);
    queries.set(row(base, dim, 7), 0); // query 0 hits the duplicates first
    const index = build(dim, base, 'i8');
    const want = naiveTopK(base, queries, dim, 10);
    for (let q = 0; q < 12; q++) {
      const hit = index.search(row(queries, dim, q), 10)[0];
      // Float64 ranks may swap rows whose scores agree to float32 precision; none do here,
      // except exact duplicates, which tie in both and keep insertion order.
      expect(hit.labels).toEqual(want[q].rows.map((r) => `id${r}`));
      hit.scores.forEach((s, i) => expect(Math.abs(s - want[q].scores[i])).toBeLessThan(1e-5));
    }
    expect(index.search(row(queries, dim, 0), 1 + dupAt.length)[0].labels).toEqual(['id7', ...dupAt.sort((a, b) => a - b).map((r) => `id${r}`)]);
  });

  it('is bit-identical to the float32 scan on near-ties, odd norms, zero rows and k ≥ size', () => {
    const dim = 96;
    const n = 3000;
    const base = clustered(n, dim, 5, 1e-4, 21); // scores within ~1e-4 of each other: far inside E
    for (let r = 0; r < n; r += 97) for (let j = 0; j < dim; j++) base[r * dim + j] *= 1 + (r % 7); // norms up to 7
    base.fill(0, 50 * dim, 51 * dim); // a zero row
    base.fill(0, 51 * dim, 52 * dim);
    base[51 * dim + 3] = 5; // one spike: a row whose scale is set by one component
    const queries = new Float32Array(6 * dim);
    queries.set(row(base, dim, 1), 0);
    queries.set(randomUnitVectors(3, dim, 22), dim);
    queries[4 * dim + 3] = -2; // spike query
    // queries[5] stays zero: every score ties at 0
    for (const k of [1, 10, 200, n + 5]) {
      for (const { got, want } of bothWays(dim, base, queries, k)) expect(got).toEqual(want);
    }
  });

  it('a zero query with a row whose norm overflows float32 (bound 0·∞): the bound is ∞, so every row is re-scored, not none', () => {
    const dim = 8;
    const base = new Float32Array(3 * dim);
    base[0] = 1;
    base[dim + 1] = 1;
    base[2 * dim] = 3e19; // its squared norm is ∞ in float32
    // FlatIndex refuses such a row (validate.ts: its products would overflow too); the kernel's bound stays safe.
    expect(() => new FlatIndex(dim).add(labelsFor(3), base)).toThrow(/vector 2 is too large/);
    const kernel = new WasmDotKernel(dim);
    kernel.append(base, 3);
    const stats = kernel.updateCodes();
    expect(quantizeQuery(new Float32Array(dim), dim, stats.codeBytes).bound(stats)).toBe(Infinity);
    // The largest row FlatIndex takes (squared norm just under the float32 maximum): a zero query gets every row.
    base[2 * dim] = 1.8e19;
    const [{ got, want }] = bothWays(dim, base, new Float32Array(dim), 2);
    expect(want!.labels).toEqual(['id0', 'id1']);
    expect(got).toEqual(want);
  });

  it('stays exact after remove and after save + load', () => {
    const dim = 64;
    const base = clustered(2000, dim, 40, 0.02, 31);
    const queries = randomUnitVectors(5, dim, 32);
    const i8 = build(dim, base, 'i8');
    const plain = build(dim, base, 'none');
    const drop = labelsFor(2000).filter((_, i) => i % 3 === 0);
    i8.add(['extra'], row(queries, dim, 0)); // one row not coded yet when remove runs
    plain.add(['extra'], row(queries, dim, 0));
    i8.remove(drop);
    plain.remove(drop);
    for (let q = 0; q < 5; q++) expect(i8.search(row(queries, dim, q), 8)).toEqual(plain.search(row(queries, dim, q), 8));
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'facectl-prefilter-')), 'index.bin');
    try {
      i8.save(file, 'fp');
      const loaded = FlatIndex.load(file, { fingerprint: 'fp' });
      expect(loaded.prefilter).toBe('i8');
      loaded.buildPrefilter();
      for (let q = 0; q < 5; q++) expect(loaded.search(row(queries, dim, q), 8)).toEqual(plain.search(row(queries, dim, q), 8));
    } finally {
      rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  it('stays exact while rows are added between queries (codes moved as the memory grows)', () => {
    const dim = 40;
    const base = clustered(3000, dim, 7, 0.01, 61);
    const queries = randomUnitVectors(30, dim, 62);
    const i8 = new FlatIndex(dim, { prefilter: 'i8' });
    const plain = new FlatIndex(dim, { prefilter: 'none' });
    const ends = [1, 2, 5, 20, 64, 65, 200, 500, 1000, 1001, 3000];
    ends.forEach((end, q) => {
      const from = q === 0 ? 0 : ends[q - 1];
      const chunk = base.subarray(from * dim, end * dim);
      const labels = labelsFor(end).slice(from);
      i8.add(labels, chunk);
      plain.add(labels, chunk);
      const query = row(queries, dim, q);
      expect(i8.search(query, 5)).toEqual(plain.search(query, 5));
    });
    expect(i8.size).toBe(3000);
  });

  it('bounds |scan score − float32 score| by the E it returns, on every row', () => {
    const dim = 512;
    const n = 2000;
    const base = clustered(n, dim, 3, 0.05, 41);
    for (let r = 0; r < n; r += 13) for (let j = 0; j < dim; j += 2) base[r * dim + j] *= 3;
    const kernel = new WasmDotKernel(dim);
    kernel.append(base, n);
    const stats = kernel.updateCodes();
    for (const query of [row(base, dim, 0), row(randomUnitVectors(1, dim, 42), dim, 0)]) {
      const q = quantizeQuery(query, dim, stats.codeBytes);
      const e = q.bound(stats);
      kernel.setCodeQuery(q.codes);
      const approx = kernel.scoreCodes(q.scale, 0, n).slice();
      kernel.setQueries(query, 0, 1);
      const scores = kernel.scoreRows(0, n);
      let worst = 0;
      for (let r = 0; r < n; r++) worst = Math.max(worst, Math.abs(approx[r] - scores[r]));
      expect(worst).toBeLessThanOrEqual(e);
    }
  });

  it('has a bound tight enough to filter unit vectors at 512-d', () => {
    const dim = 512;
    const kernel = new WasmDotKernel(dim);
    kernel.append(randomUnitVectors(1000, dim, 51), 1000);
    const stats = kernel.updateCodes();
    const e = quantizeQuery(row(randomUnitVectors(1, dim, 52), dim, 0), dim, stats.codeBytes).bound(stats);
    // Random unit scores spread with σ ≈ 1/√512 ≈ 0.044: E must be well under that.
    expect(e).toBeGreaterThan(0);
    expect(e).toBeLessThan(0.015);
  });
});
