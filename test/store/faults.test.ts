/** Write failures (disk full, I/O error) injected through the store's test hook leave the old state. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { storeTestHooks } from '../../src/store/fsio.js';
import { GalleryStore } from '../../src/store/index.js';
import { expectFacectlError, face, MODEL, tempDir } from './helpers.js';

afterEach(() => {
  delete storeTestHooks.beforeWrite;
});

const errno = (code: string, message: string) => Object.assign(new Error(`${code}: ${message}, write`), { code });

/** Makes the write of any file whose name starts with `prefix` fail like a full disk. */
function failWritesOf(prefix: string, code = 'ENOSPC', message = 'no space left on device'): void {
  storeTestHooks.beforeWrite = (name) => {
    if (name.startsWith(prefix)) throw errno(code, message);
  };
}

async function populated(): Promise<{ dir: string; before: Record<string, Buffer> }> {
  const dir = path.join(tempDir(), 'store');
  await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('alice', 0), face('bob', 1)]));
  const before = Object.fromEntries(fs.readdirSync(dir).map((n) => [n, fs.readFileSync(path.join(dir, n))]));
  return { dir, before };
}

describe('disk full / I/O errors while committing', () => {
  it.each(['data.csv', 'embeddings.f32', 'manifest.json', 'commit.journal'])(
    'ENOSPC writing %s: one-line STORE_ERROR, old state intact, no leftovers',
    async (file) => {
      const { dir, before } = await populated();
      failWritesOf(file);
      const err = await expectFacectlError(
        () => GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('carol', 2)])),
        ExitCode.STORE_ERROR,
        /nothing was changed.*no space left on device \(ENOSPC\)/,
      );
      expect(err.file).toContain(file);
      delete storeTestHooks.beforeWrite;
      const after = Object.fromEntries(fs.readdirSync(dir).map((n) => [n, fs.readFileSync(path.join(dir, n))]));
      expect(after).toEqual(before);
      const snapshot = await GalleryStore.open(dir, { verifyEmbeddings: true });
      expect(snapshot.rows.map((r) => r.id)).toEqual(['alice', 'bob']);
      // Once space is back the same change commits.
      await GalleryStore.mutate(dir, (d) => void d.addFaces(MODEL, [face('carol', 2)]));
      expect((await GalleryStore.open(dir)).rows).toHaveLength(3);
    },
  );

  it('EIO is reported the same way', async () => {
    const { dir } = await populated();
    failWritesOf('embeddings.f32', 'EIO', 'i/o error');
    await expectFacectlError(
      () => GalleryStore.mutate(dir, (d) => void d.removeIdentity('bob')),
      ExitCode.STORE_ERROR,
      /input\/output error \(EIO\)/,
    );
    delete storeTestHooks.beforeWrite;
    expect((await GalleryStore.open(dir)).rows.map((r) => r.id)).toEqual(['alice', 'bob']);
  });

  it('a failing side-file write keeps the previous version', async () => {
    const { dir } = await populated();
    await GalleryStore.writeSideFile(dir, 'index.hnsw', Buffer.from('version 1'));
    failWritesOf('.index.hnsw.tmp');
    await expectFacectlError(
      () => GalleryStore.writeSideFile(dir, 'index.hnsw', Buffer.from('version 2')),
      ExitCode.STORE_ERROR,
      /previous version is intact.*ENOSPC/,
    );
    expect(GalleryStore.readSideFile(dir, 'index.hnsw')?.toString()).toBe('version 1');
    expect(fs.readdirSync(dir).filter((n) => n.includes('tmp'))).toEqual([]);
  });

  it('an error thrown by the mutate callback writes nothing', async () => {
    const { dir, before } = await populated();
    await expect(
      GalleryStore.mutate(dir, (d) => {
        d.addFaces(MODEL, [face('carol', 2)]);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    const after = Object.fromEntries(fs.readdirSync(dir).map((n) => [n, fs.readFileSync(path.join(dir, n))]));
    expect(after).toEqual(before);
  });
});
