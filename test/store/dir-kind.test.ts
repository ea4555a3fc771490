/**
 * What a directory given as a store is, and what each entry point does with it before touching anything:
 * someone's folder is refused untouched, a file is "not a directory", a folder with no generation yet
 * reads as an empty store, a store a newer facectl wrote is not "damage", a broken journal does not block
 * the store for good.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { repoRoot } from '../helpers/shared.js';
import { FilesGallery } from '../../src/gallery/files.js';
import { GalleryStore, storeDirKind } from '../../src/store/index.js';
import { deadPid, expectFacectlError, face, MODEL, tempDir } from './helpers.js';

/** Every name, mode and content under `dir`: what "untouched" means. */
function state(dir: string): Record<string, string> {
  const out: Record<string, string> = { '.': (fs.statSync(dir).mode & 0o777).toString(8) };
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    out[name] = `${(fs.statSync(file).mode & 0o777).toString(8)} ${fs.readFileSync(file, 'utf8')}`;
  }
  return out;
}

/** A user's folder holding, besides a document, names that look like facectl's leftovers. */
function usersFolder(): string {
  const dir = path.join(tempDir(), 'documents');
  fs.mkdirSync(dir);
  fs.chmodSync(dir, 0o755);
  for (const [name, text] of [['report.txt', 'a'], ['thesis.g2.next', 'b'], ['store.lock.backup', 'c'], ['.x.tmp-1-a', 'd']]) {
    fs.writeFileSync(path.join(dir, name), text);
    fs.chmodSync(path.join(dir, name), 0o644);
  }
  return dir;
}

async function storeWithAlice(): Promise<string> {
  const dir = path.join(tempDir(), 'store');
  await GalleryStore.mutate(dir, (d) => d.addFaces(MODEL, [face('alice', 0)]));
  return dir;
}

describe('a folder that is not a store', () => {
  it('is refused by every entry point, and nothing in it is deleted, created or chmod-ed', async () => {
    const dir = usersFolder();
    const before = state(dir);
    expect(storeDirKind(dir)).toBe('foreign');
    const refused = /not a facectl store/;
    await expectFacectlError(() => GalleryStore.mutate(dir, (d) => d.removeIdentity('alice'), { create: false }), ExitCode.STORE_ERROR, refused);
    await expectFacectlError(() => GalleryStore.mutate(dir, (d) => d.addFaces(MODEL, [face('alice', 0)])), ExitCode.STORE_ERROR, /not empty and is not a facectl store/);
    await expectFacectlError(() => GalleryStore.repair(dir), ExitCode.STORE_ERROR, refused);
    await expectFacectlError(() => GalleryStore.verify(dir), ExitCode.STORE_ERROR, refused);
    await expectFacectlError(() => GalleryStore.writeSideFile(dir, 'index.flat', new Uint8Array(4)), ExitCode.STORE_ERROR, refused);
    await expectFacectlError(() => GalleryStore.underLock(dir, () => undefined), ExitCode.STORE_ERROR, refused);
    await expectFacectlError(() => FilesGallery.open(dir).repair(), ExitCode.STORE_ERROR, refused);
    await expectFacectlError(() => FilesGallery.open(dir).identities(), ExitCode.STORE_ERROR, refused);
    expect(state(dir)).toEqual(before);
  });

  it('leftover-like names count as facectl\'s only beside its lock file', () => {
    const dir = path.join(tempDir(), 'x');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'thesis.g2.next'), 'mine');
    expect(storeDirKind(dir)).toBe('foreign');
    fs.writeFileSync(path.join(dir, 'store.lock'), '');
    expect(storeDirKind(dir)).toBe('blank');
  });

  it('a file given as the store is "not a directory" (STORE_ERROR), never an internal error', async () => {
    const file = path.join(tempDir(), 'passwd');
    fs.writeFileSync(file, 'root:x:0:0');
    expect(storeDirKind(file)).toBe('not-dir');
    await expectFacectlError(() => FilesGallery.open(file).identities(), ExitCode.STORE_ERROR, /not a directory/);
    await expectFacectlError(() => GalleryStore.mutate(file, () => undefined, { create: false }), ExitCode.STORE_ERROR, /not a directory/);
    await expectFacectlError(() => GalleryStore.mutate(file, () => undefined), ExitCode.STORE_ERROR, /not a directory/);
    await expectFacectlError(() => GalleryStore.repair(file), ExitCode.STORE_ERROR, /not a directory/);
    expect(fs.readFileSync(file, 'utf8')).toBe('root:x:0:0');
  });

  // Node's recursive mkdir spun forever where mkdir says ENOENT under an existing parent (/proc/self/x): a
  // synchronous spin no test timeout interrupts, so it runs in a child process with a deadline.
  it.skipIf(!fs.existsSync('/proc/self'))(`a store under a folder that cannot hold folders is a one-line STORE_ERROR, not a hang${fs.existsSync('/proc/self') ? '' : ' (skipped: no /proc here)'}`, () => {
    const script = `import { GalleryStore } from './src/store/index.ts';
      try { await GalleryStore.mutate('/proc/self/facectl-x/y/store', () => undefined); console.log('created'); }
      catch (e) { console.log(e.code, e.message); }`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
    expect(run.signal, 'hung').toBeNull();
    expect(run.stdout.trim()).toMatch(new RegExp(`^${ExitCode.STORE_ERROR} cannot create the store directory`));
  });
});

describe('a store with no generation yet', () => {
  /** What a first enroll killed before its commit point leaves: the lock and staged files. */
  function crashLeft(): string {
    const dir = path.join(tempDir(), 'crashed');
    fs.mkdirSync(dir, { mode: 0o700 });
    for (const name of ['store.lock', 'data.csv.g1.next', 'embeddings.f32.g1.next', 'manifest.json.g1.next']) fs.writeFileSync(path.join(dir, name), '', { mode: 0o600 });
    return dir;
  }

  it.each([
    ['an empty folder', () => fs.mkdtempSync(path.join(tempDir(), 'empty-'))],
    ['a first commit killed before its commit point', crashLeft],
  ])('%s reads as empty; remove is UNKNOWN_ID and writes nothing; repair says so; enroll works', async (_, make) => {
    const dir = make();
    expect(storeDirKind(dir)).toBe('blank');
    expect(await FilesGallery.open(dir).identities()).toEqual([]);
    await expectFacectlError(() => GalleryStore.mutate(dir, (d) => d.removeIdentity('alice'), { create: false }), ExitCode.UNKNOWN_ID, /alice/);
    expect(fs.readdirSync(dir)).toEqual([]); // the leftovers are gone, and no generation was committed
    expect((await GalleryStore.mutate(dir, () => undefined, { create: false })).committed).toBe(false);
    expect(await GalleryStore.verify(dir)).toMatchObject({ ok: true, notes: ['no generation committed yet: the store is empty'] });
    expect((await GalleryStore.repair(dir)).actions).toEqual(['no generation was ever committed: the store is empty']);
    await GalleryStore.mutate(dir, (d) => d.addFaces(MODEL, [face('alice', 0)]));
    expect((await GalleryStore.open(dir)).identities().map((i) => i.id)).toEqual(['alice']);
  });
});

describe('a new folder holding only the lock\'s own temp files', () => {
  // Parallel first enrolls into a new folder: the one whose mkdir lost saw only the other's lock attempt,
  // `store.lock.new-<pid>-<random>` (made before store.lock is linked into place), and was refused "directory
  // is not empty and is not a facectl store"; a first enroll killed there left the folder refused for good.
  it.each([
    ['another process’s lock attempt in flight', async () => `store.lock.new-${process.ppid}-k3x9a`],
    ['a lock attempt of a process killed there', async () => `store.lock.new-${await deadPid()}-k3x9a`],
    ['an abandoned break lock being inspected', async () => `store.lock.stale-${await deadPid()}-0b7`],
    ['a break lock alone', async () => 'store.lock.break'],
  ])('%s: the folder reads as an empty store, and a first enroll there works', async (_, name) => {
    const dir = path.join(tempDir(), 'new');
    fs.mkdirSync(dir, { mode: 0o700 });
    const temp = await name();
    fs.writeFileSync(path.join(dir, temp), temp === 'store.lock.break' ? JSON.stringify({ pid: await deadPid(), hostname: os.hostname(), since: '2026-01-01T00:00:00.000Z' }) : '', { mode: 0o600 });
    expect(storeDirKind(dir)).toBe('blank');
    expect(await FilesGallery.open(dir).identities()).toEqual([]);
    expect(await GalleryStore.verify(dir)).toMatchObject({ ok: true, problems: [] });
    await GalleryStore.mutate(dir, (d) => d.addFaces(MODEL, [face('alice', 0)]));
    expect((await GalleryStore.open(dir)).identities().map((i) => i.id)).toEqual(['alice']);
    // A dead process's leftover is removed by that enroll; a live one's attempt is its own to remove.
    expect(fs.existsSync(path.join(dir, temp))).toBe(temp.includes(`-${process.ppid}-`));
  });

  it('names that only look like the lock\'s stay someone\'s folder', () => {
    const dir = path.join(tempDir(), 'x');
    fs.mkdirSync(dir);
    for (const name of ['store.lock.new-notes.txt', 'store.lock.new-12-Draft', 'store.lock.old']) {
      fs.writeFileSync(path.join(dir, name), '');
      expect(storeDirKind(dir), name).toBe('foreign');
      fs.unlinkSync(path.join(dir, name));
    }
    // Other leftover-like names still count as facectl's only beside store.lock itself.
    fs.writeFileSync(path.join(dir, `store.lock.new-${process.ppid}-k3x9a`), '');
    fs.writeFileSync(path.join(dir, 'thesis.g2.next'), 'mine');
    expect(storeDirKind(dir)).toBe('foreign');
  });
});

describe('a store folder others may write', () => {
  it('is refused by open, mutate (also creating), verify and repair, untouched: someone could have planted faces', async () => {
    for (const mode of [0o777, 0o770, 0o707]) {
      const dir = await storeWithAlice();
      fs.chmodSync(dir, mode);
      const before = state(dir);
      const refused = /the store folder is writable by (every user|its group) \(mode 0\d+\): .*`chmod 700`/;
      await expectFacectlError(() => GalleryStore.open(dir), ExitCode.STORE_ERROR, refused);
      await expectFacectlError(() => GalleryStore.mutate(dir, (d) => d.addFaces(MODEL, [face('bob', 1)])), ExitCode.STORE_ERROR, refused);
      await expectFacectlError(() => GalleryStore.mutate(dir, (d) => d.removeIdentity('alice'), { create: false }), ExitCode.STORE_ERROR, refused);
      await expectFacectlError(() => GalleryStore.repair(dir), ExitCode.STORE_ERROR, refused);
      await expectFacectlError(() => GalleryStore.verify(dir), ExitCode.STORE_ERROR, refused);
      expect(state(dir)).toEqual(before);
    }
  });

  const isRoot = process.getuid?.() === 0;
  it.skipIf(!isRoot)(`a store folder of another user, or a store file that is not ours, is refused too (chown nobody)${isRoot ? '' : ' (skipped: needs root to chown)'}`, async () => {
    const NOBODY = 65534;
    const dir = await storeWithAlice();
    fs.chownSync(dir, NOBODY, NOBODY); // mode stays 0700: its owner can write it all the same (it logged anyone in)
    const before = state(dir);
    const folder = /the store folder belongs to another user \(uid 65534\): they can replace the enrolled faces; use it as that user, or check its files and `chown` it to yourself/;
    await expectFacectlError(() => GalleryStore.open(dir), ExitCode.STORE_ERROR, folder);
    await expectFacectlError(() => GalleryStore.mutate(dir, (d) => d.addFaces(MODEL, [face('bob', 1)])), ExitCode.STORE_ERROR, folder);
    await expectFacectlError(() => GalleryStore.repair(dir), ExitCode.STORE_ERROR, folder);
    expect(state(dir)).toEqual(before);
    fs.chownSync(dir, 0, 0);
    expect((await GalleryStore.open(dir)).rows.length).toBe(1);
    for (const [name, change] of [['embeddings.f32', (f: string) => fs.chownSync(f, NOBODY, NOBODY)], ['data.csv', (f: string) => fs.chmodSync(f, 0o666)]] as const) {
      const file = path.join(dir, name);
      change(file);
      await expectFacectlError(() => GalleryStore.open(dir), ExitCode.STORE_ERROR, new RegExp(`${name.replace('.', '\\.')} (belongs to another user|is writable by group and others)`));
      fs.chownSync(file, 0, 0);
      fs.chmodSync(file, 0o600);
    }
    expect((await GalleryStore.open(dir)).rows.length).toBe(1);
  });

  it('a store folder only readable by others is ours: the next commit makes it 0700; an empty 0777 folder is taken and made 0700', async () => {
    const dir = await storeWithAlice();
    fs.chmodSync(dir, 0o755);
    expect((await GalleryStore.open(dir)).rows.length).toBe(1);
    await GalleryStore.mutate(dir, (d) => d.addFaces(MODEL, [face('bob', 1)]));
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const empty = path.join(tempDir(), 'empty');
    fs.mkdirSync(empty);
    fs.chmodSync(empty, 0o777);
    await GalleryStore.mutate(empty, (d) => d.addFaces(MODEL, [face('carol', 2)]));
    expect(fs.statSync(empty).mode & 0o777).toBe(0o700);
  });
});

describe('a store written by a newer facectl', () => {
  it('is refused as such by open, mutate, verify and repair, and repair does not rewrite it', async () => {
    const dir = await storeWithAlice();
    const manifest = path.join(dir, 'manifest.json');
    fs.writeFileSync(manifest, fs.readFileSync(manifest, 'utf8').replace('"formatVersion": 1', '"formatVersion": 2'));
    const before = fs.readFileSync(manifest);
    const newer = /written by a newer facectl \(store format 2; this one reads 1\): upgrade facectl/;
    await expectFacectlError(() => GalleryStore.open(dir), ExitCode.STORE_ERROR, newer);
    await expectFacectlError(() => GalleryStore.mutate(dir, (d) => d.addFaces(MODEL, [face('bob', 1)])), ExitCode.STORE_ERROR, newer);
    await expectFacectlError(() => GalleryStore.repair(dir), ExitCode.STORE_ERROR, newer);
    expect((await GalleryStore.verify(dir)).problems.join('\n')).toMatch(newer);
    expect(fs.readFileSync(manifest)).toEqual(before);
  });
});

describe('a commit journal that cannot be completed', () => {
  it.each([
    ['unreadable', (dir: string) => fs.writeFileSync(path.join(dir, 'commit.journal'), '{"generation":3,"entr')],
    [
      'naming a staged file of the wrong size',
      (dir: string) => {
        fs.writeFileSync(path.join(dir, 'data.csv.g2.next'), 'short');
        fs.writeFileSync(path.join(dir, 'commit.journal'), JSON.stringify({ generation: 2, entries: [{ file: 'data.csv', staged: 'data.csv.g2.next', bytes: 999 }] }));
      },
    ],
  ])('%s: every open says to run index rebuild, and repair removes it and keeps the committed faces', async (_, damage) => {
    const dir = await storeWithAlice();
    damage(dir);
    await expectFacectlError(() => GalleryStore.open(dir), ExitCode.STORE_ERROR, /run `facectl index rebuild`/);
    const report = await GalleryStore.repair(dir);
    expect(report.actions[0]).toMatch(/^removed commit\.journal: .*, so its commit could not be completed; the committed files are salvaged$/);
    expect(report.snapshot.identities().map((i) => i.id)).toEqual(['alice']);
    expect((await GalleryStore.open(dir)).identities().map((i) => i.id)).toEqual(['alice']);
    expect(fs.readdirSync(dir).sort()).toEqual(['data.csv', 'embeddings.f32', 'manifest.json']);
  });
});
