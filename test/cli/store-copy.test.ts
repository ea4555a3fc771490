/**
 * `facectl store copy` between a store directory and PostgreSQL (PGlite over the wire protocol, or
 * FACECTL_TEST_PG_URL), both ways: the copy holds exactly the same rows, embeddings, model and threshold.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyGallery, galleryDigest } from '../../src/app/store-copy.js';
import { ExitCode } from '../../src/errors.js';
import { openGallery } from '../../src/gallery/open.js';
import { FilesGallery } from '../../src/gallery/files.js';
import { MODEL, newFace, unitVectors } from '../gallery/contract.js';
import { expectFacectlError } from '../store/helpers.js';
import { runCli } from '../helpers/cli.js';
import { uniqueSchema, usePgServer } from '../helpers/pg-server.js';

const server = usePgServer();

async function digestOf(location: string) {
  const g = await openGallery(location, { mustExist: true });
  try {
    return galleryDigest(await g.exportAll());
  } finally {
    await g.close();
  }
}

describe('facectl store copy', () => {
  it('an enroll into the target landing just before the copy takes its writer lock: the copy is refused, nothing added', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-copy-'));
    const [zed, ...faces] = unitVectors(4, MODEL.dimension, 51);
    const source = FilesGallery.open(path.join(tmp, 'source'));
    await source.mutate(async (d) => void (await d.addFaces(MODEL, faces.map((v, i) => newFace(`p${i}`, v)))));
    for (const target of [path.join(tmp, 'target'), server.url(uniqueSchema())]) {
      const [to, other] = [await openGallery(target), await openGallery(target)];
      try {
        // Another terminal enrolls between the copy's start and its commit.
        const mutate = to.mutate.bind(to);
        to.mutate = async (change, options) => {
          await other.mutate(async (d) => void (await d.addFaces(MODEL, [newFace('zed', zed!)])));
          return mutate(change, options);
        };
        await expectFacectlError(() => copyGallery(source, to), ExitCode.STORE_ERROR, /already holds 1 face\(s\): copy into an empty store$/);
        expect((await other.identities()).map((i) => i.id)).toEqual(['zed']);
      } finally {
        await to.close();
        await other.close();
      }
    }
  }, 120_000);

  it('files → PostgreSQL → files: same counts, rows and embeddings; a non-empty target is refused', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-copy-'));
    const source = path.join(tmp, 'source');
    const v = unitVectors(30, MODEL.dimension, 31);
    await FilesGallery.open(source).mutate(async (d) => {
      await d.addFaces(MODEL, v.map((e, i) => newFace(`p${i % 12}`, e, { addedAt: `2026-12-0${1 + (i % 3)}T10:00:00.000Z`, sourcePath: `/photos/${i}.jpg` })));
      await d.setThreshold({ value: 0.52, source: 'calibrated', dataset: 'lfw', targetFpr: 0.01, basis: 'open-set', date: '2026-12-03T00:00:00.000Z', model: MODEL.id });
    });
    const url = server.url(uniqueSchema());
    const back = path.join(tmp, 'back');
    let r = runCli(['store', 'copy', source, url, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ faces: 30, identities: 12 });
    r = runCli(['store', 'copy', url, back]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^copied 30 face\(s\) of 12 identities: postgres:\/\/.* → .*back\nverified: rows sha256/);
    const want = await digestOf(source);
    expect(await digestOf(url)).toEqual(want);
    expect(await digestOf(back)).toEqual(want);
    r = runCli(['store', 'copy', source, url]);
    expect([r.code, r.stderr]).toEqual([ExitCode.STORE_ERROR, expect.stringMatching(/already holds 30 face\(s\): copy into an empty store/)]);
    r = runCli(['store', 'copy', path.join(tmp, 'nothing'), url]);
    // store copy has no --store: its message does not suggest one.
    expect([r.code, r.stderr]).toEqual([ExitCode.NOT_FOUND, `facectl: ${path.join(tmp, 'nothing')}: no store here to copy from\n`]);
  }, 180_000);

  it('into an emptied gallery that keeps a calibrated threshold: the copy takes the source’s threshold, none included', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-copy-'));
    const calibrated = { value: 0.61, source: 'calibrated' as const, dataset: 'old', targetFpr: 0.01, basis: 'pairs' as const, date: '2026-12-01T00:00:00.000Z', model: MODEL.id };
    const [v1, v2] = unitVectors(2, MODEL.dimension, 41);
    const source = path.join(tmp, 'source'); // no threshold of its own
    await FilesGallery.open(source).mutate(async (d) => void (await d.addFaces(MODEL, [newFace('alice', v1!)])));
    for (const target of [path.join(tmp, 'emptied'), server.url(uniqueSchema())]) {
      const g = await openGallery(target);
      try {
        await g.mutate(async (d) => {
          await d.addFaces(MODEL, [newFace('old', v2!)]);
          await d.setThreshold(calibrated);
        });
        await g.mutate(async (d) => void (await d.removeIdentity('old')));
      } finally {
        await g.close();
      }
      const r = runCli(['store', 'copy', source, target, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(await digestOf(target)).toEqual(await digestOf(source)); // the digest covers the threshold
      const copy = await openGallery(target, { mustExist: true });
      try {
        expect((await copy.exportAll()).threshold).toBeNull();
      } finally {
        await copy.close();
      }
    }
  }, 180_000);
});
