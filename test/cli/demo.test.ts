/**
 * `facectl demo`: the whole job (detect, enroll, log in) on the photos installed with facectl, in a
 * temporary private store that is gone afterwards; with --photos, every format facectl reads, and a
 * photo it cannot use is skipped with the reason. Needs no ../shared.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { findDemoPhotos, SAMPLE_NAMES } from '../../src/app/demo.js';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { DEFAULT_EMBEDDER } from '../../src/models/registry.js';
import { CLI_ENTRY, runCli, spawnCli } from '../helpers/cli.js';
import { repoRoot } from '../helpers/shared.js';
import { SKIP_NO_SAMPLES, faceCrop, hasSamples, samplesDir } from '../helpers/samples.js';

/** The photo as binary PGM (P5, grey), a format sharp cannot read. */
async function writePgm(photo: string, file: string): Promise<void> {
  const { data, info } = await sharp(photo).greyscale().raw().toBuffer({ resolveWithObject: true });
  writeFileSync(file, Buffer.concat([Buffer.from(`P5\n${info.width} ${info.height}\n255\n`), data]));
}

/** The photo as a 24-bit bottom-up BMP, another format sharp cannot read. */
async function writeBmp(photo: string, file: string): Promise<void> {
  const { data, info } = await sharp(photo).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const stride = Math.ceil((info.width * 3) / 4) * 4;
  const out = Buffer.alloc(54 + stride * info.height);
  out.write('BM', 0);
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(info.width, 18);
  out.writeInt32LE(info.height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(stride * info.height, 34);
  for (let y = 0; y < info.height; y++)
    for (let x = 0; x < info.width; x++) {
      const i = (y * info.width + x) * 3, o = 54 + (info.height - 1 - y) * stride + x * 3;
      [out[o], out[o + 1], out[o + 2]] = [data[i + 2]!, data[i + 1]!, data[i]!];
    }
  writeFileSync(file, out);
}

const blankPng = (file: string) => sharp({ create: { width: 200, height: 200, channels: 3, background: '#808080' } }).png().toFile(file);

describe.skipIf(!hasSamples)(`facectl demo${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  it('detects every face of the six samples, enrolls the first three photos, logs each enrolled face in as itself, and removes its store', () => {
    const r = runCli(['demo', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.photos.map((p: { file: string }) => path.basename(p.file))).toEqual(SAMPLE_NAMES);
    // The people visible in each photo (counted by eye): 3, 3, 3, 4, 5, 4.
    expect(j.photos.map((p: { faces: number }) => p.faces)).toEqual([3, 3, 3, 4, 5, 4]);
    expect(j.enrolled).toHaveLength(9);
    const enrolled = j.enrolled.filter((e: { refused?: string }) => !e.refused);
    expect(enrolled.length).toBeGreaterThanOrEqual(7);
    // A face refused is refused for matching someone already enrolled (the duplicate check), nothing else.
    for (const e of j.enrolled.filter((x: { refused?: string }) => x.refused)) expect(e.refused).toMatch(/already matches enrolled identity/);
    // Every enrolled person logs in as themselves from a mirrored, smaller copy of their photo.
    expect(j.known.map((k: { id: string }) => k.id)).toEqual(enrolled.map((e: { id: string }) => e.id));
    for (const k of j.known) expect(k, JSON.stringify(k)).toMatchObject({ decision: 'ACCEPT', matched: k.id });
    // Faces of the other photos were never enrolled: every decision follows the threshold, and they are turned away.
    expect(j.strangers).toHaveLength(13);
    for (const s of j.strangers) expect(s.decision, JSON.stringify(s)).toBe(s.score >= j.threshold.value ? 'ACCEPT' : 'UNKNOWN');
    expect(j.strangers.filter((s: { decision: string }) => s.decision === 'UNKNOWN').length).toBeGreaterThanOrEqual(12);
    expect(j.store.mode).toBe(0o700);
    expect(j.store.removed).toBe(true);
    expect(existsSync(path.dirname(j.store.dir))).toBe(false);
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine

  it('--photos <dir>: prints what it did, step by step, and a summary', () => {
    const mine = mkdtempSync(path.join(os.tmpdir(), 'facectl-myphotos-'));
    for (const n of SAMPLE_NAMES) copyFileSync(path.join(samplesDir, n), path.join(mine, n));
    const r = runCli(['demo', '--photos', mine]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^detect {2}sample1\.jpg: 3 face\(s\)$/m);
    expect(r.stdout).toMatch(/^enroll {2}sample1-face1$/m);
    expect(r.stdout).toMatch(/^login {3}sample1-face1 .*: ACCEPT sample1-face1 /m);
    expect(r.stdout).toMatch(/^login {3}sample4\.jpg face 2 \(not enrolled\): UNKNOWN/m);
    expect(r.stdout).toMatch(/^summary: 22 faces found; .*store removed$/m);
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine

  it('--photos: PGM and BMP photos are enrolled; a stranger photo without a face is skipped with the reason', async () => {
    const mine = mkdtempSync(path.join(os.tmpdir(), 'facectl-myphotos-'));
    await writePgm(await faceCrop('a'), path.join(mine, 'a.pgm'));
    await writeBmp(await faceCrop('b'), path.join(mine, 'b.bmp'));
    copyFileSync(await faceCrop('c'), path.join(mine, 'c.jpg'));
    await blankPng(path.join(mine, 'd-blank.png'));
    const r = runCli(['demo', '--photos', mine, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.enrolled.map((e: { id: string; refused?: string }) => [e.id, e.refused])).toEqual([['a-face1', undefined], ['b-face1', undefined]]);
    for (const k of j.known) expect(k, JSON.stringify(k)).toMatchObject({ decision: 'ACCEPT', matched: k.id });
    expect(j.strangers.map((x: { photo: string }) => path.basename(x.photo))).toEqual(['c.jpg']);
    expect(j.skipped).toEqual([{ file: path.join(mine, 'd-blank.png'), reason: 'no face found' }]);
    expect(j.store.removed).toBe(true);
    const text = runCli(['demo', '--photos', mine]);
    expect(text.stdout).toMatch(/^skip {4}d-blank\.png: no face found$/m);
    expect(text.stdout).toMatch(/^summary: .*; 1 photo\(s\) skipped; store removed$/m);
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine

  it('Ctrl-C mid-run removes its folder of face crops (written 0600) and store, and exits 130', async () => {
    const mine = mkdtempSync(path.join(os.tmpdir(), 'facectl-myphotos-'));
    for (const n of SAMPLE_NAMES) copyFileSync(path.join(samplesDir, n), path.join(mine, n));
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'facectl-demo-tmpdir-'));
    const umask = process.umask(0o002); // the child inherits it: crops must not follow it
    const child = spawnCli(['demo', '--photos', mine], { TMPDIR: scratch });
    process.umask(umask);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait for the first crop, then interrupt.
    let crop: string | undefined;
    for (let i = 0; i < 1200 && !crop; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const dir = readdirSync(scratch).find((n) => n.startsWith('facectl-demo-'));
      const name = dir && readdirSync(path.join(scratch, dir)).find((n) => n.endsWith('-face1.jpg'));
      if (name) crop = path.join(scratch, dir!, name);
    }
    expect(crop, 'no crop appeared').toBeDefined();
    expect(statSync(crop!).mode & 0o777).toBe(0o600);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(readdirSync(scratch).filter((n) => n.startsWith('facectl-'))).toEqual([]); // (tsx keeps its own cache there)
  }, 600_000);

  // process.exit() from the stdout error handler skipped demo's `finally`: the crops and store stayed in /tmp.
  it.skipIf(!existsSync('/dev/full'))('a standard output that cannot be written (a full disk) still removes its folder, exit 11', () => {
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'facectl-demo-full-'));
    const full = openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'demo'], { cwd: repoRoot, env: { ...process.env, TMPDIR: scratch }, stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 300_000 });
      expect(r.status, r.stderr).toBe(ExitCode.STORE_ERROR);
    } finally {
      closeSync(full);
    }
    expect(readdirSync(scratch).filter((n) => n.startsWith('facectl-'))).toEqual([]);
  }, 600_000);

  it('--photos with no face to enroll: one line saying so (not the removed temporary store), exit 4', async () => {
    const mine = mkdtempSync(path.join(os.tmpdir(), 'facectl-myphotos-'));
    for (const n of ['a.png', 'b.png']) await blankPng(path.join(mine, n));
    const r = runCli(['demo', '--photos', mine, '--json']);
    expect(r.code, r.stderr).toBe(ExitCode.NO_FACE);
    expect(r.stderr).toBe('facectl: no face in the first 1 photo(s) could be enrolled (0 found): the demo needs photos with clear, front-facing faces\n');
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine
});

describe('facectl demo without photos', () => {
  it('a folder without photos: one line, exit 14', () => {
    const r = runCli(['demo', '--photos', mkdtempSync(path.join(os.tmpdir(), 'facectl-nophotos-'))]);
    expect(r.code).toBe(ExitCode.NOT_FOUND);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^facectl: .*the demo needs at least 2 photos/);
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine

  it('--photos takes every photo file of the folder whatever its name (it kept only known extensions: a .jfif or a name without one was dropped silently)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-demo-names-'));
    for (const name of ['a.jpg', 'c_noext', 'd.jfif', 'e.heic', 'README.md', '.hidden.jpg']) writeFileSync(path.join(dir, name), 'bytes decided later');
    mkdirSync(path.join(dir, 'sub'));
    expect(findDemoPhotos(dir).map((f) => path.basename(f))).toEqual(['a.jpg', 'c_noext', 'd.jfif', 'e.heic']);
    // A link loop or a dangling link among them is no photo (a loop made the folder "no such folder", exit 14).
    symlinkSync('loop2', path.join(dir, 'loop'));
    symlinkSync('loop', path.join(dir, 'loop2'));
    symlinkSync('gone.jpg', path.join(dir, 'dangling.jpg'));
    expect(findDemoPhotos(dir).map((f) => path.basename(f))).toEqual(['a.jpg', 'c_noext', 'd.jfif', 'e.heic']);
  });

  it('face-api not installed (an install from the registry): says where the samples come from and what to do', () => {
    const missing = (id: string): string => {
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    };
    const err = (() => {
      try {
        findDemoPhotos(undefined, missing);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.NOT_FOUND);
    expect((err as FacectlError).message).toMatch(/demo photos .* are not installed.*npm ci.*facectl demo --photos/);
    // And found through package resolution where it is installed.
    if (hasSamples) expect(findDemoPhotos()).toEqual(SAMPLE_NAMES.map((n) => path.join(samplesDir, n)));
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine

  it('--help names the default embedder the demo really uses', () => {
    const r = runCli(['demo', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`--model <id> +embedder \\(default ${DEFAULT_EMBEDDER}\\)`));
  });
});
