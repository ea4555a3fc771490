import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomUnitVectors } from '../../bench/lib/index-vectors.js';
import { ExitCode } from '../../src/errors.js';
import { AUTO_HNSW_MIN_FLOATS, chooseKind, createIndex, loadIndex, loadOrRebuild } from '../../src/index/factory.js';
import { FlatIndex } from '../../src/index/flat.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { StaleIndexError } from '../../src/index/index-file.js';
import { renameKey as renamed, rewriteIndexHeader } from '../helpers/index-files.js';

const dir = mkdtempSync(path.join(tmpdir(), 'facectl-factory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('createIndex / loadIndex', () => {
  it("'auto' picks flat below the size threshold and hnsw from it", () => {
    const atThreshold = AUTO_HNSW_MIN_FLOATS / 512;
    expect(chooseKind(512, atThreshold - 1)).toBe('flat');
    expect(chooseKind(512, atThreshold)).toBe('hnsw');
    expect(chooseKind(512, 10, 'hnsw')).toBe('hnsw');
    expect(chooseKind(512, 1e9, 'flat')).toBe('flat');
    // The kind names the index file: an unknown one must never get that far.
    expect(() => chooseKind(512, 10, '../x' as 'flat')).toThrow(expect.objectContaining({ code: ExitCode.USAGE }));
    expect(createIndex({ dim: 8, expectedSize: 0 })).toBeInstanceOf(FlatIndex);
    expect(createIndex({ dim: 8, expectedSize: 0, kind: 'hnsw' })).toBeInstanceOf(HnswIndex);
    const tuned = createIndex({ dim: 8, expectedSize: 0, kind: 'hnsw', hnsw: { expansionSearch: 300 } });
    expect((tuned as HnswIndex).params.expansionSearch).toBe(300);
  });

  it('loads either kind from its file', () => {
    const vectors = randomUnitVectors(50, 8, 51);
    const labels = Array.from({ length: 50 }, (_, i) => `x${i}`);
    for (const kind of ['flat', 'hnsw'] as const) {
      const index = createIndex({ dim: 8, expectedSize: 50, kind });
      index.add(labels, vectors);
      const file = path.join(dir, `${kind}.idx`);
      index.save(file, 'fp');
      const loaded = loadIndex(file, { dim: 8, count: 50, fingerprint: 'fp' });
      expect(loaded.kind).toBe(kind);
      expect(loaded.search(vectors.subarray(0, 8), 1)[0].labels).toEqual(['x0']);
    }
  });

  it('reports a missing index as stale (STORE_ERROR) so the caller rebuilds', () => {
    expect(() => loadIndex(path.join(dir, 'missing.idx'))).toThrow(
      expect.objectContaining({ name: 'StaleIndexError', reason: 'no index file', code: ExitCode.STORE_ERROR }),
    );
  });
});

describe('damaged headers that are still valid JSON', () => {
  const vectors = randomUnitVectors(10, 8, 53);
  const labels = Array.from({ length: 10 }, (_, i) => `z${i}`);
  const savedAs = (kind: 'flat' | 'hnsw') => {
    const index = createIndex({ dim: 8, expectedSize: 10, kind });
    index.add(labels, vectors);
    const file = path.join(dir, `hdr-${kind}.idx`);
    index.save(file, 'fp');
    return file;
  };
  const without = (h: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== key));
  const damage: [string, (h: Record<string, unknown>) => unknown][] = [
    ['"params" renamed', (h) => renamed(h, 'params', 'qarams')],
    ['null header', () => null],
    ['array header', () => []],
    ['"params": null', (h) => ({ ...h, params: null })],
    ['negative labelsBytes', (h) => ({ ...h, labelsBytes: -5, payloadBytes: (h.payloadBytes as number) + (h.labelsBytes as number) + 5 })],
    ['labelsBytes as a string', (h) => ({ ...h, labelsBytes: String(h.labelsBytes) })],
    ['fractional count', (h) => ({ ...h, count: 9.5 })],
    ['no kind', (h) => without(h, 'kind')],
    ['dim 0', (h) => ({ ...h, dim: 0 })],
    ['no version', (h) => without(h, 'version')],
  ];
  const companionDamage: [string, (c: Record<string, unknown>) => unknown][] = [
    ['companion without its name ("file" renamed)', (c) => renamed(c, 'file', 'gile')],
    ['companion null', () => null],
    ['companion in another directory', (c) => ({ ...c, file: '../../etc/passwd' })],
    ['companion ".."', (c) => ({ ...c, file: '..' })],
    ['companion with a backslash', (c) => ({ ...c, file: 'a\\b' })],
    ['companion bytes as a string', (c) => ({ ...c, bytes: String(c.bytes) })],
    ['companion without checksum', (c) => ({ ...c, checksum: undefined })],
  ];

  it('each is a StaleIndexError (the caller rebuilds), for both kinds', () => {
    const cases: ['flat' | 'hnsw', string, (h: Record<string, unknown>) => unknown][] = [];
    for (const kind of ['flat', 'hnsw'] as const) for (const [name, edit] of damage) cases.push([kind, name, edit]);
    for (const [name, edit] of companionDamage) cases.push(['hnsw', name, (h) => ({ ...h, companion: edit(h.companion as Record<string, unknown>) })]);
    // Parameters out of range: usearch threw a TypeError on connectivity 1; 1e9 expansions walked the whole graph.
    const params: [string, number][] = [['connectivity', 1], ['connectivity', 1e9], ['expansionAdd', 0], ['expansionSearch', 0], ['expansionSearch', 1e9]];
    for (const [key, value] of params) cases.push(['hnsw', `${key} ${value}`, (h) => ({ ...h, params: { ...(h.params as object), [key]: value } })]);
    const files = { flat: savedAs('flat'), hnsw: savedAs('hnsw') };
    const wrong: string[] = [];
    for (const [kind, name, edit] of cases) {
      const file = rewriteIndexHeader(files[kind], edit, path.join(dir, `damaged-${kind}.idx`));
      for (const want of [{}, { dim: 8, count: 10, fingerprint: 'fp' }]) {
        try {
          loadIndex(file, want);
          wrong.push(`${kind}, ${name}: loaded`);
        } catch (e) {
          if (!(e instanceof StaleIndexError)) wrong.push(`${kind}, ${name}: ${(e as Error).name} ${(e as Error).message}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    // The undamaged files still load.
    for (const kind of ['flat', 'hnsw'] as const) expect(loadIndex(files[kind], { dim: 8, count: 10, fingerprint: 'fp' }).size).toBe(10);
  });
});

describe('a directory where an index file belongs', () => {
  it('loads as stale, and a save stops with STORE_ERROR naming it instead of replacing it', () => {
    const vectors = randomUnitVectors(4, 8, 54);
    const labels = ['a', 'b', 'c', 'd'];
    for (const kind of ['flat', 'hnsw'] as const) {
      const index = createIndex({ dim: 8, expectedSize: 4, kind });
      index.add(labels, vectors);
      const file = path.join(dir, `obstacle-${kind}.idx`);
      mkdirSync(file);
      expect(() => loadIndex(file), kind).toThrow(expect.objectContaining({ name: 'StaleIndexError', reason: 'the index file is a directory' }));
      expect(() => index.save(file, 'fp'), kind).toThrow(expect.objectContaining({ code: ExitCode.STORE_ERROR, message: `${file} is a directory, not a search index file; facectl will not delete or replace it: move it away` }));
      rmSync(file, { recursive: true });
    }
    // HNSW: a directory where its graph belongs.
    const index = createIndex({ dim: 8, expectedSize: 4, kind: 'hnsw' });
    index.add(labels, vectors);
    const file = path.join(dir, 'obstacle-graph.idx');
    index.save(file, 'fp');
    renameSync(`${file}.usearch`, `${file}.moved`);
    mkdirSync(`${file}.usearch`);
    expect(() => loadIndex(file)).toThrow(expect.objectContaining({ name: 'StaleIndexError', reason: 'graph file obstacle-graph.idx.usearch is a directory' }));
    expect(() => loadIndex(file, {}, { hnsw: { view: true } })).toThrow(expect.objectContaining({ name: 'StaleIndexError' }));
    expect(() => index.save(file, 'fp')).toThrow(expect.objectContaining({ code: ExitCode.STORE_ERROR, message: expect.stringContaining('.usearch is a directory') }));
  });
});

describe('loadOrRebuild', () => {
  it('rebuilds and saves when the saved index is missing or stale, loads it otherwise', async () => {
    const file = path.join(dir, 'lor.idx');
    const vectors = randomUnitVectors(20, 8, 52);
    const labels = Array.from({ length: 20 }, (_, i) => `y${i}`);
    let builds = 0;
    const build = () => {
      builds++;
      const index = createIndex({ dim: 8, expectedSize: 20 });
      index.add(labels, vectors);
      return index;
    };
    const first = await loadOrRebuild(file, { fingerprint: 'g1', count: 20 }, build);
    expect(first).toMatchObject({ rebuilt: true, staleReason: 'no index file' });
    const second = await loadOrRebuild(file, { fingerprint: 'g1', count: 20 }, build);
    expect(second.rebuilt).toBe(false);
    expect(second.index.size).toBe(20);
    const third = await loadOrRebuild(file, { fingerprint: 'g2', count: 20 }, build);
    expect(third).toMatchObject({ rebuilt: true, staleReason: 'store fingerprint changed' });
    expect(builds).toBe(2);
  });
});
