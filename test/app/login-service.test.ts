/**
 * LoginService (`facectl serve`): a gallery deleted and created anew at the same place restarts at
 * generation 1, so a service that compared generations alone went on deciding logins against the deleted
 * gallery once the new one reached the same number. A fake pipeline (each photo path names its embedding),
 * a store directory and a PostgreSQL schema (PGlite over the wire protocol, test/helpers/pg-server.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoginService } from '../../src/app/login-service.js';
import { FilesGallery } from '../../src/gallery/files.js';
import { clientFor, parsePgUrl } from '../../src/gallery/postgres/connection.js';
import { PostgresGallery } from '../../src/gallery/postgres/gallery.js';
import type { Gallery, ThresholdInfo } from '../../src/gallery/types.js';
import type { FacePipeline, PhotoInput } from '../../src/pipeline/pipeline.js';
import { dot } from '../../src/pipeline/vector.js';
import { uniqueSchema, usePgServer } from '../helpers/pg-server.js';
import { MODEL, newFace, unitVectors } from '../gallery/contract.js';

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
