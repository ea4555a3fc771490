import { describe, expect, it } from 'vitest';
import { naiveTopK, randomUnitVectors } from '../../bench/lib/index-vectors.js';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { FlatIndex } from '../../src/index/flat.js';
import { wasmSimdAvailable } from '../../src/index/wasm-kernel.js';

const labelsFor = (n: number, prefix = 'id'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('wasm kernel availability', () => {
  it('Node 20 runs the SIMD kernel (no silent fallback to plain JS)', () => {
    expect(wasmSimdAvailable()).toBe(true);
    expect(new FlatIndex(8).kernelName).toBe('wasm-simd');
    expect(new FlatIndex(8, { kernel: 'js' }).kernelName).toBe('js');
  });
});

describe.each(['wasm', 'js'] as const)('FlatIndex (%s kernel)', (kernel) => {
  // 130 is not a multiple of 4 (exercises row padding); 70 queries cross the 64-query pass.
  it.each([128, 130])('matches a naive float64 reference exactly (dim %i)', (dim) => {
    const n = 1500;
    const base = randomUnitVectors(n, dim, 1);
    const queries = randomUnitVectors(70, dim, 2);
    const index = new FlatIndex(dim, { kernel });
    index.add(labelsFor(n), base);
    const k = 10;
    const got = index.search(queries, k);
    const want = naiveTopK(base, queries, dim, k);
    expect(got).toHaveLength(70);
    got.forEach((hit, q) => {
      expect(hit.labels).toEqual(want[q].rows.map((r) => `id${r}`));
      hit.scores.forEach((s, i) => expect(Math.abs(s - want[q].scores[i])).toBeLessThan(1e-5));
    });
  });

  it('gives batched and single queries bit-identical results', () => {
    const dim = 64;
    const base = randomUnitVectors(700, dim, 3);
    const queries = randomUnitVectors(9, dim, 4);
    const index = new FlatIndex(dim, { kernel });
    index.add(labelsFor(700), base);
    const batched = index.search(queries, 7);
    for (let q = 0; q < 9; q++) {
      expect(index.search(queries.subarray(q * dim, (q + 1) * dim), 7)[0]).toEqual(batched[q]);
    }
  });

  it('breaks ties by insertion order, also across row tiles', () => {
    const dim = 512; // 128 rows per tile at 512-d: rows 5 and 300 are in different tiles
    const n = 400;
    const base = randomUnitVectors(n, dim, 5);
    const dup = base.slice(5 * dim, 6 * dim);
    base.set(dup, 300 * dim);
    base.set(dup, 150 * dim);
    const index = new FlatIndex(dim, { kernel });
    index.add(labelsFor(n), base);
    const query = new Float32Array(dup);
    expect(index.search(query, 3)[0].labels).toEqual(['id5', 'id150', 'id300']);
    expect(index.search(query, 2)[0].labels).toEqual(['id5', 'id150']);
    const twoQueries = new Float32Array(2 * dim);
    twoQueries.set(dup, 0);
    twoQueries.set(dup, dim);
    expect(index.search(twoQueries, 2).map((h) => h.labels)).toEqual([
      ['id5', 'id150'],
      ['id5', 'id150'],
    ]);
  });

  it('returns size hits when k > size, none for k = 0 or an empty index', () => {
    const dim = 16;
    const index = new FlatIndex(dim, { kernel });
    const queries = randomUnitVectors(3, dim, 6);
    expect(index.search(queries, 5)).toEqual([
      { labels: [], scores: [] },
      { labels: [], scores: [] },
      { labels: [], scores: [] },
    ]);
    index.add(['a', 'b', 'c'], randomUnitVectors(3, dim, 7));
    expect(index.size).toBe(3);
    const hits = index.search(queries, 10);
    hits.forEach((h) => {
      expect([...h.labels].sort()).toEqual(['a', 'b', 'c']);
      expect(h.scores[0]).toBeGreaterThanOrEqual(h.scores[2]);
    });
    expect(index.search(queries, 0)[0]).toEqual({ labels: [], scores: [] });
  });

  it('checks dimensions, label counts and values', () => {
    const index = new FlatIndex(8, { kernel });
    expect(() => index.add(['a'], new Float32Array(7))).toThrow(FacectlError);
    expect(() => index.add(['a', 'b'], new Float32Array(8))).toThrow(/2 labels for 1 vectors/);
    expect(() => index.add(['a'], new Float32Array(8).fill(Number.NaN))).toThrow(/non-finite/);
    expect(() => index.add(['a', 'b'], new Float32Array(16).fill(1).fill(Number.POSITIVE_INFINITY, 13, 14))).toThrow(/vector 1 holds a non-finite value \(Infinity\)/);
    expect(index.size).toBe(0);
    expect(() => index.search(new Float32Array(9), 1)).toThrow(/not a multiple of dimension 8/);
    expect(() => index.search(new Float32Array(8), -1)).toThrow(/k must be/);
    expect(() => new FlatIndex(0)).toThrow(/dimension/);
    expect(index.size).toBe(0);
  });

  it('refuses rows whose products overflow float32 (finite values, NaN scores), as it refuses NaN', () => {
    // [3e38, 3e38]·[3e38, 3e38] overflows: the kernels gave a NaN score, which the top-k dropped or misranked.
    const index = new FlatIndex(2, { kernel });
    index.add(['z'], new Float32Array([0, 0]));
    const huge = new Float32Array([3e38, 3e38, 3e38, -3e38]);
    let thrown: unknown;
    try {
      index.add(['p', 'm'], huge);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ code: ExitCode.INTERNAL, message: expect.stringMatching(/add: vector 0 is too large: the sum of its squares \(1\.80e\+77\) overflows float32/) });
    expect(index.size).toBe(1);
    expect(() => index.search(huge.subarray(0, 2), 2)).toThrow(expect.objectContaining({ code: ExitCode.INTERNAL, message: expect.stringMatching(/^search: vector 0 is too large/) }));
    // Large but safe rows still work, and score in range: ‖v‖² just under the largest float32.
    const big = 1.3e19; // 2 × big² ≈ 3.38e38
    index.add(['b1', 'b2'], new Float32Array([big, big, big, -big]));
    const [hit] = index.search(new Float32Array([big, big]), 3);
    expect(hit.labels).toEqual(['b1', 'z', 'b2']);
    expect(hit.scores.every((x) => Number.isFinite(x))).toBe(true);
  });

  it('removes every vector of a label and keeps the order of the rest', () => {
    const dim = 32;
    const base = randomUnitVectors(300, dim, 8);
    const labels = labelsFor(300).map((l, i) => (i % 7 === 0 ? 'dup' : l));
    const index = new FlatIndex(dim, { kernel });
    index.add(labels, base);
    expect(index.remove(['dup', 'id1', 'not-there'])).toBe(43 + 1);
    const keptRows = labels.map((l, i) => (l === 'dup' || l === 'id1' ? -1 : i)).filter((i) => i >= 0);
    const reference = new FlatIndex(dim, { kernel });
    const keptVectors = new Float32Array(keptRows.length * dim);
    keptRows.forEach((r, i) => keptVectors.set(base.subarray(r * dim, (r + 1) * dim), i * dim));
    reference.add(
      keptRows.map((r) => labels[r]),
      keptVectors,
    );
    const queries = randomUnitVectors(5, dim, 9);
    expect(index.search(queries, 8)).toEqual(reference.search(queries, 8));
    expect(index.size).toBe(keptRows.length);
  });
});
