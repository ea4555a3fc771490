import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomUnitVectors } from '../../bench/lib/index-vectors.js';
import { ExitCode } from '../../src/errors.js';
import { FlatIndex } from '../../src/index/flat.js';
import { StaleIndexError, isStaleIndexError } from '../../src/index/index-file.js';
import type { IndexExpectation } from '../../src/index/types.js';

const dir = mkdtempSync(path.join(tmpdir(), 'facectl-flat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const dim = 36; // not a multiple of 4: the padded rows go to disk too
const base = randomUnitVectors(500, dim, 11);
const labels = Array.from({ length: 500 }, (_, i) => `person-${i % 200}-é`);
const queries = randomUnitVectors(4, dim, 12);

function saved(name: string, fingerprint = 'gen-1'): { file: string; index: FlatIndex } {
  const index = new FlatIndex(dim);
  index.add(labels, base);
  const file = path.join(dir, name);
  index.save(file, fingerprint);
  return { file, index };
}

/** The StaleIndexError thrown by loading `file`, failing the test if none is thrown. */
function staleReason(file: string, expectation: IndexExpectation = {}): string {
  try {
    FlatIndex.load(file, expectation);
  } catch (e) {
    expect(isStaleIndexError(e)).toBe(true);
    expect((e as StaleIndexError).code).toBe(ExitCode.STORE_ERROR);
    return (e as StaleIndexError).reason;
  }
  throw new Error('expected a StaleIndexError');
}

describe('FlatIndex save/load', () => {
  it('round-trips vectors, labels and results, leaving no temp file behind', () => {
    const { file, index } = saved('round.idx');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const loaded = FlatIndex.load(file, { dim, count: 500, fingerprint: 'gen-1' });
    expect(loaded.size).toBe(500);
    expect(loaded.dim).toBe(dim);
    expect(loaded.search(queries, 6)).toEqual(index.search(queries, 6));
    expect(loaded.vector(17)).toEqual(base.slice(17 * dim, 18 * dim));
    expect(loaded.label(17)).toBe(labels[17]);
    // The JS kernel reads the same file.
    expect(FlatIndex.load(file, {}, { kernel: 'js' }).search(queries, 3).map((h) => h.labels)).toEqual(
      index.search(queries, 3).map((h) => h.labels),
    );
  });

  it('overwrites an existing index atomically', () => {
    const { file } = saved('over.idx', 'old');
    const index = new FlatIndex(dim);
    index.add(['only'], base.slice(0, dim));
    index.save(file, 'new');
    const loaded = FlatIndex.load(file, { fingerprint: 'new' });
    expect(loaded.size).toBe(1);
  });

  it('detects a stale index: fingerprint, count, dim, kind', () => {
    const { file } = saved('stale.idx');
    expect(staleReason(file, { fingerprint: 'gen-2' })).toMatch(/fingerprint/);
    expect(staleReason(file, { count: 501 })).toMatch(/holds 500 vectors, store has 501/);
    expect(staleReason(file, { dim: 512 })).toMatch(/dimension is 36/);
    expect(staleReason(file, { kind: 'hnsw' })).toMatch(/kind/);
  });

  it('detects damage: flipped byte, truncation, garbage, missing file', () => {
    const { file } = saved('damaged.idx');
    const bytes = readFileSync(file);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 10] ^= 0x40;
    writeFileSync(file, flipped);
    expect(staleReason(file)).toBe('checksum mismatch');
    // With the checksum check off the damage goes unnoticed: the caller chose speed.
    expect(FlatIndex.load(file, { verifyChecksum: false }).size).toBe(500);

    writeFileSync(file, bytes);
    truncateSync(file, bytes.length - 100);
    expect(staleReason(file)).toMatch(/bytes, header says/);
    writeFileSync(file, 'not an index at all');
    expect(staleReason(file)).toBe('not a facectl index file');
    writeFileSync(file, bytes.subarray(0, 5));
    expect(staleReason(file)).toBe('file is truncated');
    expect(staleReason(path.join(dir, 'nope.idx'))).toBe('no index file');
  });

  it('reports a write failure as a STORE_ERROR', () => {
    const index = new FlatIndex(dim);
    expect(() => index.save(path.join(dir, 'no-such-dir', 'x.idx'))).toThrow(
      expect.objectContaining({ code: ExitCode.STORE_ERROR }),
    );
  });
});
