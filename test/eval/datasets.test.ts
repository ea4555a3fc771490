import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isObviousNonImage, listImages, naturalCompare, scanIdentityFolders } from '../../src/eval/datasets.js';
import { ExitCode } from '../../src/errors.js';
import { dataset, hasDatasets } from '../helpers/shared.js';
import { expectFacectlError, withShared } from './eval-helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'facectl-datasets-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function touch(...parts: string[]): void {
  const file = path.join(tmp, ...parts);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, 'x');
}

describe('naturalCompare', () => {
  it('orders digit runs by value and is a total order', () => {
    expect(['s10', 's2', 's1', '10.pgm', '2.pgm', 'a', 'A', '01', '1'].sort(naturalCompare)).toEqual([
      '1', '01', '2.pgm', '10.pgm', 'A', 'a', 's1', 's2', 's10',
    ]);
  });
});

describe('isObviousNonImage', () => {
  it('skips docs, text and dotfiles but keeps anything that might be an image', () => {
    for (const n of ['README', 'readme.txt', 'pairs.txt', 'notes.md', '.DS_Store', 'Thumbs.db', 'SOURCE.md']) expect(isObviousNonImage(n)).toBe(true);
    for (const n of ['1.pgm', 'a.JPG', 'photo.heic', 'noextension', 'x.webp']) expect(isObviousNonImage(n)).toBe(false);
  });
});

describe('scanIdentityFolders', () => {
  it('lists <identity>/<image> in natural order, ignoring root files, docs and nested folders', () => {
    const root = path.join(tmp, 'set');
    for (const f of ['s10/1.pgm', 's2/10.pgm', 's2/2.pgm', 's2/README', 's2/.hidden.jpg', 's2/nested/x.jpg', 'empty/.keep', '.git/a.jpg']) {
      touch('set', ...f.split('/'));
    }
    touch('set', 'pairs.txt');
    touch('set', 'stray.jpg');
    symlinkSync(path.join(root, 's10', '1.pgm'), path.join(root, 's2', 'link.pgm'));
    const ds = scanIdentityFolders(root);
    expect(ds.name).toBe('set');
    expect(ds.identities).toEqual([
      { name: 's2', images: ['s2/2.pgm', 's2/10.pgm', 's2/link.pgm'] },
      { name: 's10', images: ['s10/1.pgm'] },
    ]);
    expect(ds.emptyIdentities).toEqual(['empty']);
    // What could be photos but is not read is listed (eval names it); docs and dotfiles are not.
    expect(ds.ignoredEntries).toEqual(['s2/nested']);
    expect(ds.imageCount).toBe(4);
    expect(listImages(ds)[0]).toEqual({ identity: 's2', image: 's2/2.pgm' });
  });

  it('gives NOT_FOUND for a missing folder and USAGE for a file or a folder without identities', () => {
    expectFacectlError(() => scanIdentityFolders(path.join(tmp, 'nope')), ExitCode.NOT_FOUND, /nope: dataset folder not found/);
    touch('flat', 'a.jpg');
    expectFacectlError(() => scanIdentityFolders(path.join(tmp, 'flat')), ExitCode.USAGE, /expected <dataset>\/<identity>\/<image>/);
    expectFacectlError(() => scanIdentityFolders(path.join(tmp, 'flat', 'a.jpg')), ExitCode.USAGE, /is a file/);
  });
});

describe.skipIf(!hasDatasets)(withShared('scanIdentityFolders on the shared data'), () => {
  it('ORL: 40 subjects x 10 PGMs, s1 before s2 before s10', () => {
    const ds = scanIdentityFolders(dataset('orl-faces'));
    expect(ds.identities).toHaveLength(40);
    expect(ds.imageCount).toBe(400);
    expect(ds.identities.slice(0, 3).map((i) => i.name)).toEqual(['s1', 's2', 's3']);
    expect(ds.identities[0]!.images.slice(0, 3)).toEqual(['s1/1.pgm', 's1/2.pgm', 's1/3.pgm']);
  });

  it('LFW: 5,749 identities and 13,233 images; the protocol files in the root are not identities', () => {
    const ds = scanIdentityFolders(dataset('lfw'));
    expect(ds.identities).toHaveLength(5749);
    expect(ds.imageCount).toBe(13233);
  });
});
