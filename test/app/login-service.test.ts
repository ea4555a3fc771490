/**
 * LoginService (`facectl serve`): a gallery deleted and created anew at the same place restarts at
 * generation 1, so a service that compared generations alone went on deciding logins against the deleted
 * gallery once the new one reached the same number. A fake pipeline (each photo path names its embedding),
 * a store directory and a PostgreSQL schema (PGlite over the wire protocol, test/helpers/pg-server.ts).
 * Its own enrolls and removes are logged in against without reading the store again (it read the whole
 * store, 563 MB at 1e5 identities, after each of them, holding the old copy meanwhile), while another
 * process's commit is still read.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { LoginService } from '../../src/app/login-service.js';
import { FilesGallery } from '../../src/gallery/files.js';
import { clientFor, parsePgUrl } from '../../src/gallery/postgres/connection.js';
import { PostgresGallery } from '../../src/gallery/postgres/gallery.js';
import type { Gallery, ThresholdInfo } from '../../src/gallery/types.js';
import type { FacePipeline, PhotoInput } from '../../src/pipeline/pipeline.js';
import { dot } from '../../src/pipeline/vector.js';
import { uniqueSchema, usePgServer } from '../helpers/pg-server.js';
import { MODEL, newFace, unitVectors } from '../gallery/contract.js';
import * as load from '../../src/store/load.js';

// Every read of a whole store (GalleryStore.open, and the base a commit reads under the lock) goes through
// readSnapshot: wrapped, so that a test counts them.
vi.mock('../../src/store/load.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/store/load.js')>();
  return { ...original, readSnapshot: vi.fn(original.readSnapshot) };
});

const [a, b] = unitVectors(2, MODEL.dimension, 7) as [Float32Array, Float32Array];
/** Alice's photo: nearest alice, and near enough bob to pass a low threshold as him too. */
const alicePhoto = ((): Float32Array => {
  const v = a.map((x, i) => 2 * x + b[i]!);
  const norm = Math.sqrt(dot(v, v));
  return v.map((x) => x / norm);
})();

/** A pipeline whose every photo holds one face, the embedding `alicePhoto`. */
const pipeline = {
  embedderInfo: { spec: { id: MODEL.id, dim: MODEL.dimension, thresholds: { login: { value: 0.5, provenance: 'test' } } }, fingerprint: 'toy', detector: 'blazeface' },
  timer: { time: <T>(_: string, fn: () => T) => fn() },
  processPhoto: async (photo: PhotoInput) => ({
    image: { width: 1, height: 1 },
    faces: [{ box: { x: 0, y: 0, width: 1, height: 1 }, score: 1, landmarks: [], embedding: alicePhoto, label: String(photo) }],
  }),
} as unknown as FacePipeline;

const threshold = (value: number): ThresholdInfo => ({ value, source: 'manual', date: '2026-12-07T00:00:00.000Z', model: MODEL.id });

/** One commit (generation 1 of a new gallery): `id` enrolled with `embedding`, and the login threshold. */
const enrollWithThreshold = (g: Gallery, id: string, embedding: Float32Array, value: number) =>
  g.mutate(async (d) => {
    await d.addFaces(MODEL, [newFace(id, embedding)]);
    await d.setThreshold(threshold(value));
  });

/**
 * Gallery A (alice, a threshold low enough for alice's photo to pass as alice or as bob) is served; it is
 * deleted, and gallery B (bob alone, a strict threshold) is created in its place, at A's generation. Alice's
 * photo must then be decided against B: no one (A's alice and A's threshold are gone with A).
 */
async function deletedAndRecreated(open: () => Promise<Gallery>, destroy: () => Promise<void>): Promise<void> {
  expect(dot(alicePhoto, a)).toBeGreaterThan(0.8);
  expect(dot(alicePhoto, b)).toBeGreaterThan(0.2); // passes A's threshold as bob too
  expect(dot(alicePhoto, b)).toBeLessThan(0.95); // never B's
  const first = await open();
  await enrollWithThreshold(first, 'alice', a, 0.2);
  await first.close();
  const service = await LoginService.open(pipeline, await open(), { index: 'flat' });
  try {
    const before = await service.login('alice.jpg', { top: 1, allFaces: false });
    expect(before.decisions.map((d) => [d.decision, d.id])).toEqual([['ACCEPT', 'alice']]);
    await destroy();
    const recreated = await open();
    await enrollWithThreshold(recreated, 'bob', b, 0.95);
    expect((await recreated.info()).generation).toBe(service.context.info.generation);
    await recreated.close();
    const after = await service.login('alice.jpg', { top: 1, allFaces: false });
    expect(after.decisions.map((d) => [d.decision, d.id ?? null])).toEqual([['UNKNOWN', null]]);
    expect(after.decisions[0]!.candidates.map((c) => c.id)).toEqual(['bob']);
    expect(after.threshold.value).toBe(0.95);
    expect(service.context.info).toMatchObject({ identities: 1, generation: 1 });
    // Nothing changed since: the next login does not reopen the gallery.
    expect(await service.refresh()).toBe(false);
  } finally {
    await service.close();
  }
}

describe('LoginService after its gallery is deleted and created anew at the same generation', () => {
  it('a store directory: rm -rf, then a new store at the same path', async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'facectl-login-service-')), 'store');
    try {
      await deletedAndRecreated(async () => FilesGallery.open(dir), async () => fs.rmSync(dir, { recursive: true }));
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });

  describe('PostgreSQL', () => {
    const server = usePgServer();

    it('DROP SCHEMA … CASCADE, then a new gallery in the same schema', async () => {
      const schema = uniqueSchema();
      const url = server.url(schema);
      await deletedAndRecreated(
        () => PostgresGallery.open(url),
        async () => {
          const c = clientFor(parsePgUrl(url));
          await c.connect();
          await c.query(`DROP SCHEMA "${schema}" CASCADE`);
          await c.end();
        },
      );
    }, 60_000);
  });
});

describe("LoginService: its own enroll and remove, and another process's", () => {
  it('a store directory: the next login uses what its own commit wrote, reading nothing again; a commit by another process is still read', async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'facectl-login-service-')), 'store');
    const reads = vi.mocked(load.readSnapshot);
    const reopen = vi.spyOn(FilesGallery.prototype, 'reopen');
    try {
      await enrollWithThreshold(FilesGallery.open(dir), 'bob', b, 0.2);
      const service = await LoginService.open(pipeline, FilesGallery.open(dir, { search: true }), { index: 'flat' });
      const login = async () => (await service.login('alice.jpg', { top: 2, allFaces: false })).decisions.map((d) => [d.decision, d.id ?? null, d.candidates.map((c) => c.id)]);
      try {
        expect(await login()).toEqual([['ACCEPT', 'bob', ['bob']]]);
        reads.mockClear();
        reopen.mockClear();

        // Its own enroll (as serve runs it: refresh, then the write through the service).
        await service.refresh({ create: true });
        await service.write((gallery) => gallery.mutate(async (d) => void (await d.addFaces(MODEL, [newFace('alice', a)]))));
        expect(await login()).toEqual([['ACCEPT', 'alice', ['alice', 'bob']]]);
        expect(service.context.info).toMatchObject({ identities: 2, faces: 2, generation: 2 });
        // Its own remove.
        await service.refresh();
        expect(await service.write((gallery) => gallery.mutate((d) => d.removeIdentity('alice')))).toMatchObject({ committed: true });
        expect(await login()).toEqual([['ACCEPT', 'bob', ['bob']]]);
        expect(service.context.info).toMatchObject({ identities: 1, faces: 1, generation: 3 });
        // Neither the commits (their base is the snapshot held) nor the logins after them read the store.
        expect(reads).not.toHaveBeenCalled();
        expect(reopen).not.toHaveBeenCalled();
        expect(await service.refresh()).toBe(false);

        // Another process enrolls alice: the next login reads the store once, and sees her.
        await FilesGallery.open(dir).mutate(async (d) => void (await d.addFaces(MODEL, [newFace('alice', a)])));
        reads.mockClear();
        expect(await login()).toEqual([['ACCEPT', 'alice', ['alice', 'bob']]]);
        expect(reopen).toHaveBeenCalledTimes(1);
        expect(reads).toHaveBeenCalledTimes(1);
        expect(service.context.info).toMatchObject({ identities: 2, generation: 4 });
        // A write of its own that another process's commit preceded (not yet read): built on the latest
        // store, read under the lock, and logged in against as committed.
        await FilesGallery.open(dir).mutate((d) => d.removeIdentity('bob'));
        reads.mockClear();
        await service.write((gallery) => gallery.mutate(async (d) => void (await d.addFaces(MODEL, [newFace('carol', b)]))));
        expect(reads).toHaveBeenCalledTimes(1); // the base, under the lock: the snapshot held was no longer committed
        expect(await login()).toEqual([['ACCEPT', 'alice', ['alice', 'carol']]]);
        expect(service.context.info).toMatchObject({ identities: 2, generation: 6 });
        expect(reopen).toHaveBeenCalledTimes(1);
      } finally {
        await service.close();
      }
    } finally {
      reopen.mockRestore();
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
});
