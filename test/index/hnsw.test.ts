import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nearbyQueries, randomUnitVectors } from '../../bench/lib/index-vectors.js';
import { FlatIndex } from '../../src/index/flat.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { isStaleIndexError } from '../../src/index/index-file.js';

const dir = mkdtempSync(path.join(tmpdir(), 'facectl-hnsw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const dim = 128;
const n = 20_000;
const base = randomUnitVectors(n, dim, 31);
const labels = Array.from({ length: n }, (_, i) => `p${i}`);
const { queries, sources } = nearbyQueries(base, dim, 200, 0.7, 32);

/** Fraction of queries whose top-1 label equals the exact top-1 label. */
function recallAt1(index: HnswIndex, exact: string[]): number {
  const hits = index.search(queries, 1);
  return hits.filter((h, q) => h.labels[0] === exact[q]).length / exact.length;
}

describe('HnswIndex', () => {
  let index: HnswIndex;
  let exactTop1: string[];

  beforeAll(() => {
    // Lighter than the defaults (tuned for 1e6 × 512) so the build takes seconds.
    index = new HnswIndex(dim, { connectivity: 16, expansionAdd: 64, expansionSearch: 128 });
    index.add(labels, base);
    const flat = new FlatIndex(dim);
    flat.add(labels, base);
    exactTop1 = flat.search(queries, 1).map((h) => h.labels[0]);
  });

  it('finds the exact top-1 for ≥ 95% of real-looking queries at 2e4', () => {
    // Sanity of the data: the exact answer is the source vector itself.
    expect(exactTop1.filter((l, q) => l === `p${sources[q]}`).length).toBe(200);
    expect(index.size).toBe(n);
    expect(recallAt1(index, exactTop1)).toBeGreaterThanOrEqual(0.95);
  });

  it('scores approximate the exact inner products; single = batched', () => {
    const hit = index.search(queries.subarray(0, dim), 3)[0];
    expect(hit.labels).toHaveLength(3);
    let exact = 0;
    const src = sources[0];
    for (let j = 0; j < dim; j++) exact += queries[j] * base[src * dim + j];
    expect(hit.labels[0]).toBe(`p${src}`);
    expect(Math.abs(hit.scores[0] - exact)).toBeLessThan(0.02); // i8 storage
    expect(hit.scores[0]).toBeGreaterThanOrEqual(hit.scores[1]);
    expect(index.search(queries.subarray(0, 2 * dim), 3)[0].labels).toEqual(hit.labels);
  });

  it('saves, loads (read and mmap view) and detects staleness', () => {
    const file = path.join(dir, 'g.idx');
    index.save(file, 'gen-7');
    expect(existsSync(`${file}.usearch`)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const want = index.search(queries.subarray(0, 10 * dim), 5);
    const loaded = HnswIndex.load(file, { dim, count: n, fingerprint: 'gen-7' });
    expect(loaded.size).toBe(n);
    expect(loaded.params).toEqual(index.params);
    expect(loaded.search(queries.subarray(0, 10 * dim), 5).map((h) => h.labels)).toEqual(want.map((h) => h.labels));
    const viewed = HnswIndex.load(file, {}, { view: true });
    expect(viewed.search(queries.subarray(0, dim), 1)[0].labels).toEqual([want[0].labels[0]]);
    expect(() => viewed.add(['x'], base.slice(0, dim))).toThrow(/read-only/);

    const stale = (expectation = {}): boolean => {
      try {
        HnswIndex.load(file, expectation);
        return false;
      } catch (e) {
        return isStaleIndexError(e);
      }
    };
    expect(stale({ fingerprint: 'gen-8' })).toBe(true);
    expect(stale({ count: n - 1 })).toBe(true);
    expect(stale({ kind: 'flat' })).toBe(true);
    const graph = readFileSync(`${file}.usearch`);
    const damaged = Buffer.from(graph);
    damaged[damaged.length >> 1] ^= 1;
    writeFileSync(`${file}.usearch`, damaged);
    expect(stale()).toBe(true);
    rmSync(`${file}.usearch`);
    expect(stale()).toBe(true);
  });
});

describe('HnswIndex small cases', () => {
  it('handles empty, k > size, remove and repeated labels', () => {
    const small = new HnswIndex(16, { quantization: 'f32' });
    const q = randomUnitVectors(2, 16, 41);
    expect(small.search(q, 3)).toEqual([
      { labels: [], scores: [] },
      { labels: [], scores: [] },
    ]);
    const vectors = randomUnitVectors(4, 16, 42);
    small.add(['a', 'b', 'a', 'c'], vectors);
    expect(small.size).toBe(4);
    const all = small.search(vectors.subarray(0, 16), 10)[0];
    expect(all.labels).toHaveLength(4);
    expect(all.labels[0]).toBe('a');
    expect(Math.abs(all.scores[0] - 1)).toBeLessThan(1e-5); // f32: exact self-similarity
    expect(small.remove(['a'])).toBe(2);
    expect(small.size).toBe(2);
    expect(small.search(vectors.subarray(0, 16), 10)[0].labels.sort()).toEqual(['b', 'c']);
    expect(() => small.add(['x'], new Float32Array(15))).toThrow(/multiple of dimension/);
  });

  it('refuses rows whose products overflow float32, like the flat index', () => {
    const h = new HnswIndex(2, { quantization: 'f32' });
    const huge = new Float32Array([3e38, 3e38]);
    expect(() => h.add(['p'], huge)).toThrow(/add: vector 0 is too large/);
    expect(h.size).toBe(0);
    h.add(['a'], new Float32Array([1, 0]));
    expect(() => h.search(huge, 1)).toThrow(/search: vector 0 is too large/);
  });
});
