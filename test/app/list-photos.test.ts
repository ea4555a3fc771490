/** cluster's photo walk: each file and folder once by its real path (links that loop, --link-to folders of an earlier run), dangling links kept to be reported. */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listPhotos } from '../../src/app/cluster.js';
import { ExitCode, FacectlError } from '../../src/errors.js';

describe('listPhotos', () => {
  it('walks each real file and folder once: a link loop ends, a photo linked from a --link-to folder counts once, a dangling link is listed', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'facectl-list-photos-'));
    for (const f of ['a.jpg', 'b.jpg', 'notes.txt', '.hidden.jpg']) writeFileSync(path.join(root, f), 'x');
    symlinkSync(path.join(root, 'gone.jpg'), path.join(root, 'x.jpg')); // dangling
    mkdirSync(path.join(root, 'sub'));
    symlinkSync('..', path.join(root, 'sub', 'loop')); // sub/loop → root
    mkdirSync(path.join(root, 'people', 'group-1'), { recursive: true });
    symlinkSync(path.join(root, 'b.jpg'), path.join(root, 'people', 'group-1', 'b.jpg'));
    expect(listPhotos([root])).toEqual(['a.jpg', 'b.jpg', 'x.jpg'].map((f) => path.join(root, f)));
    expect(listPhotos([root, path.join(root, 'a.jpg')])).toHaveLength(3);
    let err: unknown;
    try {
      listPhotos([path.join(root, 'missing.jpg')]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.NOT_FOUND);
  });
});
