/**
 * `enroll --dataset` (bulkEnroll) on both backends, with a stand-in pipeline (no model): resuming an
 * import whatever the display names say, and what a rerun reports.
 */
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bulkEnroll } from '../../src/app/bulk-enroll.js';
import { enroll } from '../../src/app/enroll.js';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { FilesGallery } from '../../src/gallery/files.js';
import { PostgresGallery } from '../../src/gallery/postgres/gallery.js';
import type { Gallery } from '../../src/gallery/types.js';
import { uniqueSchema, usePgServer } from '../helpers/pg-server.js';
import { standInPipeline } from '../helpers/stand-in-pipeline.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-bulk-enroll-'));
let photoCounter = 0;

/** A dataset folder: each folder holds photos of distinct content (`copies` of each). */
function makeDataset(folders: Record<string, number>, root = mkdtempSync(path.join(tmp, 'ds-'))): string {
  for (const [folder, n] of Object.entries(folders)) {
    mkdirSync(path.join(root, folder), { recursive: true });
    for (let i = 0; i < n; i++) writeFileSync(path.join(root, folder, `p${i}.jpg`), `photo ${photoCounter++}`);
  }
  return root;
}

async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string } | null> {
  return p.then(() => null, (e: { code: number; message: string }) => e);
}

const backends: [string, (pg: { url(schema: string): string }) => Promise<Gallery>][] = [
  ['store directory', async () => FilesGallery.open(path.join(mkdtempSync(path.join(tmp, 'store-')), 'store'))],
  ['PostgreSQL', async (pg) => PostgresGallery.open(pg.url(uniqueSchema()))],
];

describe.each(backends)('bulk import (%s)', (_backend, open) => {
  const pg = _backend === 'PostgreSQL' ? usePgServer() : { url: () => '' };
  const pipeline = standInPipeline();

  it('resumes an import whose folder name has surrounding spaces (id "bob_", display name "bob")', async () => {
    const g = await open(pg);
    try {
      const root = makeDataset({ 'bob ': 2, alice: 1 });
      expect(await bulkEnroll(pipeline, g, root)).toMatchObject({ added: 3, renamedFolders: [{ folder: 'bob ', id: 'bob_' }] });
      expect((await g.identities()).map((i) => [i.id, i.name])).toEqual([['alice', 'alice'], ['bob_', 'bob']]);
      const again = await bulkEnroll(pipeline, g, root);
      expect(again).toMatchObject({ added: 0, alreadyEnrolled: 3 });
    } finally {
      await g.close();
    }
  });

  it('resumes an import after a display name was changed with enroll --name', async () => {
    const g = await open(pg);
    try {
      const root = makeDataset({ 'joe biden': 1 });
      await bulkEnroll(pipeline, g, root);
      const extra = makeDataset({ other: 1 });
      await enroll(pipeline, g, 'joe_biden', [path.join(extra, 'other', 'p0.jpg')], { name: 'Joseph R. Biden', largest: false, skipBad: false, force: true });
      makeDataset({ 'joe biden': 1 }, root); // a new photo in the folder (p0.jpg again, new content)
      const again = await bulkEnroll(pipeline, g, root);
      expect(again).toMatchObject({ added: 1, alreadyEnrolled: 0 });
      expect((await g.identities()).map((i) => [i.id, i.name, i.faceCount])).toEqual([['joe_biden', 'Joseph R. Biden', 3]]);
    } finally {
      await g.close();
    }
  });

  it('a rerun counts byte-identical copies as duplicates, as the first run did, not as photos enrolled already', async () => {
    const g = await open(pg);
    try {
      const root = makeDataset({ ann: 2 });
      for (const copy of ['copy1.jpg', 'copy2.jpg']) copyFileSync(path.join(root, 'ann', 'p0.jpg'), path.join(root, 'ann', copy));
      expect(await bulkEnroll(pipeline, g, root)).toMatchObject({ photos: 4, added: 2, alreadyEnrolled: 0, duplicatePhotos: 2 });
      expect(await bulkEnroll(pipeline, g, root)).toMatchObject({ photos: 4, added: 0, alreadyEnrolled: 2, duplicatePhotos: 2 });
    } finally {
      await g.close();
    }
  });

  it('a rerun from a moved dataset updates the stored paths that are gone, in batches, and says how many', async () => {
    const g = await open(pg);
    try {
      const root = makeDataset({ ann: 3, 'bo b': 2 });
      await bulkEnroll(pipeline, g, root);
      const moved = `${root}-moved`;
      renameSync(root, moved);
      const r = await bulkEnroll(pipeline, g, moved, { batch: 2 });
      expect((await g.rows()).filter((row) => !row.sourcePath.startsWith(`${moved}${path.sep}`))).toEqual([]);
      expect(r).toMatchObject({ added: 0, alreadyEnrolled: 5, pathsUpdated: 5, commits: 3 });
      expect(await bulkEnroll(pipeline, g, moved)).toMatchObject({ alreadyEnrolled: 5, pathsUpdated: 0, commits: 0 });
    } finally {
      await g.close();
    }
  });

  it('still refuses a folder landing on an id that came from another folder, whatever its display name now', async () => {
    const g = await open(pg);
    try {
      await bulkEnroll(pipeline, g, makeDataset({ José: 1 }));
      // The display name renamed to exactly the other folder's name does not make them one person.
      const extra = makeDataset({ other: 1 });
      await enroll(pipeline, g, 'Jos_', [path.join(extra, 'other', 'p0.jpg')], { name: 'Jos_', largest: false, skipBad: false, force: true });
      const err = await rejection(bulkEnroll(pipeline, g, makeDataset({ Jos_: 1 })));
      expect(err?.code).toBe(ExitCode.USAGE);
      expect(err?.message).toContain('folder "Jos_" → Jos_, enrolled already as "Jos_"');
      const both = await rejection(bulkEnroll(pipeline, g, makeDataset({ 'kit h': 1, kit_h: 1 })));
      expect(both?.message).toContain('folders "kit h" and "kit_h" → kit_h');
      expect((await g.info()).faces).toBe(2);
    } finally {
      await g.close();
    }
  });
});

describe('bulk import with the store inside the dataset folder (--store <dataset>/zstore)', () => {
  const pipeline = standInPipeline();

  it('the store folder is no person: left out (by real path, also through a link), the import resumes cleanly', async () => {
    const root = makeDataset({ ann: 2 });
    const first = FilesGallery.open(path.join(root, 'zstore'));
    expect(await bulkEnroll(pipeline, first, root)).toMatchObject({ identities: 1, added: 2 });
    await first.close();
    const link = path.join(mkdtempSync(path.join(tmp, 'link-')), 'ds');
    symlinkSync(root, link);
    for (const location of [path.join(root, 'zstore'), path.join(link, 'zstore')]) {
      const g = FilesGallery.open(location);
      try {
        const again = await bulkEnroll(pipeline, g, root);
        expect((await g.identities()).map((i) => i.id), location).toEqual(['ann']);
        expect(again, location).toMatchObject({ identities: 1, photos: 2, added: 0, alreadyEnrolled: 2, rejected: [] });
        expect(again.storeFolder).toBe('zstore');
        expect(again.notRead, location).toBeNull(); // the store's own files and folders are not "left out"
      } finally {
        await g.close();
      }
    }
  });

  it('names what the scan leaves out: a person\'s photos one folder deeper, an empty folder (they were dropped silently)', async () => {
    const root = makeDataset({ ann: 1, bob: 1 });
    mkdirSync(path.join(root, 'ann', 'older'));
    mkdirSync(path.join(root, 'cid'));
    const g = FilesGallery.open(path.join(mkdtempSync(path.join(tmp, 'store-')), 's'));
    try {
      expect((await bulkEnroll(pipeline, g, root)).notRead).toBe(
        '1 empty identity folder (first: "cid"); 1 entry inside identity folders that is no photo file: subfolders are not read (first: "ann/older")',
      );
    } finally {
      await g.close();
    }
  });
});

describe('bulk import commits', () => {
  const pipeline = standInPipeline();
  const store = () => FilesGallery.open(path.join(mkdtempSync(path.join(tmp, 'store-')), 'store'));

  it('in a large store a commit waits for a tenth of its faces (each commit rewrites the store); --batch is taken as given', async () => {
    const g = store();
    try {
      expect(await bulkEnroll(pipeline, g, makeDataset(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`old${i}`, 50]))), { batch: 1500 })).toMatchObject({ added: 1500, commits: 1 });
      // 1500 faces: commits of 150, then 165 (a tenth of 1650), then the last 85; a fixed 100 made 4.
      expect(await bulkEnroll(pipeline, g, makeDataset(Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`new${i}`, 50]))))).toMatchObject({ added: 400, commits: 3 });
      expect(await bulkEnroll(pipeline, g, makeDataset({ more: 250 }), { batch: 100 })).toMatchObject({ added: 250, commits: 3 });
    } finally {
      await g.close();
    }
  });

  it('a commit that fails after earlier ones says they are enrolled and how to resume (it said "nothing was changed")', async () => {
    const g = store();
    let calls = 0;
    const failing = new Proxy(g, {
      get(target, prop, receiver) {
        if (prop !== 'mutate') return Reflect.get(target, prop, receiver);
        return (...args: Parameters<Gallery['mutate']>) => {
          if (++calls === 3) return Promise.reject(new FacectlError(ExitCode.STORE_ERROR, 'cannot write the store: disk full (ENOSPC) (nothing was changed)', 'embeddings.f32.g3.next'));
          return target.mutate(...args);
        };
      },
    });
    try {
      const err = await rejection(bulkEnroll(pipeline, failing, makeDataset({ a: 2, b: 2, c: 2 }), { batch: 2 }));
      expect(err).toMatchObject({ code: ExitCode.STORE_ERROR });
      expect(err!.message).toBe('cannot write the store: disk full (ENOSPC) (nothing was changed); 4 face(s) from this import\'s 2 earlier commit(s) are enrolled: run the same command again to resume');
      expect((await g.rows()).length).toBe(4);
    } finally {
      await g.close();
    }
  });
});
