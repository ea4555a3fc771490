/** The files backend behind the Gallery interface: the shared contract, plus its index cache and lock. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { FilesGallery } from '../../src/gallery/files.js';
import { dot } from '../../src/pipeline/vector.js';
import { storeTestHooks } from '../../src/store/fsio.js';
import { GalleryStore, StoreSnapshot } from '../../src/store/index.js';
import { processStartTime } from '../../src/store/lock.js';
import { ExitCode } from '../../src/errors.js';
import { expectFacectlError, tempDir } from '../store/helpers.js';
import { DIM, galleryContract, MODEL, newFace, unitVectors } from './contract.js';

describe('files gallery: the Gallery contract', () => {
  galleryContract(async () => FilesGallery.open(path.join(tempDir(), 'store')));
});

describe('files gallery: opening and the index cache', () => {
  it('reads a missing store as empty without creating it; the first write creates it; mustExist refuses', async () => {
    const dir = path.join(tempDir(), 'store');
    const g = FilesGallery.open(dir);
    expect((await g.info()).faces).toBe(0);
    expect(fs.existsSync(dir)).toBe(false);
    expect(() => FilesGallery.open(dir, { mustExist: true })).toThrow(/no store here/);
    await g.mutate(async (d) => d.addFaces(MODEL, [newFace('a', unitVectors(1)[0]!)]));
    expect(fs.readdirSync(dir).sort()).toEqual(['data.csv', 'embeddings.f32', 'manifest.json']);
  });

  it('writes the index under the store lock: a login that finds the lock held searches without saving', async () => {
    const dir = path.join(tempDir(), 'store');
    const v = unitVectors(20, DIM, 9);
    await FilesGallery.open(dir).mutate(async (d) => d.addFaces(MODEL, v.map((e, i) => newFace(`p${i}`, e))));
    // Another live process holds the lock (our parent: alive, with its real start time).
    const lock = path.join(dir, 'store.lock');
    fs.writeFileSync(lock, JSON.stringify({ pid: process.ppid, hostname: os.hostname(), since: new Date().toISOString(), processStart: processStartTime(process.ppid) }));
    const busy = await FilesGallery.open(dir).search(v[3]!, 1, 'flat');
    expect(busy.hits[0]![0]!.id).toBe('p3');
    expect(busy.index.origin).toBe('built');
    expect(fs.existsSync(path.join(dir, 'index.flat'))).toBe(false);
    fs.unlinkSync(lock);
    expect((await FilesGallery.open(dir).search(v[3]!, 1, 'flat')).index.origin).toBe('built');
    expect(fs.existsSync(path.join(dir, 'index.flat'))).toBe(true);
    expect((await FilesGallery.open(dir).search(v[3]!, 1, 'flat')).index.origin).toBe('loaded');
    // Switching kind replaces the other kind's file.
    await FilesGallery.open(dir).rebuildIndex('hnsw');
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('index.')).sort()).toEqual(['index.hnsw', 'index.hnsw.usearch']);
  });

  it('an unreadable index file reads as stale: rebuilt from the store and saved again', async () => {
    const dir = path.join(tempDir(), 'store');
    const v = unitVectors(5, DIM, 10);
    const g = FilesGallery.open(dir);
    await g.mutate(async (d) => d.addFaces(MODEL, v.map((e, i) => newFace(`p${i}`, e))));
    await g.rebuildIndex('flat');
    fs.writeFileSync(path.join(dir, 'index.flat'), 'garbage');
    expect((await FilesGallery.open(dir).search(v[0]!, 1, 'flat')).index.origin).toBe('built');
  });
});

describe('files gallery: something other than a file where an index goes', () => {
  it('a directory: searches rebuild without saving; a commit, a repair and index rebuild --index stop with STORE_ERROR naming it, and leave it', async () => {
    const dir = path.join(tempDir(), 'store');
    const v = unitVectors(5, DIM, 41);
    await FilesGallery.open(dir).mutate(async (d) => d.addFaces(MODEL, v.map((e, i) => newFace(`p${i}`, e))));
    const flat = path.join(dir, 'index.flat');
    fs.mkdirSync(flat);
    fs.writeFileSync(path.join(flat, 'keep'), 'x');
    for (const kind of ['auto', 'flat', 'hnsw'] as const) {
      const found = await FilesGallery.open(dir).search(v[2]!, 1, kind);
      expect([found.hits[0]![0]!.id, found.index.origin], kind).toEqual(['p2', 'built']);
    }
    const naming = /index\.flat is a directory, not a search index file/;
    await expectFacectlError(() => FilesGallery.open(dir).mutate(async (d) => d.removeIdentity('p1')), ExitCode.STORE_ERROR, naming);
    await expectFacectlError(() => FilesGallery.open(dir).repair(), ExitCode.STORE_ERROR, naming);
    await expectFacectlError(() => FilesGallery.open(dir).rebuildIndex('flat'), ExitCode.STORE_ERROR, naming); // the save
    await expectFacectlError(() => FilesGallery.open(dir).rebuildIndex('hnsw'), ExitCode.STORE_ERROR, naming); // the switch's delete
    expect(fs.readdirSync(flat)).toEqual(['keep']);
    expect((await FilesGallery.open(dir).identities()).map((it) => it.id)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
  });
});

describe('files gallery: HNSW search', () => {
  it('near-ties: the top identity is the exact one whatever k (spare candidates re-scored exactly)', async () => {
    // 300 people; each query halfway between two of them (plus a little noise), where HNSW's 8-bit scores
    // (off by up to ~0.013) often order the two wrongly (77 of these 400 searches
    // had another top when only the k candidates returned were re-scored).
    const dim = 128;
    const v = unitVectors(300, dim, 99);
    const noise = unitVectors(200, dim, 7);
    const g = FilesGallery.open(path.join(tempDir(), 'store'));
    await g.mutate(async (d) => d.addFaces({ ...MODEL, dimension: dim }, v.map((e, i) => newFace(`p${i}`, e))));
    const wrong: string[] = [];
    for (let q = 0; q < 200; q++) {
      const [i, j] = [q % 300, (q * 7 + 1) % 300];
      const query = Float32Array.from({ length: dim }, (_, d) => v[i]![d]! + v[j]![d]! + 0.02 * noise[q]![d]!);
      const norm = Math.hypot(...query);
      query.forEach((x, d) => (query[d] = x / norm));
      const exact = (await g.search(query, 1, 'flat')).hits[0]![0]!;
      for (const k of [1, 3]) {
        const top = (await g.search(query, k, 'hnsw')).hits[0]!;
        expect(top).toHaveLength(k);
        if (top[0]!.id !== exact.id) wrong.push(`query ${q} k=${k}: ${top[0]!.id} instead of ${exact.id}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('files gallery: a removed person leaves nothing in the store', () => {
  /** The files of the store that hold these bytes. */
  const holding = (dir: string, bytes: Uint8Array) => fs.readdirSync(dir).filter((f) => fs.readFileSync(path.join(dir, f)).includes(Buffer.from(bytes)));
  const bytesOf = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

  it('remove deletes the saved indexes that still hold the removed vector; search rebuilds them', async () => {
    const dir = path.join(tempDir(), 'store');
    const v = unitVectors(6, DIM, 21);
    const g = FilesGallery.open(dir);
    await g.mutate(async (d) => d.addFaces(MODEL, v.map((e, i) => newFace(`p${i}`, e))));
    for (const kind of ['flat', 'hnsw'] as const) {
      await FilesGallery.open(dir).rebuildIndex(kind);
      expect(holding(dir, bytesOf(v[2]!)).length, kind).toBeGreaterThan(0);
      await FilesGallery.open(dir).mutate(async (d) => d.removeIdentity('p2'));
      expect(holding(dir, bytesOf(v[2]!)), kind).toEqual([]);
      expect(fs.readdirSync(dir).filter((f) => f.startsWith('index.')), kind).toEqual([]);
      // Put p2 back for the next kind.
      await FilesGallery.open(dir).mutate(async (d) => d.addFaces(MODEL, [newFace('p2', v[2]!)]));
    }
    const found = await FilesGallery.open(dir).search(v[4]!, 1, 'flat');
    expect([found.hits[0]![0]!.id, found.index.origin]).toEqual(['p4', 'built']);
    // A commit that leaves the faces as they are (a calibration) keeps the current index.
    await FilesGallery.open(dir).mutate((d) => d.setThreshold({ value: 0.5, source: 'calibrated', dataset: 'test', targetFpr: 0.01, basis: 'open-set', date: '2026-12-07T00:00:00.000Z', model: MODEL.id }));
    expect((await FilesGallery.open(dir).search(v[4]!, 1, 'flat')).index.origin).toBe('loaded');
  });

  it('the stale index is gone before the commit point: a kill right after committing a remove leaves no removed vector', async () => {
    const dir = path.join(tempDir(), 'store');
    const v = unitVectors(6, DIM, 23);
    await FilesGallery.open(dir).mutate(async (d) => d.addFaces(MODEL, v.map((e, i) => newFace(`p${i}`, e))));
    await FilesGallery.open(dir).rebuildIndex('hnsw');
    // An HNSW save killed between its graph and its header leaves the graph alone: it goes too.
    fs.rmSync(path.join(dir, 'index.hnsw'));
    expect(holding(dir, bytesOf(v[2]!))).not.toEqual([]);
    const atCommitPoint: string[][] = [];
    storeTestHooks.onStep = (step) => {
      // The old embeddings.f32 holds it until the renames that follow; no index file may.
      if (step === 'committed') atCommitPoint.push(holding(dir, bytesOf(v[2]!)).filter((f) => f.startsWith('index.')));
    };
    try {
      await FilesGallery.open(dir).mutate(async (d) => d.removeIdentity('p2'));
    } finally {
      storeTestHooks.onStep = undefined;
    }
    expect(atCommitPoint).toEqual([[]]);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('index.'))).toEqual([]);
  });

  it('flat and HNSW give the same score to the bit, the one dot() verify and enroll use, so a score at the threshold gets one decision', async () => {
    const dir = path.join(tempDir(), 'store');
    const v = unitVectors(40, DIM, 26);
    await FilesGallery.open(dir).mutate(async (d) => d.addFaces(MODEL, v.map((e, i) => newFace(`p${i}`, e))));
    const queries = unitVectors(12, DIM, 27);
    const g = FilesGallery.open(dir);
    const s = await g.snapshot();
    for (const q of queries) {
      const [flat, hnsw] = [(await g.search(q, 3, 'flat')).hits[0]!, (await g.search(q, 3, 'hnsw')).hits[0]!];
      expect(hnsw.map((c) => [c.id, c.score])).toEqual(flat.map((c) => [c.id, c.score]));
      for (const c of flat) expect(c.score).toBe(dot(q, s.identity(c.id)!.vector));
    }
  });

  it('an auto search uses a current index of the other kind: an HNSW index built on purpose is not replaced by a flat one', async () => {
    const dir = path.join(tempDir(), 'store');
    const v = unitVectors(6, DIM, 24);
    await FilesGallery.open(dir).mutate(async (d) => d.addFaces(MODEL, v.map((e, i) => newFace(`p${i}`, e))));
    await FilesGallery.open(dir).rebuildIndex('hnsw');
    const found = await FilesGallery.open(dir).search(v[3]!, 1, 'auto'); // 6 faces: auto alone would choose flat
    expect([found.hits[0]![0]!.id, found.index.kind, found.index.origin]).toEqual(['p3', 'hnsw', 'loaded']);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('index.')).sort()).toEqual(['index.hnsw', 'index.hnsw.usearch']);
    // Once stale (a new face), auto goes back to its own choice.
    await FilesGallery.open(dir).mutate(async (d) => d.addFaces(MODEL, [newFace('p6', unitVectors(7, DIM, 25)[6]!)]));
    expect((await FilesGallery.open(dir).search(v[3]!, 1, 'auto')).index).toMatchObject({ kind: 'flat', origin: 'built' });
  });

  it('an explicit --index uses or builds that kind and leaves the other alone; only index rebuild --index deletes it', async () => {
    const dir = path.join(tempDir(), 'store');
    const v = unitVectors(6, DIM, 28); // 6 faces: the size rule picks flat
    await FilesGallery.open(dir).mutate(async (d) => d.addFaces(MODEL, v.map((e, i) => newFace(`p${i}`, e))));
    const saved = () => fs.readdirSync(dir).filter((f) => f.startsWith('index.')).sort();
    const search = async (choice: 'auto' | 'flat' | 'hnsw') => (await FilesGallery.open(dir).search(v[3]!, 1, choice)).index;
    expect(await search('auto')).toEqual({ kind: 'flat', origin: 'built' });
    // A one-off login --index hnsw builds and saves HNSW beside the flat index...
    expect(await search('hnsw')).toEqual({ kind: 'hnsw', origin: 'built' });
    expect(saved()).toEqual(['index.flat', 'index.hnsw', 'index.hnsw.usearch']);
    // ...and the plain logins after it go on with the size rule's kind, whose saved index is still current.
    expect(await search('auto')).toEqual({ kind: 'flat', origin: 'loaded' });
    expect(await search('hnsw')).toEqual({ kind: 'hnsw', origin: 'loaded' });
    // A deliberate switch deletes the other kind: auto then keeps using the kind built on purpose.
    await FilesGallery.open(dir).rebuildIndex('hnsw');
    expect(saved()).toEqual(['index.hnsw', 'index.hnsw.usearch']);
    expect(await search('auto')).toEqual({ kind: 'hnsw', origin: 'loaded' });
    // A one-off login --index flat does not delete it.
    expect(await search('flat')).toEqual({ kind: 'flat', origin: 'built' });
    expect(saved()).toEqual(['index.flat', 'index.hnsw', 'index.hnsw.usearch']);
    expect(await search('hnsw')).toEqual({ kind: 'hnsw', origin: 'loaded' });
    // index rebuild without --index rebuilds the kind auto uses and deletes nothing.
    expect((await FilesGallery.open(dir).rebuildIndex('auto')).kind).toBe('flat');
    expect(saved()).toEqual(['index.flat', 'index.hnsw', 'index.hnsw.usearch']);
    await FilesGallery.open(dir).rebuildIndex('flat');
    expect(saved()).toEqual(['index.flat']);
  });

  it('a reader that read the store before a remove does not save an index holding the removed vector', async () => {
    const dir = path.join(tempDir(), 'store');
    const v = unitVectors(6, DIM, 22);
    await FilesGallery.open(dir).mutate(async (d) => d.addFaces(MODEL, v.map((e, i) => newFace(`p${i}`, e))));
    const before = FilesGallery.open(dir, { search: true });
    await before.info(); // opened to search: its snapshot, with p2 enrolled
    await FilesGallery.open(dir).mutate(async (d) => d.removeIdentity('p2'));
    const late = await before.search(v[3]!, 1, 'flat'); // builds from its old snapshot
    expect([late.hits[0]![0]!.id, late.index.origin]).toEqual(['p3', 'built']);
    expect(holding(dir, bytesOf(v[2]!))).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'index.flat'))).toBe(false);
  });
});

describe('files gallery: what needs no embedding reads none', () => {
  /** alice (3 faces over two commits, renamed by the second), bob, carol (2, a hostile name and paths). */
  async function store(): Promise<{ dir: string; v: Float32Array[] }> {
    const dir = path.join(tempDir(), 'store');
    const v = unitVectors(6, DIM, 5);
    const hostile = { name: '=Carol, "C"', sourcePath: '/p/"a,b"\n\r\nc.jpg' };
    await FilesGallery.open(dir).mutate(async (d) =>
      d.addFaces(MODEL, [newFace('alice', v[0]!), newFace('carol', v[1]!, hostile), newFace('bob', v[2]!), newFace('alice', v[3]!)]),
    );
    await new Promise((r) => setTimeout(r, 5)); // a later added_at
    await FilesGallery.open(dir).mutate(async (d) => d.addFaces(MODEL, [newFace('alice', v[4]!, { name: 'Alice A' }), newFace('carol', v[5]!, hostile)]));
    return { dir, v };
  }

  it('info and list: the same numbers, without deriving identity vectors or reading embeddings.f32 (only its header)', async () => {
    const { dir } = await store();
    const full = await GalleryStore.open(dir);
    const lastAdded = (id: string) => full.rows.filter((r) => r.id === id).map((r) => r.addedAt).sort().at(-1);
    const expected = full.identities().map((it) => ({ id: it.id, name: it.name, faceCount: it.faceCount, lastAdded: lastAdded(it.id) }));
    expect(expected.map((it) => [it.id, it.name, it.faceCount])).toEqual([['alice', 'Alice A', 3], ['carol', '=Carol, "C"', 2], ['bob', 'Name of bob', 1]]);
    expect(expected[0]!.lastAdded! > full.rows[0]!.addedAt).toBe(true);
    const vectors = vi.spyOn(StoreSnapshot.prototype, 'identities');
    const opens = vi.spyOn(GalleryStore, 'open');
    try {
      const info = await FilesGallery.open(dir).info();
      expect(info).toMatchObject({ identities: 3, faces: 6, generation: 2, model: MODEL });
      expect(await FilesGallery.open(dir).identities()).toEqual(expected);
      expect((await FilesGallery.open(dir).rows()).map((r) => r.id)).toEqual(full.rows.map((r) => r.id));
      expect(vectors).not.toHaveBeenCalled();
      expect(opens).not.toHaveBeenCalled();
      // Opened to search (login, serve), info reads the whole store once, which the search then uses.
      const forLogin = FilesGallery.open(dir, { search: true });
      expect(await forLogin.info()).toEqual(info);
      expect(opens).toHaveBeenCalledTimes(1);
      expect(vectors).not.toHaveBeenCalled();
      expect((await forLogin.search(full.identity('bob')!.vector, 1, 'flat')).hits[0]![0]!.id).toBe('bob');
      expect(opens).toHaveBeenCalledTimes(1);
    } finally {
      vectors.mockRestore();
      opens.mockRestore();
    }
  });

  it('info refuses a damaged store as every command does: embeddings.f32 checked by its size and header', async () => {
    const { dir } = await store();
    const dump = path.join(dir, 'embeddings.f32');
    const bytes = fs.readFileSync(dump);
    fs.writeFileSync(dump, bytes.subarray(0, bytes.length - 4));
    await expectFacectlError(() => FilesGallery.open(dir).info(), ExitCode.STORE_ERROR, /embeddings\.f32 is \d+ bytes; manifest\.json says/);
    const stamped = Buffer.from(bytes);
    stamped.writeUInt32LE(7, 24); // another commit's dump
    fs.writeFileSync(dump, stamped);
    await expectFacectlError(() => FilesGallery.open(dir).identities(), ExitCode.STORE_ERROR, /was written by commit 7/);
    fs.writeFileSync(dump, bytes);
    fs.appendFileSync(path.join(dir, 'data.csv'), 'x');
    await expectFacectlError(() => FilesGallery.open(dir).info(), ExitCode.STORE_ERROR, /data\.csv does not match its checksum/);
  });

  it("a login lists the matched person's photos decoding only that person's rows", async () => {
    const { dir, v } = await store();
    const full = await GalleryStore.open(dir);
    const fullRows = full.rows; // decoded before the spy below
    const g = FilesGallery.open(dir, { search: true });
    expect((await g.search(v[1]!, 1, 'flat')).hits[0]![0]!.id).toBe('carol');
    const decodeAll = vi.spyOn(StoreSnapshot.prototype, 'rows', 'get');
    try {
      for (const id of ['carol', 'alice', 'bob']) {
        const faces = await g.facesOf(id);
        const want = fullRows.filter((r) => r.id === id);
        expect(faces.rows, id).toEqual(want);
        expect(faces.embeddings.map((e) => Array.from(e))).toEqual(want.map((r) => Array.from(full.embeddingOf(r))));
      }
      expect(await g.facesOf('nobody')).toEqual({ rows: [], embeddings: [] });
      expect(decodeAll).not.toHaveBeenCalled();
    } finally {
      decodeAll.mockRestore();
    }
  });
});
