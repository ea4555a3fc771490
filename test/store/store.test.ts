/** GalleryStore end to end: create/open, permissions, model binding, identities, edits, side files. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { decodeDataCsv } from '../../src/store/csv.js';
import { GalleryStore } from '../../src/store/index.js';
import { sha256Hex } from '../../src/store/load.js';
import { parseManifest } from '../../src/store/manifest.js';
import { expectFacectlError, face, MODEL, modeOf, tempDir } from './helpers.js';

const threshold = (value: number, model = MODEL.id) => ({
  value,
  source: 'calibrated' as const,
  dataset: 'lfw-pairs',
  targetFpr: 0.001,
  date: '2025-01-02T03:04:05.000Z',
  model,
});

const storeDir = () => path.join(tempDir(), 'nested', 'store');

describe('creating and opening', () => {
  it('creates the directory 0700 and every file 0600 even under umask 000', async () => {
    const dir = storeDir();
    const old = process.umask(0o000);
    try {
      await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0)]));
      await GalleryStore.writeSideFile(dir, 'index.hnsw', Buffer.from('idx'));
    } finally {
      process.umask(old);
    }
    expect(modeOf(dir)).toBe(0o700);
    expect(fs.readdirSync(dir).sort()).toEqual(['data.csv', 'embeddings.f32', 'index.hnsw', 'manifest.json']);
    for (const name of fs.readdirSync(dir)) expect(modeOf(path.join(dir, name)), name).toBe(0o600);
  });

  it('open() of a missing store is NOT_FOUND; open({create}) makes an empty one', async () => {
    const dir = storeDir();
    await expectFacectlError(() => GalleryStore.open(dir), ExitCode.NOT_FOUND, /no store here/);
    const empty = await GalleryStore.open(dir, { create: true });
    expect(empty.generation).toBe(1);
    expect(empty.rows).toEqual([]);
    expect(empty.model).toBeNull();
    expect(empty.identities()).toEqual([]);
    expect((await GalleryStore.open(dir)).generation).toBe(1);
  });

  it('refuses to create a store in a non-empty directory that is not one', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    await expectFacectlError(() => GalleryStore.mutate(dir, () => undefined), ExitCode.STORE_ERROR, /not empty and is not a facectl store/);
    await expectFacectlError(() => GalleryStore.open(dir), ExitCode.STORE_ERROR, /not a facectl store/);
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('writes the manifest with model, counts, checksums and provenance', async () => {
    const dir = storeDir();
    const now = new Date('2025-05-06T07:08:09.000Z');
    await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0), face('alice', 1), face('bob', 2)]), { now });
    const { snapshot } = await GalleryStore.mutate(dir, (d) => d.setThreshold(threshold(0.42)), { now });
    const manifest = parseManifest(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest).toEqual(snapshot.manifest);
    expect(manifest).toMatchObject({
      format: 'facectl-store',
      formatVersion: 1,
      generation: 2, // the first mutate creates the store and commits its faces as generation 1
      embeddingsGeneration: 1,
      model: MODEL,
      threshold: threshold(0.42),
      counts: { identities: 2, faces: 3 },
      updatedAt: now.toISOString(),
    });
    for (const file of ['data.csv', 'embeddings.f32'] as const) {
      const bytes = fs.readFileSync(path.join(dir, file));
      expect(manifest.files[file]).toEqual({ sha256: sha256Hex(bytes), bytes: bytes.length });
    }
    expect(decodeDataCsv(fs.readFileSync(path.join(dir, 'data.csv'), 'utf8')).rows[0]!.addedAt).toBe(now.toISOString());
  });
});

describe('rows round-trip through the files', () => {
  it('what mutate() returns equals what open() reads, hostile names included', async () => {
    const dir = storeDir();
    const faces = [
      face('alice', 0, { name: '=HYPERLINK("http://x","y")', sourcePath: '/p/a, "b"\n.jpg' }),
      face('bob', 1, { name: 'Bób "the" Builder, Jr.', quality: { score: 0.5, eyeDistancePx: 12.25, sizePx: 33, rollDeg: -0, yawDeg: 3, sharpness: 1e-9 } }),
      face('carol', 2, { name: '李小龙 👩🏽‍🚀', addedAt: '2020-01-01T00:00:00.000Z' }),
      face('dave', 3, { name: "'apostrophe", box: { x: -1.5, y: 1e21, width: 0.1 + 0.2, height: 7 } }),
    ];
    const { snapshot: written } = await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, faces));
    const read = await GalleryStore.open(dir);
    expect(read.rows).toEqual(written.rows);
    expect(read.rows.map((r) => r.name)).toEqual(faces.map((f) => f.name));
    expect(read.rows[2]!.addedAt).toBe('2020-01-01T00:00:00.000Z');
    read.rows.forEach((row, i) => expect(Array.from(read.embeddingOf(row))).toEqual(Array.from(written.embeddingOf(i))));
    expect(fs.readFileSync(path.join(dir, 'data.csv'), 'utf8')).toContain(`"'=HYPERLINK(""http://x"",""y"")"`);
  });
});

describe('snapshots', () => {
  it('open() gives identities without decoding rows; rows decode on first access and agree', async () => {
    const dir = storeDir();
    await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0), face('bob', 1), face('alice', 2)]));
    const snapshot = await GalleryStore.open(dir);
    expect(snapshot.faceCount).toBe(3);
    expect(snapshot.index.ids).toEqual(['alice', 'bob', 'alice']);
    expect(snapshot.hasIdentity('bob')).toBe(true);
    expect(snapshot.hasIdentity('carol')).toBe(false);
    expect(Array.from(snapshot.embeddingOf(2))).toEqual(Array.from(face('alice', 2).embedding));
    expect(snapshot.identities().map((i) => [i.id, i.faceCount, i.rowIndexes])).toEqual([
      ['alice', 2, [0, 2]],
      ['bob', 1, [1]],
    ]);
    expect(snapshot.rows.map((r) => r.sourcePath)).toEqual(['/photos/alice-0.jpg', '/photos/bob-1.jpg', '/photos/alice-2.jpg']);
    expect(() => snapshot.embeddingOf(3)).toThrow(RangeError);
  });
});

describe('model binding', () => {
  it('binds on first enrollment and refuses another model with MODEL_MISMATCH', async () => {
    const dir = storeDir();
    await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0)]));
    const other = { id: 'arcface-r100', hash: 'sha256:2222', dimension: 512 };
    await expectFacectlError(
      () => GalleryStore.mutate(dir, (d) => void d.addFaces(other, [face('bob', 1)])),
      ExitCode.MODEL_MISMATCH,
      /^store was built with model test-model; this is arcface-r100: run `facectl index rebuild --reembed`$/,
    );
    // Same id, different weights: the hash tells them apart.
    await expectFacectlError(
      () => GalleryStore.mutate(dir, (d) => void d.addFaces({ ...MODEL, hash: 'sha256:9999' }, [face('bob', 1)])),
      ExitCode.MODEL_MISMATCH,
      /model test-model \(hash sha256:1111…\); this is test-model \(hash sha256:9999…\)/,
    );
    expect((await GalleryStore.open(dir)).rows).toHaveLength(1);
  });

  it('an embedding of the wrong length is a MODEL_ERROR; a zero embedding is INTERNAL', async () => {
    const dir = storeDir();
    await expectFacectlError(
      () => GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [{ ...face('a', 0), embedding: new Float32Array(3) }])),
      ExitCode.MODEL_ERROR,
      /3 values but the model declares 8/,
    );
    await expectFacectlError(
      () => GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [{ ...face('a', 0), embedding: new Float32Array(8) }])),
      ExitCode.INTERNAL,
      /zero or not finite/,
    );
  });

  it('an emptied store may be rebound; a threshold for the old model is cleared', async () => {
    const dir = storeDir();
    await GalleryStore.mutate(dir, (d) => {
      d.addFaces(MODEL, [face('alice', 0)]);
      d.setThreshold(threshold(0.5));
    });
    await GalleryStore.mutate(dir, (d) => void d.removeIdentity('alice'));
    const other = { id: 'other', hash: 'h2', dimension: 4 };
    const { snapshot } = await GalleryStore.mutate(dir, (d) => void d.addFaces(other, [{ ...face('bob', 0), embedding: Float32Array.from([0, 3, 0, 4]) }]));
    expect(snapshot.model).toEqual(other);
    expect(snapshot.threshold).toBeNull();
    expect(Array.from(snapshot.embeddingOf(0))).toEqual([0, 0.6000000238418579, 0, 0.800000011920929]);
  });

  it('replaceAllEmbeddings re-embeds every row with a new model', async () => {
    const dir = storeDir();
    await GalleryStore.mutate(dir, (d) => {
      d.addFaces(MODEL, [face('alice', 0), face('bob', 1)]);
      d.setThreshold(threshold(0.5));
    });
    const next = { id: 'new-model', hash: 'h3', dimension: 2 };
    const { snapshot } = await GalleryStore.mutate(dir, (d) => d.replaceAllEmbeddings(next, [Float32Array.from([2, 0]), Float32Array.from([0, -5])]));
    expect(snapshot.model).toEqual(next);
    expect(snapshot.rows.map((r) => r.modelId)).toEqual(['new-model', 'new-model']);
    expect(snapshot.threshold).toBeNull();
    const read = await GalleryStore.open(dir, { verifyEmbeddings: true });
    expect(Array.from(read.embeddingOf(1))).toEqual([0, -1]);
  });

  it('setSourcePath rewrites one row\'s photo path and keeps its embedding; a NUL in it is refused', async () => {
    const dir = storeDir();
    await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0), face('bob', 1)]));
    const before = await GalleryStore.open(dir);
    const { snapshot } = await GalleryStore.mutate(dir, (d) => d.setSourcePath(1, '/moved/bob.jpg'));
    expect(snapshot.rows.map((r) => r.sourcePath)).toEqual(['/photos/alice-0.jpg', '/moved/bob.jpg']);
    expect(snapshot.manifest.files['embeddings.f32'].sha256).toBe(before.manifest.files['embeddings.f32'].sha256);
    expect((await GalleryStore.open(dir)).rows[1]!.sourcePath).toBe('/moved/bob.jpg');
    await expectFacectlError(() => GalleryStore.mutate(dir, (d) => d.setSourcePath(0, 'a\0b')), ExitCode.INTERNAL, /without NUL/);
  });

  it('setThreshold refuses a threshold chosen for another model', async () => {
    const dir = storeDir();
    await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0)]));
    await expectFacectlError(
      () => GalleryStore.mutate(dir, (d) => d.setThreshold(threshold(0.5, 'other'))),
      ExitCode.MODEL_MISMATCH,
      /threshold was chosen for model other/,
    );
    await expectFacectlError(() => GalleryStore.mutate(dir, (d) => d.setThreshold(threshold(1.5))), ExitCode.USAGE, /\[-1, 1\]/);
  });
});

describe('identities', () => {
  /** Independent mean: float64 sum of each row's stored embedding, normalised. */
  function referenceMean(vectors: Float32Array[]): number[] {
    const sum = new Array<number>(vectors[0]!.length).fill(0);
    for (const v of vectors) v.forEach((x, i) => (sum[i]! += x));
    const norm = Math.hypot(...sum);
    return sum.map((x) => x / norm);
  }

  it('an identity vector is the normalised mean of its rows, after adds and removes', async () => {
    const dir = storeDir();
    await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0, {}, 0.3), face('bob', 4), face('alice', 1, {}, -2)]));
    await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 2), face('carol', 6)]));
    await GalleryStore.mutate(dir, (d) => void d.removeIdentity('bob'));
    const snapshot = await GalleryStore.open(dir);
    expect(snapshot.identities().map((i) => [i.id, i.faceCount])).toEqual([
      ['alice', 3],
      ['carol', 1],
    ]);
    for (const identity of snapshot.identities()) {
      const rows = snapshot.rows.filter((r) => r.id === identity.id);
      expect(identity.rowIndexes.map((i) => snapshot.rows[i])).toEqual(rows);
      const want = referenceMean(rows.map((r) => snapshot.embeddingOf(r)));
      Array.from(identity.vector).forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 6));
      expect(Math.hypot(...identity.vector)).toBeCloseTo(1, 6);
    }
    // Every stored row is unit length; alice's third face is not aligned with her first two.
    for (const row of snapshot.rows) expect(Math.hypot(...snapshot.embeddingOf(row))).toBeCloseTo(1, 6);
    const matrix = snapshot.identityMatrix();
    expect(matrix).toHaveLength(2 * MODEL.dimension);
    expect(Array.from(matrix.subarray(MODEL.dimension))).toEqual(Array.from(snapshot.identity('carol')!.vector));
  });

  it('one name per identity: adding a face under a new name renames the identity', async () => {
    const dir = storeDir();
    await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0, { name: 'Alice' }), face('alice', 1, { name: 'Alice' })]));
    const { snapshot } = await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 2, { name: 'Alice Liddell' })]));
    expect(snapshot.rows.map((r) => r.name)).toEqual(['Alice Liddell', 'Alice Liddell', 'Alice Liddell']);
    const renamed = await GalleryStore.mutate(dir, (d) => d.renameIdentity('alice', 'A. Liddell'));
    expect(renamed.snapshot.identity('alice')!.name).toBe('A. Liddell');
    expect(renamed.snapshot.manifest.embeddingsGeneration).toBe(snapshot.manifest.embeddingsGeneration);
  });

  it('removeIdentity of an unknown id is UNKNOWN_ID; an invalid id is INVALID_ID', async () => {
    const dir = storeDir();
    await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0)]));
    await expectFacectlError(() => GalleryStore.mutate(dir, (d) => d.removeIdentity('bob')), ExitCode.UNKNOWN_ID, /no identity "bob"/);
    await expectFacectlError(() => GalleryStore.mutate(dir, (d) => d.removeIdentity('../alice')), ExitCode.INVALID_ID);
    await expectFacectlError(() => GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('-x', 0)])), ExitCode.INVALID_ID);
    await expectFacectlError(() => GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('x', 0, { name: 'a\nb' })])), ExitCode.USAGE);
    expect((await GalleryStore.open(dir)).generation).toBe(1); // none of the refused changes committed
  });
});

describe('generations and caching keys', () => {
  it('a no-op mutate commits nothing; a threshold change keeps the dump and its checksum', async () => {
    const dir = storeDir();
    const first = await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0)]));
    const dumpBefore = fs.statSync(path.join(dir, 'embeddings.f32'));
    const noop = await GalleryStore.mutate(dir, (d) => d.rows.length);
    expect(noop).toMatchObject({ result: 1, committed: false });
    expect(noop.snapshot.generation).toBe(first.snapshot.generation);
    const t = await GalleryStore.mutate(dir, (d) => d.setThreshold(threshold(0.3)));
    expect(t.snapshot.generation).toBe(first.snapshot.generation + 1);
    expect(t.snapshot.embeddingsSha256).toBe(first.snapshot.embeddingsSha256);
    expect(fs.statSync(path.join(dir, 'embeddings.f32')).ino).toBe(dumpBefore.ino); // not rewritten
    const added = await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('bob', 1)]));
    expect(added.snapshot.embeddingsSha256).not.toBe(first.snapshot.embeddingsSha256);
  });

  it('expectGeneration refuses to apply work prepared against an older generation', async () => {
    const dir = storeDir();
    const { snapshot } = await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0)]));
    await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('bob', 1)]));
    await expectFacectlError(
      () => GalleryStore.mutate(dir, (d) => d.removeIdentity('alice'), { expectGeneration: snapshot.generation }),
      ExitCode.STORE_ERROR,
      /store changed while this command ran/,
    );
  });
});

describe("a commit on the caller's own snapshot (a long-lived reader: facectl serve)", () => {
  const fourPeople = (dir: string) =>
    GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0), face('bob', 1), face('alice', 2, {}, 0.5), face('carol', 3), face('dave', 4), face('carol', 5, {}, 0.2)]));

  it('is the base of the change while it is the committed generation; otherwise the store is read under the lock', async () => {
    const dir = storeDir();
    const held = (await fourPeople(dir)).snapshot;
    const next = await GalleryStore.mutate(dir, (d) => (expect(d.base).toBe(held), void d.removeIdentity('dave')), { base: held });
    // Another writer commits meanwhile: the snapshot held is no longer the committed one, and is not used.
    await GalleryStore.mutate(dir, (d) => d.setThreshold(threshold(0.3)));
    await GalleryStore.mutate(
      dir,
      (d) => {
        expect(d.base).not.toBe(next.snapshot);
        expect(d.base.threshold?.value).toBe(0.3);
      },
      { base: next.snapshot },
    );
    // Nor is a snapshot of another store, nor one read before the store was deleted and made anew (same generation).
    fs.rmSync(dir, { recursive: true });
    const anew = (await fourPeople(dir)).snapshot;
    expect(anew.generation).toBe(held.generation);
    await GalleryStore.mutate(dir, (d) => expect(d.base).not.toBe(held), { base: held });
    await GalleryStore.mutate(dir, (d) => expect(d.base).not.toBe(anew), { base: (await fourPeople(storeDir())).snapshot });
  });

  it('is not used once the files were changed outside facectl: a hand edit is refused or carried forward as without it, never written over', async () => {
    // data.csv edited by hand (what `index rebuild` is there to accept): refused (exit 11) as a fresh read refuses it.
    const dir = storeDir();
    const held = (await fourPeople(dir)).snapshot;
    const data = path.join(dir, 'data.csv');
    fs.writeFileSync(data, fs.readFileSync(data, 'utf8').replace('Name of bob', 'Robert, edited'));
    await expectFacectlError(() => GalleryStore.mutate(dir, (d) => void d.removeIdentity('dave'), { base: held }), ExitCode.STORE_ERROR, /data\.csv does not match its checksum/);
    expect(fs.readFileSync(data, 'utf8')).toContain('Robert, edited');
    // manifest.json edited by hand (a threshold): the change starts from what is on disk.
    const other = storeDir();
    await fourPeople(other);
    await GalleryStore.mutate(other, (d) => d.setThreshold(threshold(0.3)));
    const kept = (await GalleryStore.mutate(other, (d) => void d.removeIdentity('dave'))).snapshot;
    const manifest = path.join(other, 'manifest.json');
    fs.writeFileSync(manifest, fs.readFileSync(manifest, 'utf8').replace('"value": 0.3', '"value": 0.8'));
    const after = await GalleryStore.mutate(other, (d) => (expect(d.base).not.toBe(kept), void d.removeIdentity('carol')), { base: kept });
    expect(after.snapshot.threshold?.value).toBe(0.8);
    // The embeddings file cut short: refused, as without a base.
    const third = storeDir();
    const held3 = (await fourPeople(third)).snapshot;
    fs.truncateSync(path.join(third, 'embeddings.f32'), fs.statSync(path.join(third, 'embeddings.f32')).size - 4);
    await expectFacectlError(() => GalleryStore.mutate(third, (d) => void d.removeIdentity('dave'), { base: held3 }), ExitCode.STORE_ERROR, /embeddings\.f32 is \d+ bytes/);
  });

  it("keeps the vector of every identity whose embeddings it did not change, derived as a fresh open derives them", async () => {
    const dir = storeDir();
    const held = (await fourPeople(dir)).snapshot;
    const before = new Map(held.identities().map((it) => [it.id, Array.from(it.vector)]));
    const fresh = async () => (await GalleryStore.open(dir)).identities().map((it) => ({ ...it, vector: Array.from(it.vector) }));
    const derived = (s: typeof held) => s.identities().map((it) => ({ ...it, vector: Array.from(it.vector) }));
    const changed = await GalleryStore.mutate(
      dir,
      (d) => {
        d.addFaces(MODEL, [face('bob', 6, {}, 0.3), face('eve', 7)]);
        d.removeIdentity('alice');
        d.renameIdentity('dave', 'Dave D');
      },
      { base: held },
    );
    expect(changed.snapshot.identitiesDerived).toBe(true); // at the commit, while the base was at hand
    expect(derived(changed.snapshot)).toEqual(await fresh());
    const after = new Map(changed.snapshot.identities().map((it) => [it.id, Array.from(it.vector)]));
    expect(after.get('carol')).toEqual(before.get('carol'));
    expect(after.get('bob')).not.toEqual(before.get('bob'));
    expect([...after.keys()]).toEqual(['bob', 'carol', 'dave', 'eve']);
    // A commit that keeps the embeddings (a threshold) keeps every vector.
    const kept = await GalleryStore.mutate(dir, (d) => d.setThreshold(threshold(0.4)), { base: changed.snapshot });
    expect(kept.snapshot.identitiesDerived).toBe(true);
    expect(derived(kept.snapshot)).toEqual(await fresh());
    // A base whose identities were never derived: left to the first identities() call, as before.
    const plain = await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('frank', 0, {}, 0.7)]));
    expect(plain.snapshot.identitiesDerived).toBe(false);
    expect(derived(plain.snapshot)).toEqual(await fresh());
  });
});

describe('side files', () => {
  it('writes, replaces, reads and removes a side file atomically', async () => {
    const dir = storeDir();
    await GalleryStore.open(dir, { create: true });
    expect(GalleryStore.readSideFile(dir, 'index.hnsw')).toBeUndefined();
    await GalleryStore.writeSideFile(dir, 'index.hnsw', Buffer.from('one'));
    await GalleryStore.writeSideFile(dir, 'index.hnsw', new Uint8Array([1, 2, 3]));
    expect([...GalleryStore.readSideFile(dir, 'index.hnsw')!]).toEqual([1, 2, 3]);
    expect(modeOf(path.join(dir, 'index.hnsw'))).toBe(0o600);
    // Side files do not disturb the store.
    expect((await GalleryStore.verify(dir)).problems).toEqual([]);
    expect(await GalleryStore.removeSideFile(dir, 'index.hnsw')).toBe(true);
    expect(await GalleryStore.removeSideFile(dir, 'index.hnsw')).toBe(false);
  });

  it.each(['manifest.json', 'data.csv', 'embeddings.f32', 'store.lock', 'commit.journal', '../x', '.hidden', 'a/b', 'x.g3.next'])(
    'refuses the side-file name %j',
    async (name) => {
      const dir = storeDir();
      await GalleryStore.open(dir, { create: true });
      await expectFacectlError(() => GalleryStore.writeSideFile(dir, name, Buffer.from('x')), ExitCode.INTERNAL, /cannot be a side file/);
    },
  );
});
