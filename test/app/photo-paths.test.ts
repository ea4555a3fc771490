/**
 * Enrolled photos are stored by absolute path, so `index rebuild --reembed` and login find them from any
 * directory; stores from facectl 0.1.0 (paths as typed, relative to where enroll ran) are resolved
 * against --photos-root and rewritten absolute, and a failure names the cause and changes nothing.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { enroll } from '../../src/app/enroll.js';
import { rebuild, type RebuildOptions } from '../../src/app/rebuild.js';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { FacePipeline } from '../../src/pipeline/pipeline.js';
import { FilesGallery } from '../../src/gallery/files.js';
import { GalleryStore } from '../../src/store/index.js';
import { SKIP_NO_SAMPLES, faceCrop, hasSamples } from '../helpers/samples.js';

const storeBytes = (dir: string) =>
  Object.fromEntries(readdirSync(dir).filter((f) => !f.startsWith('index.')).map((f) => [f, createHash('sha256').update(readFileSync(path.join(dir, f))).digest('hex')]));

async function thrown(fn: () => Promise<unknown>): Promise<FacectlError> {
  const err = await fn().then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(FacectlError);
  return err as FacectlError;
}

describe.skipIf(!hasSamples)(`photo paths in the store${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  let pipeline: FacePipeline;
  /** Where "the old enroll" ran: the photos sit in photos/ under it. */
  let enrollDir: string;
  let photo: string;
  const options = (extra: Partial<RebuildOptions>): RebuildOptions => ({ reembed: false, dropMissing: false, photosRoot: process.cwd(), fixPaths: false, index: 'flat', ...extra });

  beforeAll(async () => {
    pipeline = await FacePipeline.load();
    enrollDir = mkdtempSync(path.join(os.tmpdir(), 'facectl-enrolldir-'));
    mkdirSync(path.join(enrollDir, 'photos'));
    photo = path.join(enrollDir, 'photos', 'alice.jpg');
    copyFileSync(await faceCrop('a'), photo);
  });

  /** A store with alice enrolled; `legacy` rewrites her path as facectl 0.1.0 stored it: relative to enrollDir. */
  async function aliceStore(legacy: boolean): Promise<string> {
    const store = path.join(mkdtempSync(path.join(os.tmpdir(), 'facectl-paths-')), 'store');
    await enroll(pipeline, FilesGallery.open(store), 'alice', [path.relative(process.cwd(), photo)], { largest: false, skipBad: false, force: false, threshold: 0.95 });
    if (legacy) await GalleryStore.mutate(store, (draft) => draft.setSourcePath(0, 'photos/alice.jpg'));
    return store;
  }

  it('enroll stores the absolute path of a photo given relative to the current directory', async () => {
    const store = await aliceStore(false);
    expect((await GalleryStore.open(store)).rows[0]!.sourcePath).toBe(photo);
  });

  it('re-embedding a legacy row from elsewhere refuses with the --photos-root remedy and changes nothing', async () => {
    const store = await aliceStore(true);
    const before = storeBytes(store);
    const err = await thrown(() => rebuild(pipeline, FilesGallery.open(store), options({ reembed: true, photosRoot: os.tmpdir() })));
    expect(err.code).toBe(ExitCode.NOT_FOUND);
    expect(err.oneLine()).toMatch(/1 enrolled photo\(s\) cannot be re-embedded .*no such file.*nothing changed.*relative to the directory enroll ran in.*--photos-root/);
    expect(err.oneLine()).not.toContain('\n');
    expect(storeBytes(store)).toEqual(before);
  });

  it('re-embedding with --photos-root finds the photo and stores its path absolute', async () => {
    const store = await aliceStore(true);
    const r = await rebuild(pipeline, FilesGallery.open(store), options({ reembed: true, photosRoot: enrollDir }));
    expect([r.reembedded, r.relocated, r.relativePaths]).toEqual([1, 1, 0]);
    expect((await GalleryStore.open(store)).rows[0]!.sourcePath).toBe(photo);
  });

  it('--photos-root alone stores legacy paths absolute, after checking each photo is the enrolled one', async () => {
    const store = await aliceStore(true);
    const before = storeBytes(store);
    const legacy = await GalleryStore.open(store);
    const embedding = Array.from(legacy.embeddingOf(legacy.rows[0]!));
    // Wrong root: not found. A root whose photos/alice.jpg is another photo: refused by its sha256.
    const missing = await thrown(() => rebuild(null, FilesGallery.open(store), options({ fixPaths: true, photosRoot: os.tmpdir() })));
    expect([missing.code, missing.oneLine()]).toEqual([ExitCode.NOT_FOUND, expect.stringMatching(/were not found under .*no such file.*--photos-root/)]);
    const impostorRoot = mkdtempSync(path.join(os.tmpdir(), 'facectl-other-'));
    mkdirSync(path.join(impostorRoot, 'photos'));
    copyFileSync(await faceCrop('b'), path.join(impostorRoot, 'photos', 'alice.jpg'));
    const changed = await thrown(() => rebuild(null, FilesGallery.open(store), options({ fixPaths: true, photosRoot: impostorRoot })));
    expect(changed.oneLine()).toMatch(/not the enrolled photo \(sha256 differs\)/);
    expect(storeBytes(store)).toEqual(before);

    const r = await rebuild(null, FilesGallery.open(store), options({ fixPaths: true, photosRoot: enrollDir }));
    expect([r.relocated, r.relativePaths, r.reembedded]).toEqual([1, 0, 0]);
    const after = await GalleryStore.open(store);
    expect(after.rows[0]!.sourcePath).toBe(photo);
    expect(Array.from(after.embeddingOf(after.rows[0]!))).toEqual(embedding); // paths only: no re-embedding
  });

  it('a plain rebuild reports legacy paths without touching them', async () => {
    const store = await aliceStore(true);
    const r = await rebuild(null, FilesGallery.open(store), options({}));
    expect([r.relocated, r.relativePaths]).toEqual([0, 1]);
    expect((await GalleryStore.open(store)).rows[0]!.sourcePath).toBe('photos/alice.jpg');
  });
});
