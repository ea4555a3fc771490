/**
 * `facectl enroll --dataset`: folder-per-identity import, its summary, and resuming after a kill; folders
 * whose ids clash are refused before anything is enrolled, and a folder name that is no valid display
 * name is cleaned, not fatal.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { GalleryStore } from '../../src/store/index.js';
import { runCli, spawnHookedCli } from '../helpers/cli.js';
import { SKIP_NO_SAMPLES, faceCrop, hasSamples } from '../helpers/samples.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

describe.skipIf(!hasDatasets)(`bulk import${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  it('imports every person, resumes after a kill without duplicating anyone', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-bulk-'));
    const env = { FACECTL_STORE: path.join(tmp, 'store') };
    const root = dataset('face-recognition-examples');

    // Interrupt a first import right after its 2nd commit (two batches of 2: 4 faces stored; the
    // store is created by the first batch, not before any work), then a second
    // one inside its first commit (journal written, files not yet renamed): each kill lands at a point
    // the child reports, not after a guessed time.
    const first = spawnHookedCli(['enroll', '--dataset', root, '--batch', '2', '-q'], env, 'journal-removed:2');
    expect((await first.closed).signal, first.stderr()).toBe('SIGKILL');
    expect(first.steps().filter((st) => st === 'journal-removed')).toHaveLength(2);
    expect((await GalleryStore.open(env.FACECTL_STORE)).faceCount).toBe(4);

    const second = spawnHookedCli(['enroll', '--dataset', root, '--batch', '2', '-q'], env, 'committed:1');
    expect((await second.closed).signal, second.stderr()).toBe('SIGKILL');
    const partial = await GalleryStore.open(env.FACECTL_STORE); // rolls the journalled commit forward
    expect(partial.faceCount).toBe(6);

    const r = runCli(['enroll', '--dataset', root, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.identities).toBe(6);
    expect(j.photos).toBe(16);
    expect(j.alreadyEnrolled).toBe(partial.faceCount);
    expect(j.added + j.alreadyEnrolled + j.rejected.length).toBe(16);
    const snapshot = await GalleryStore.open(env.FACECTL_STORE);
    expect(snapshot.faceCount).toBe(16 - j.rejected.length);
    expect(new Set(snapshot.rows.map((row) => `${row.id}/${row.imageSha256}`)).size).toBe(snapshot.faceCount);
    expect(snapshot.identities().map((i) => i.id).sort()).toEqual(['alex_lacamoire', 'barack_obama', 'joe_biden', 'kit_harington', 'lin_manuel_miranda', 'rose_leslie']);

    // A third run has nothing left to do.
    const again = JSON.parse(runCli(['enroll', '--dataset', root, '--json'], env).stdout);
    expect(again.added).toBe(0);
    expect(again.alreadyEnrolled).toBe(snapshot.faceCount);
  }, 300_000);
});

describe.skipIf(!hasSamples)(`bulk import folder names${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-bulk-names-'));
  /** A dataset of one face crop per folder. */
  const dataset = async (name: string, folders: [string, 'a' | 'b' | 'c'][]) => {
    const root = path.join(tmp, name);
    for (const [folder, crop] of folders) {
      mkdirSync(path.join(root, folder), { recursive: true });
      copyFileSync(await faceCrop(crop), path.join(root, folder, `${crop}.jpg`));
    }
    return root;
  };

  it('folders whose ids clash (with each other or with the store) are all refused: exit 2, nothing enrolled', async () => {
    const store = path.join(tmp, 'clash-store');
    const root = await dataset('clash', [['José', 'a'], ['Jos_', 'b'], ['joe biden', 'c'], ['joe_biden', 'a']]);
    const r = runCli(['enroll', '--dataset', root, '--store', store, '-q']);
    expect(r.code, r.stderr).toBe(ExitCode.USAGE);
    expect(r.stderr).toMatch(/^facectl: folders that would enroll different people under one id: .*nothing enrolled\n$/);
    for (const pair of ['"Jos_" and "José" → Jos_', '"joe biden" and "joe_biden" → joe_biden']) expect(r.stderr).toContain(pair);
    expect(existsSync(store)).toBe(false);

    expect(runCli(['enroll', '--dataset', await dataset('first', [['José', 'a']]), '--store', store, '-q']).code).toBe(0);
    const later = runCli(['enroll', '--dataset', await dataset('later', [['Jos_', 'b']]), '--store', store, '-q']);
    expect(later.code, later.stderr).toBe(ExitCode.USAGE);
    expect(later.stderr).toContain('folder "Jos_" → Jos_, enrolled already as "José"');
    expect(JSON.parse(runCli(['list', '--store', store, '--json']).stdout).identities.map((i: { faces: number }) => i.faces)).toEqual([1]);
  });

  it("an identity the store holds keeps its name; the same photo twice is taken once; a folder with no face is not 'enrolled'; an import enrolling nothing fails like enroll", async () => {
    const store = path.join(tmp, 'names-store');
    expect(runCli(['enroll', 'kit', await faceCrop('a'), '--name', 'Kit Harington', '--store', store, '-q']).code).toBe(0);
    const root = path.join(tmp, 'names');
    mkdirSync(path.join(root, 'kit'), { recursive: true });
    for (const copy of ['c1.jpg', 'c2.jpg']) copyFileSync(await faceCrop('c'), path.join(root, 'kit', copy));
    mkdirSync(path.join(root, 'no face'));
    const blank = path.join(root, 'no face', 'wall.png');
    await sharp({ create: { width: 200, height: 200, channels: 3, background: '#8899aa' } }).png().toFile(blank);
    const r = runCli(['enroll', '--dataset', root, '--store', store, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ added: 1, duplicatePhotos: 1, alreadyEnrolled: 0, identitiesEnrolled: 1, renamedFolders: [] });
    expect(r.stderr).not.toMatch(/enrolled as id/);
    const kit = JSON.parse(runCli(['list', '--store', store, '--json']).stdout).identities;
    expect(kit).toMatchObject([{ id: 'kit', name: 'Kit Harington', faces: 2 }]);

    const onlyBlank = path.join(tmp, 'only-blank');
    mkdirSync(path.join(onlyBlank, 'wall'), { recursive: true });
    copyFileSync(blank, path.join(onlyBlank, 'wall', 'wall.png'));
    const empty = runCli(['enroll', '--dataset', onlyBlank, '--store', path.join(tmp, 'empty-store'), '-q']);
    expect(empty.code, empty.stderr).toBe(ExitCode.NO_FACE);
    expect(empty.stderr.trim().split('\n').at(-1)).toMatch(/^facectl: nothing enrolled: no photo in .*only-blank gave a usable face \(first: .*wall\.png: no face found\)$/);
  });

  it('in text mode, each rejected photo gets a line on stderr with its reason, also with -q; --json lists them instead', async () => {
    const root = await dataset('rejects', [['ann', 'a']]);
    mkdirSync(path.join(root, 'bob'));
    const wall = path.join(root, 'bob', 'wall.png');
    await sharp({ create: { width: 200, height: 200, channels: 3, background: '#8899aa' } }).png().toFile(wall);
    const store = path.join(tmp, 'rejects-store');
    for (const quiet of [[], ['-q']]) {
      const r = runCli(['enroll', '--dataset', root, '--store', store, ...quiet]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/photos rejected\s*│ 1/);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('rejected '))).toEqual([`rejected ${wall}: no face found`]);
    }
    const j = runCli(['enroll', '--dataset', root, '--store', store, '--json', '-q']);
    expect(JSON.parse(j.stdout).rejected).toMatchObject([{ file: wall, code: ExitCode.NO_FACE, reason: 'no face found' }]);
    expect(j.stderr).toBe('');
  });

  it('a folder name with a tab enrolls under a cleaned name; the other folders too', async () => {
    const store = path.join(tmp, 'tab-store');
    const r = runCli(['enroll', '--dataset', await dataset('tab', [['Ann\tLee', 'a'], ['bob', 'b']]), '--store', store, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ identitiesEnrolled: 2, renamedFolders: [{ folder: 'Ann\tLee', id: 'Ann_Lee' }] });
    const ids = JSON.parse(runCli(['list', '--store', store, '--json']).stdout).identities.map((i: { id: string; name: string }) => [i.id, i.name]);
    expect(ids).toEqual([['Ann_Lee', 'Ann Lee'], ['bob', 'bob']]);
  });
});
