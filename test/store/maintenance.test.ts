/** verify() and repair(): damaged stores are refused with a clear STORE_ERROR and fixed where possible. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { decodeDataCsv, encodeDataCsv } from '../../src/store/csv.js';
import { GalleryStore, readableModel, type StoreDraft } from '../../src/store/index.js';
import { sha256Hex } from '../../src/store/load.js';
import type { FaceRow } from '../../src/store/types.js';
import { storeState } from '../helpers/store-checks.js';
import { deadPid, expectFacectlError, face, MODEL, modeOf, tempDir } from './helpers.js';

async function store(): Promise<string> {
  const dir = path.join(tempDir(), 'store');
  await GalleryStore.mutate(dir, (d) => {
    d.addFaces(MODEL, [face('alice', 0), face('alice', 1), face('bob', 2), face('carol', 3)]);
    d.setThreshold({ value: 0.55, source: 'default', date: '2025-01-01T00:00:00.000Z', model: MODEL.id });
  });
  return dir;
}

const file = (dir: string, name: string) => path.join(dir, name);

/** Edits data.csv the way a spreadsheet user would (the manifest checksum is not updated). */
function editCsv(dir: string, edit: (rows: FaceRow[]) => FaceRow[]): void {
  const rows = decodeDataCsv(fs.readFileSync(file(dir, 'data.csv'), 'utf8')).rows;
  fs.writeFileSync(file(dir, 'data.csv'), encodeDataCsv(edit(rows)));
}

/** Makes the manifest agree with the current bytes of `name`, so only deeper damage remains. */
function resealManifest(dir: string, name: 'data.csv' | 'embeddings.f32'): void {
  const manifest = JSON.parse(fs.readFileSync(file(dir, 'manifest.json'), 'utf8'));
  const bytes = fs.readFileSync(file(dir, name));
  manifest.files[name] = { sha256: sha256Hex(bytes), bytes: bytes.length };
  fs.writeFileSync(file(dir, 'manifest.json'), JSON.stringify(manifest));
}

async function expectDamaged(dir: string, why: RegExp): Promise<void> {
  await expectFacectlError(() => GalleryStore.open(dir), ExitCode.STORE_ERROR, why);
  await expectFacectlError(() => GalleryStore.mutate(dir, () => undefined), ExitCode.STORE_ERROR, /run `facectl index rebuild`/);
  const report = await GalleryStore.verify(dir);
  expect(report.ok).toBe(false);
  expect(report.problems.join('\n')).toMatch(why);
}

/** repair() without being told what to do with rows that lost their embedding: STORE_ERROR, the files byte for byte as they were. */
async function expectRefusedUnchanged(dir: string, why: RegExp): Promise<void> {
  const before = storeState(dir);
  const err = await expectFacectlError(() => GalleryStore.repair(dir), ExitCode.STORE_ERROR, why);
  expect(err.oneLine().split('\n')).toHaveLength(1);
  expect(storeState(dir)).toEqual(before);
  expect((await GalleryStore.verify(dir)).ok).toBe(false); // still damaged: nothing was committed
}

describe('verify and repair', () => {
  it('a sound store verifies clean and repair changes nothing', async () => {
    const dir = await store();
    expect(await GalleryStore.verify(dir)).toEqual({ ok: true, generation: 1, faces: 4, identities: 3, problems: [], notes: [] });
    const before = fs.readFileSync(file(dir, 'manifest.json'));
    const report = await GalleryStore.repair(dir);
    expect(report.actions).toEqual([]);
    expect(fs.readFileSync(file(dir, 'manifest.json'))).toEqual(before);
  });

  it('data.csv edited outside facectl: refused, then accepted by repair', async () => {
    const dir = await store();
    editCsv(dir, (rows) => rows.map((r) => (r.id === 'bob' ? { ...r, name: 'Robert' } : r)));
    await expectDamaged(dir, /data\.csv does not match its checksum/);
    const report = await GalleryStore.repair(dir);
    expect(report.actions.join('\n')).toMatch(/changed outside facectl: its current content was accepted/);
    const snapshot = await GalleryStore.open(dir, { verifyEmbeddings: true });
    expect(snapshot.identity('bob')!.name).toBe('Robert');
    expect(snapshot.threshold?.value).toBe(0.55); // provenance kept
  });

  it('rows pointing past the dump and duplicate references are dropped', async () => {
    const dir = await store();
    editCsv(dir, (rows) => rows.map((r, i) => (i === 1 ? { ...r, embeddingIndex: 99 } : i === 3 ? { ...r, embeddingIndex: 2 } : r)));
    resealManifest(dir, 'data.csv');
    await expectDamaged(dir, /row 2 points to embedding 99, past the end/);
    await expectRefusedUnchanged(dir, /2 faces of 2 identities lost their embeddings \(1 points past the end of embeddings\.f32; 1 shares an earlier row's embedding\)/);
    const { actions, snapshot } = await GalleryStore.repair(dir, { lostEmbeddings: 'drop' });
    expect(actions.join('\n')).toMatch(/dropped data\.csv row 2 \(alice\): embedding 99 is past the end/);
    expect(actions.join('\n')).toMatch(/dropped data\.csv row 4 \(carol\): embedding 2 is used by an earlier row/);
    expect(actions.join('\n')).toMatch(/dropped 2 embeddings that no row of data\.csv refers to/);
    expect(snapshot.rows.map((r) => r.id)).toEqual(['alice', 'bob']);
    const reopened = await GalleryStore.open(dir, { verifyEmbeddings: true });
    expect(reopened.rows.map((r) => r.embeddingIndex)).toEqual([0, 1]);
    expect(Array.from(reopened.embeddingOf(1))).toEqual(Array.from(face('bob', 2).embedding));
  });

  it('a row deleted in a spreadsheet leaves an orphan embedding that repair drops', async () => {
    const dir = await store();
    editCsv(dir, (rows) => rows.filter((r) => r.id !== 'bob'));
    resealManifest(dir, 'data.csv');
    await expectDamaged(dir, /data\.csv has 3 rows but embeddings\.f32 has 4/);
    const { actions, snapshot } = await GalleryStore.repair(dir);
    expect(actions.join('\n')).toMatch(/dropped 1 embeddings that no row/);
    expect(snapshot.rows.map((r) => r.id)).toEqual(['alice', 'alice', 'carol']);
    expect(Array.from(snapshot.embeddingOf(2))).toEqual(Array.from(face('carol', 3).embedding));
  });

  it('a truncated dump: repair refuses, changing nothing; told to drop, it keeps the complete rows', async () => {
    const dir = await store();
    const dump = fs.readFileSync(file(dir, 'embeddings.f32'));
    fs.writeFileSync(file(dir, 'embeddings.f32'), dump.subarray(0, dump.length - 10));
    await expectDamaged(dir, /embeddings\.f32 is \d+ bytes; manifest\.json says \d+/);
    await expectRefusedUnchanged(
      dir,
      /store is damaged: 1 face of 1 identity lost its embedding \(1 is past the end of embeddings\.f32, which was truncated to 3 of 4 embeddings\): `facectl index rebuild --reembed` re-embeds them from their photos; `--drop-damaged` drops them$/,
    );
    const { actions, snapshot } = await GalleryStore.repair(dir, { lostEmbeddings: 'drop' });
    expect(actions.join('\n')).toMatch(/dropped data\.csv row 4 \(carol\): embedding 3 is past the end of embeddings\.f32/);
    expect(actions.join('\n')).toMatch(/truncated: kept 3 of 4 embeddings/);
    expect(snapshot.rows.map((r) => r.id)).toEqual(['alice', 'alice', 'bob']);
    expect((await GalleryStore.verify(dir)).ok).toBe(true);
  });

  it('a missing manifest is rebuilt from the other two files', async () => {
    const dir = await store();
    fs.unlinkSync(file(dir, 'manifest.json'));
    await expectFacectlError(() => GalleryStore.open(dir), ExitCode.STORE_ERROR, /manifest\.json is missing: run `facectl index rebuild`/);
    const { actions, snapshot } = await GalleryStore.repair(dir);
    expect(actions.join('\n')).toMatch(/manifest\.json was missing: rebuilt/);
    expect(snapshot.model).toEqual(MODEL);
    expect(snapshot.threshold).toBeNull();
    expect(snapshot.rows).toHaveLength(4);
    expect((await GalleryStore.verify(dir)).ok).toBe(true);
  });

  it('un-normalised embeddings are reported and re-normalised', async () => {
    const dir = await store();
    const dump = fs.readFileSync(file(dir, 'embeddings.f32'));
    dump.writeFloatLE(2, 256 + 2 * MODEL.dimension * 4 + 2 * 4); // bob's axis-2 component: 1 → 2
    fs.writeFileSync(file(dir, 'embeddings.f32'), dump);
    resealManifest(dir, 'embeddings.f32');
    const report = await GalleryStore.verify(dir);
    expect(report.problems).toEqual([expect.stringMatching(/row 3 \(bob\): embedding norm is 2, not 1/)]);
    const { actions, snapshot } = await GalleryStore.repair(dir);
    expect(actions.join('\n')).toMatch(/re-normalised 1 embeddings/);
    expect(snapshot.embeddingOf(2)[2]).toBe(1);
  });

  it('identities whose rows disagree on the name get the latest one', async () => {
    const dir = await store();
    editCsv(dir, (rows) => rows.map((r, i) => (i === 0 ? { ...r, name: 'Old Alice' } : r)));
    const { actions, snapshot } = await GalleryStore.repair(dir);
    expect(actions.join('\n')).toMatch(/identity alice: rows had different names; kept the latest, "Name of alice"/);
    expect(snapshot.rows.filter((r) => r.id === 'alice').map((r) => r.name)).toEqual(['Name of alice', 'Name of alice']);
  });

  it('removes leftovers and fixes permissions without a new generation', async () => {
    const dir = await store();
    fs.writeFileSync(file(dir, 'data.csv.g7.next'), 'partial');
    fs.writeFileSync(file(dir, 'commit.journal.tmp'), '{');
    fs.writeFileSync(file(dir, '.index.hnsw.tmp-123-abc'), 'x');
    fs.chmodSync(file(dir, 'data.csv'), 0o644);
    fs.chmodSync(dir, 0o755);
    const report = await GalleryStore.verify(dir);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(expect.arrayContaining([expect.stringMatching(/data\.csv has mode 0644, expected 0600/), expect.stringMatching(/mode 0755, expected 0700/)]));
    expect(report.notes.join('\n')).toMatch(/leftover temp files/);
    const { actions, snapshot } = await GalleryStore.repair(dir);
    expect(actions).toEqual(
      expect.arrayContaining(['removed leftover data.csv.g7.next', 'removed leftover commit.journal.tmp', 'removed leftover .index.hnsw.tmp-123-abc']),
    );
    expect(snapshot.generation).toBe(1);
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(file(dir, 'data.csv'))).toBe(0o600);
    expect((await GalleryStore.verify(dir)).ok).toBe(true);
  });

  it('a row that only the full decode rejects: open() works, rows throws STORE_ERROR, repair drops it', async () => {
    const dir = await store();
    const text = fs.readFileSync(file(dir, 'data.csv'), 'utf8');
    fs.writeFileSync(file(dir, 'data.csv'), text.replace('Name of bob', 'Bad\u0007Bob'));
    resealManifest(dir, 'data.csv');
    const snapshot = await GalleryStore.open(dir); // the index columns are fine
    expect(snapshot.identities().map((i) => i.id)).toEqual(['alice', 'bob', 'carol']);
    await expectFacectlError(() => snapshot.rows, ExitCode.STORE_ERROR, /row 3: invalid name for bob: it contains a control character/);
    expect((await GalleryStore.verify(dir)).ok).toBe(false);
    const { actions, snapshot: repaired } = await GalleryStore.repair(dir);
    expect(actions.join('\n')).toMatch(/dropped unreadable data\.csv row 3/);
    expect(repaired.rows.map((r) => r.id)).toEqual(['alice', 'alice', 'carol']);
  });

  it('refuses when embeddings are gone rather than inventing data', async () => {
    const dir = await store();
    fs.unlinkSync(file(dir, 'embeddings.f32'));
    await expectDamaged(dir, /embeddings\.f32 is missing/);
    await expectFacectlError(() => GalleryStore.repair(dir), ExitCode.STORE_ERROR, /cannot repair: embeddings\.f32 is missing/);
    expect(fs.existsSync(file(dir, 'data.csv'))).toBe(true);
  });
});

describe('rows whose embedding is lost are never dropped unasked', () => {
  /** The store of store() with embeddings.f32 cut to `bytes` (the 256-byte header and some rows). */
  async function truncated(bytes: number): Promise<string> {
    const dir = await store();
    fs.truncateSync(file(dir, 'embeddings.f32'), bytes);
    return dir;
  }
  /** A re-embedding that gives row i the unit vector on axis 7 - i (told apart from the enrolled ones). */
  const reembedAll = (seen: FaceRow[][]) => async (rows: readonly FaceRow[]) => {
    seen.push(rows.map((r) => ({ ...r })));
    return (draft: StoreDraft) => draft.replaceAllEmbeddings(MODEL, rows.map((_, i) => face('x', 7 - i).embedding));
  };

  it('a dump truncated inside the first row: refused, the files unchanged; every row is listed as dropped only with drop', async () => {
    const dir = await truncated(270);
    await expectRefusedUnchanged(dir, /4 faces of 3 identities lost their embeddings \(4 are past the end of embeddings\.f32, which was truncated to 0 of 4 embeddings\)/);
    const { actions, snapshot } = await GalleryStore.repair(dir, { lostEmbeddings: 'drop' });
    expect(actions.filter((a) => a.startsWith('dropped data.csv row'))).toHaveLength(4);
    expect(snapshot.rows).toEqual([]);
  });

  it('a zero embedding is refused too', async () => {
    const dir = await store();
    const dump = fs.readFileSync(file(dir, 'embeddings.f32'));
    dump.fill(0, 256 + 2 * MODEL.dimension * 4, 256 + 3 * MODEL.dimension * 4); // bob's row
    fs.writeFileSync(file(dir, 'embeddings.f32'), dump);
    resealManifest(dir, 'embeddings.f32');
    await expectRefusedUnchanged(dir, /1 face of 1 identity lost its embedding \(1 has a zero or non-finite embedding\)/);
  });

  it('re-embedding: the callback gets every row, lost ones included, and its embeddings are committed with the salvage in one generation', async () => {
    const dir = await truncated(256 + 2 * MODEL.dimension * 4 + 5); // alice's two rows whole, bob's cut, carol's gone
    const seen: FaceRow[][] = [];
    const { actions, snapshot } = await GalleryStore.repair(dir, { lostEmbeddings: reembedAll(seen) });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.map((r) => [r.id, r.embeddingIndex])).toEqual([['alice', 0], ['alice', 1], ['bob', 2], ['carol', 3]]);
    expect(actions.join('\n')).toMatch(/data\.csv row 3 \(bob\): embedding 2 is past the end of embeddings\.f32; re-embedded from its photo/);
    expect(actions.join('\n')).toMatch(/wrote generation 2: 4 faces, 3 identities/);
    expect(snapshot.generation).toBe(2);
    const reopened = await GalleryStore.open(dir, { verifyEmbeddings: true });
    expect(reopened.rows.map((r) => r.id)).toEqual(['alice', 'alice', 'bob', 'carol']);
    expect(reopened.rows.map((r) => Array.from(reopened.embeddingOf(r)).indexOf(1))).toEqual([7, 6, 5, 4]);
    expect(reopened.threshold?.value).toBe(0.55);
    expect((await GalleryStore.verify(dir)).ok).toBe(true);
  });

  it('re-embedding that fails (a photo gone) commits nothing', async () => {
    const dir = await truncated(270);
    const before = storeState(dir);
    await expect(GalleryStore.repair(dir, { lostEmbeddings: async () => Promise.reject(new Error('photo gone')) })).rejects.toThrow('photo gone');
    expect(storeState(dir)).toEqual(before);
  });

  it('a change that leaves a lost row without its embedding is an internal error, and commits nothing', async () => {
    const dir = await truncated(270);
    const before = storeState(dir);
    await expectFacectlError(() => GalleryStore.repair(dir, { lostEmbeddings: async () => () => undefined }), ExitCode.INTERNAL, /left without an embedding/);
    expect(storeState(dir)).toEqual(before);
  });

  it("the model of a store too damaged to open: the manifest's, else the dump header's", async () => {
    const dir = await truncated(270);
    await expectFacectlError(() => GalleryStore.open(dir), ExitCode.STORE_ERROR);
    expect(readableModel(dir)).toEqual(MODEL);
    fs.unlinkSync(file(dir, 'manifest.json'));
    expect(readableModel(dir)).toEqual(MODEL);
    fs.unlinkSync(file(dir, 'embeddings.f32'));
    expect(readableModel(dir)).toBeNull();
  });

  it('a sound store never calls the re-embedding', async () => {
    const dir = await store();
    const seen: FaceRow[][] = [];
    expect((await GalleryStore.repair(dir, { lostEmbeddings: reembedAll(seen) })).actions).toEqual([]);
    expect(seen).toEqual([]);
  });
});

describe('verify and repair while other processes wait for the lock', () => {
  // Each process waiting for the lock makes and deletes `store.lock.new-<pid>-<random>` at every attempt,
  // so a name listed may be gone when looked at: verify failed "internal error: ENOENT lstat …" (exit 1),
  // repair "cannot repair the store: no such file or directory" (exit 11). The listing is made to hold such
  // names here, which no file backs: the instant after a waiter deleted its attempt, or a writer a side file.
  it('a listed name that is gone when looked at is skipped: no error, no problem, no repair', async () => {
    const dir = await store();
    const gone = [`store.lock.new-${process.ppid}-k3x9a`, `store.lock.new-${await deadPid()}-z0q1`, 'index.flat'];
    const readdir = fs.readdirSync;
    const listed = vi.spyOn(fs, 'readdirSync').mockImplementation(((where: fs.PathLike, options?: unknown) => {
      const names = (readdir as (p: fs.PathLike, o?: unknown) => string[])(where, options);
      return path.resolve(String(where)) === dir ? [...names, ...gone] : names;
    }) as typeof fs.readdirSync);
    try {
      const report = await GalleryStore.verify(dir);
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      // A live process's lock attempt is no leftover; a dead one's is.
      expect(report.notes).toEqual([`leftover temp files (the next writer removes them): ${gone[1]}`]);
      expect((await GalleryStore.repair(dir)).actions).toEqual([]);
      expect(listed).toHaveBeenCalled();
    } finally {
      listed.mockRestore();
    }
  });

  it('repair still fixes the mode of a file that is there', async () => {
    const dir = await store();
    fs.chmodSync(file(dir, 'data.csv'), 0o644);
    expect((await GalleryStore.repair(dir)).actions).toEqual([`${file(dir, 'data.csv')}: mode 0644 → 0600`]);
    expect(modeOf(file(dir, 'data.csv'))).toBe(0o600);
  });
});
