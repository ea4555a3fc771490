/**
 * `enroll <id> <photos...>` (app/enroll.ts, which serve's enroll runs too) with a stand-in pipeline (no
 * model): which photo paths it takes, and what it stores for photos the id already has.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { enroll } from '../../src/app/enroll.js';
import { ExitCode } from '../../src/errors.js';
import { FilesGallery } from '../../src/gallery/files.js';
import { PostgresGallery } from '../../src/gallery/postgres/gallery.js';
import type { Gallery } from '../../src/gallery/types.js';
import { uniqueSchema, usePgServer } from '../helpers/pg-server.js';
import { standInPipeline } from '../helpers/stand-in-pipeline.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-enroll-'));
let photoCounter = 0;
const options = { largest: false, skipBad: false, force: false };

/** A photo file of its own content. */
function photo(dir = tmp, name = `p${photoCounter}.jpg`): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, `photo ${photoCounter++}`);
  return file;
}

const newStore = () => FilesGallery.open(path.join(mkdtempSync(path.join(tmp, 'store-')), 'store'));

async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string; file?: string } | null> {
  return p.then(() => null, (e: { code: number; message: string; file?: string }) => e);
}

const canMkfifo = process.platform !== 'win32' && spawnSync('mkfifo', [path.join(tmp, 'probe')]).status === 0;

describe('enroll takes only regular photo files (their paths are kept for index rebuild --reembed)', () => {
  const pipeline = standInPipeline();

  it.skipIf(!canMkfifo)('a FIFO (as `<(cat x.jpg)` gives), a directory or a device: exit 2 naming it, nothing stored, even with --skip-bad', async () => {
    const g = newStore();
    const good = photo();
    const fifo = path.join(tmp, 'pipe.jpg');
    spawnSync('mkfifo', [fifo]);
    // A writer, so that a read of the FIFO ends rather than waits forever.
    const writer = spawn('sh', ['-c', `cat "${good}" > "${fifo}"`], { stdio: 'ignore' });
    try {
      for (const [bad, kind] of [[fifo, 'a FIFO (named pipe)'], [tmp, 'a directory']] as const) {
        for (const skipBad of [false, true]) {
          const err = await rejection(enroll(pipeline, g, 'alice', [good, bad], { ...options, skipBad }));
          expect(err?.code, bad).toBe(ExitCode.USAGE);
          expect(err?.file).toBe(bad);
          expect(err?.message).toMatch(new RegExp(`^${kind.replace(/[()]/g, '\\$&')}, not a photo file: enroll keeps each photo's path`));
        }
      }
      expect((await g.info()).faces).toBe(0);
    } finally {
      writer.kill();
      await g.close();
    }
  });

  it('a device, or a path under /dev or /proc that names a regular file (/dev/stdin < x.jpg): exit 2', async () => {
    const g = newStore();
    const fd = openSync(photo(), 'r');
    try {
      // Also through a link: x.jpg → /proc/self/fd/N stats as the open file, a regular one here.
      const link = path.join(mkdtempSync(path.join(tmp, 'fd-link-')), 'x.jpg');
      symlinkSync(`/proc/self/fd/${fd}`, link);
      const paths = ['/dev/null', ...(process.platform === 'linux' ? [`/proc/self/fd/${fd}`, `/dev/fd/${fd}`, link] : [])];
      for (const bad of paths) {
        const err = await rejection(enroll(pipeline, g, 'alice', [bad], options));
        expect(err?.code, bad).toBe(ExitCode.USAGE);
        expect(err?.message, bad).toContain('not a photo file');
      }
      expect((await g.info()).faces).toBe(0);
    } finally {
      closeSync(fd);
      await g.close();
    }
  });

  it('a regular file, also through a link, is taken; a missing one is still the photo’s own NOT_FOUND', async () => {
    const g = newStore();
    try {
      // /dev/shm holds real files (a tmpfs): only /dev/fd, /dev/std* and /proc name open files of a process.
      if (existsSync('/dev/shm')) {
        const shm = path.join(mkdtempSync('/dev/shm/facectl-enroll-'), 'a.jpg');
        try {
          copyFileSync(photo(), shm);
          expect((await enroll(pipeline, g, 'shm', [shm], options)).added).toHaveLength(1);
        } finally {
          rmSync(path.dirname(shm), { recursive: true, force: true });
        }
      }
      const link = path.join(mkdtempSync(path.join(tmp, 'links-')), 'link.jpg');
      symlinkSync(photo(), link);
      const r = await enroll(pipeline, g, 'alice', [photo(), link], options);
      expect(r.added).toHaveLength(2);
      const missing = await rejection(enroll(pipeline, g, 'alice', [path.join(tmp, 'nope.jpg')], options));
      expect(missing?.code).toBe(ExitCode.NOT_FOUND);
    } finally {
      await g.close();
    }
  });
});

const backends: [string, (pg: { url(schema: string): string }) => Promise<Gallery>][] = [
  ['store directory', async () => newStore()],
  ['PostgreSQL', async (pg) => PostgresGallery.open(pg.url(uniqueSchema()))],
];

describe.each(backends)('enroll of photos the id already has (%s)', (backend, open) => {
  const pg = backend === 'PostgreSQL' ? usePgServer() : { url: () => '' };
  const pipeline = standInPipeline();

  it('--name with every photo enrolled already stores the new name', async () => {
    const g = await open(pg);
    try {
      const a = photo();
      await enroll(pipeline, g, 'alice', [a], options);
      const r = await enroll(pipeline, g, 'alice', [a], { ...options, name: 'Alice Smith' });
      expect(r).toMatchObject({ name: 'Alice Smith', added: [], alreadyEnrolled: [a] });
      expect((await g.identities()).map((i) => [i.id, i.name, i.faceCount])).toEqual([['alice', 'Alice Smith', 1]]);
      expect((await g.rows()).map((row) => row.name)).toEqual(['Alice Smith']);
      // Without --name, the name stays.
      expect((await enroll(pipeline, g, 'alice', [a], options)).name).toBe('Alice Smith');
      expect((await g.identities())[0]!.name).toBe('Alice Smith');
    } finally {
      await g.close();
    }
  });

  it('a photo enrolled from a place it has left, offered from its new place: the stored path follows it (index rebuild --reembed finds it)', async () => {
    const g = await open(pg);
    try {
      const dir = mkdtempSync(path.join(tmp, 'photos-'));
      const [a, b] = [photo(path.join(dir, 'old')), photo(path.join(dir, 'old'))];
      await enroll(pipeline, g, 'alice', [a, b], options);
      renameSync(path.join(dir, 'old'), path.join(dir, 'new'));
      const [a2, b2] = [a, b].map((f) => path.join(dir, 'new', path.basename(f)));
      const r = await enroll(pipeline, g, 'alice', [a2], options);
      expect((await g.rows()).map((row) => row.sourcePath)).toEqual([a2, b]);
      expect(r).toMatchObject({ added: [], alreadyEnrolled: [a2], pathsUpdated: [{ file: a2, was: a }] });
      // A stored path that still exists (a copy elsewhere) stays; another id's photo is not touched.
      copyFileSync(a2, path.join(dir, 'copy.jpg'));
      expect((await enroll(pipeline, g, 'alice', [path.join(dir, 'copy.jpg')], options)).pathsUpdated).toEqual([]);
      expect((await enroll(pipeline, g, 'bob', [b2], { ...options, force: true })).pathsUpdated).toEqual([]);
      expect((await g.rows()).map((row) => row.sourcePath)).toEqual([a2, b, b2]);
    } finally {
      await g.close();
    }
  });
});
