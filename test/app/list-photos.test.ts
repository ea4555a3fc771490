/**
 * cluster's photo walk: each file and folder once by its real path (links that loop, --link-to folders of an
 * earlier run), recorded under a path that is not a link, dangling links kept to be reported, FIFOs and other
 * non-files skipped with the reason; and --link-to's folder, checked before the long part, and its links.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { linkGroups, listPhotos, requireNewOrEmptyFolder } from '../../src/app/cluster.js';
import type { PhotoProblem } from '../../src/app/enroll.js';
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

  it('a library clustered again with its old --link-to folder inside: photos are recorded and linked under their own paths, never the old links', () => {
    const lib = mkdtempSync(path.join(os.tmpdir(), 'facectl-relink-'));
    mkdirSync(path.join(lib, 'photos'));
    for (const f of ['p1.jpg', 'p2.jpg']) writeFileSync(path.join(lib, 'photos', f), 'x');
    // The earlier run's albums sort before photos/, so the walk meets the links first.
    mkdirSync(path.join(lib, 'albums', 'group-001'), { recursive: true });
    for (const f of ['p1.jpg', 'p2.jpg']) symlinkSync(path.join(lib, 'photos', f), path.join(lib, 'albums', 'group-001', f));
    // A photo outside the library, reached only through a link: its real path.
    const outside = mkdtempSync(path.join(os.tmpdir(), 'facectl-outside-'));
    writeFileSync(path.join(outside, 'o.jpg'), 'x');
    symlinkSync(path.join(outside, 'o.jpg'), path.join(lib, 'albums', 'o.jpg'));
    const files = listPhotos([lib]);
    expect(files).toEqual([path.join(lib, 'photos', 'p1.jpg'), path.join(lib, 'photos', 'p2.jpg'), path.join(outside, 'o.jpg')]);
    // --link-to links to the photo itself: deleting the old albums breaks nothing.
    const face = (file: string) => ({ file, face: 1, box: { x: 0, y: 0, width: 1, height: 1 }, score: 1 });
    const [folder] = linkGroups([[face(path.join(lib, 'albums', 'group-001', 'p1.jpg'))]], path.join(lib, 'people'), 1);
    expect(readlinkSync(path.join(folder!, 'p1.jpg'))).toBe(path.join(lib, 'photos', 'p1.jpg'));
    rmSync(path.join(lib, 'albums'), { recursive: true });
    expect(statSync(path.join(folder!, 'p1.jpg')).isFile()).toBe(true);
  });

  it('a FIFO inside a folder is skipped with the reason (reading it would wait forever); named on the command line it is taken', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'facectl-fifo-'));
    writeFileSync(path.join(root, 'a.jpg'), 'x');
    execFileSync('mkfifo', [path.join(root, 'pipe.jpg')]);
    symlinkSync(path.join(root, 'pipe.jpg'), path.join(root, 'to-pipe.jpg'));
    const skipped: PhotoProblem[] = [];
    expect(listPhotos([root], skipped)).toEqual([path.join(root, 'a.jpg')]);
    expect(skipped).toEqual([
      { file: path.join(root, 'pipe.jpg'), code: ExitCode.BAD_IMAGE, reason: 'a FIFO (named pipe), not a photo file: skipped' },
    ]);
    expect(listPhotos([path.join(root, 'pipe.jpg')])).toEqual([path.join(root, 'pipe.jpg')]);
  });

  it('--link-to is checked before the long part: made if new; a dangling link, a file, a path under a file are one-line errors with exit codes', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'facectl-link-to-'));
    const code = (dir: string) => {
      try {
        requireNewOrEmptyFolder(dir);
        return ExitCode.OK;
      } catch (err) {
        expect(err).toBeInstanceOf(FacectlError); // not an internal error (exit 1)
        return (err as FacectlError).code;
      }
    };
    expect(code(path.join(root, 'new', 'people'))).toBe(ExitCode.OK);
    expect(statSync(path.join(root, 'new', 'people')).mode & 0o777).toBe(0o700);
    expect(code(path.join(root, 'new', 'people'))).toBe(ExitCode.OK); // empty: still fine
    writeFileSync(path.join(root, 'file'), 'x');
    expect(code(path.join(root, 'file'))).toBe(ExitCode.USAGE);
    expect(code(path.join(root, 'file', 'people'))).toBe(ExitCode.USAGE); // ENOTDIR
    symlinkSync(path.join(root, 'gone'), path.join(root, 'dangling'));
    expect(code(path.join(root, 'dangling'))).toBe(ExitCode.USAGE);
    expect(existsSync(path.join(root, 'gone'))).toBe(false);
    symlinkSync(path.join(root, 'gone-parent', 'x'), path.join(root, 'dangling-parent'));
    expect(code(path.join(root, 'dangling-parent', 'people'))).toBe(ExitCode.NOT_FOUND);
  });

  // A link that failed part-way (a full disk, no inodes left) left the group folders made so far, and the rerun refused
  // the folder as "not an empty folder". A name too long for the file system (ENAMETOOLONG) fails the link for real.
  describe('--link-to that fails part-way leaves no partial album, so a rerun works', () => {
    const face = (file: string) => ({ file, face: 1, box: { x: 0, y: 0, width: 1, height: 1 }, score: 1 });
    function photos() {
      const lib = mkdtempSync(path.join(os.tmpdir(), 'facectl-album-'));
      for (const f of ['a1.jpg', 'a2.jpg', 'b1.jpg', 'b2.jpg', 'c1.jpg']) writeFileSync(path.join(lib, f), 'x');
      const good = [[face(path.join(lib, 'a1.jpg')), face(path.join(lib, 'a2.jpg'))], [face(path.join(lib, 'b1.jpg')), face(path.join(lib, 'b2.jpg'))], [face(path.join(lib, 'c1.jpg'))]];
      // The third group's second link cannot be made: two groups and a link are made before it fails.
      const bad = [good[0]!, good[1]!, [face(path.join(lib, 'c1.jpg')), face(path.join(lib, `${'x'.repeat(300)}.jpg`))]];
      return { lib, good, bad };
    }
    const failure = (fn: () => unknown): FacectlError => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(FacectlError);
        return err as FacectlError;
      }
      throw new Error('expected linking to fail');
    };

    it('a folder it made (with the folders above it) is removed again; the rerun makes the album', () => {
      const { lib, good, bad } = photos();
      const out = path.join(lib, 'new', 'people');
      const err = failure(() => linkGroups(bad, out, 1));
      expect(err.code).toBe(ExitCode.STORE_ERROR);
      expect(err.message).toMatch(/^--link-to: cannot write: ENAMETOOLONG/);
      expect(existsSync(path.join(lib, 'new'))).toBe(false);
      expect(linkGroups(good, out, 1).map((f) => path.basename(f))).toEqual(['group-001', 'group-002', 'group-003']);
      expect(readdirSync(path.join(out, 'group-003'))).toEqual(['c1.jpg']);
    });

    it('made before the long part (the CLI checks --link-to first): removed too', () => {
      const { lib, good, bad } = photos();
      const out = path.join(lib, 'people');
      const made = requireNewOrEmptyFolder(out);
      failure(() => linkGroups(bad, out, 1, made));
      expect(existsSync(out)).toBe(false);
      expect(made).toEqual([out]);
      expect(linkGroups(good, out, 1, requireNewOrEmptyFolder(out))).toHaveLength(3);
    });

    it('a folder that was there, empty, stays, and is empty again', () => {
      const { lib, good, bad } = photos();
      const out = path.join(lib, 'people');
      mkdirSync(out);
      failure(() => linkGroups(bad, out, 1));
      expect(readdirSync(out)).toEqual([]);
      expect(linkGroups(good, out, 1)).toHaveLength(3);
    });
  });
});
