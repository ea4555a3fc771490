/**
 * `detect --draw`: a bad output path is a one-line error with its exit code, checked before any model
 * loads (it was an internal error); the drawings, pictures of faces, are private (0600) whatever the
 * umask; two photos with one name from two folders get two drawings. Each photo that fails gets its line
 * on stderr. Needs the face-api samples.
 */
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_SAMPLES, faceCrop, hasSamples } from '../helpers/samples.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-detect-'));
const mode = (file: string) => statSync(file).mode & 0o777;

describe.skipIf(!hasSamples)(`detect --draw${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  it('refuses a folder for one photo, a file for several, and a missing folder, in one line each', async () => {
    const [a, b] = [await faceCrop('a'), await faceCrop('b')];
    const folder = path.join(tmp, 'a-folder');
    mkdirSync(folder);
    const file = path.join(tmp, 'a-file');
    writeFileSync(file, '');
    const cases: [string[], number, RegExp][] = [
      [[a, '--draw', folder], ExitCode.USAGE, /--draw names a folder/],
      [[a, b, '--draw', file], ExitCode.USAGE, /--draw names a file: with several photos it takes a folder/],
      [[a, '--draw', path.join(file, 'o.png')], ExitCode.USAGE, /part of this path is a file/],
      [[a, '--draw', path.join(tmp, 'missing', 'd', 'o.png')], ExitCode.NOT_FOUND, /--draw: folder .*missing\/d not found/],
      // A folder that is there but takes no new file: it said "folder /proc not found" (exit 14).
      ...(existsSync('/proc/self') ? [[[a, '--draw', '/proc/x.png'], ExitCode.STORE_ERROR, /--draw: cannot write: no such file or directory \(ENOENT\)/] as [string[], number, RegExp]] : []),
      // PNG bytes under another image's name: refused before the work, nothing written.
      [[a, '--draw', path.join(tmp, 'o.jpg')], ExitCode.USAGE, /--draw writes a PNG picture: name the file \.png, not \.jpg/],
    ];
    for (const [argv, code, message] of cases) {
      const r = runCli(['detect', ...argv]);
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toMatch(new RegExp(`^facectl: [^\\n]*${message.source}[^\\n]*\\n$`));
    }
    expect(existsSync(path.join(tmp, 'missing'))).toBe(false);
    expect(existsSync(path.join(tmp, 'o.jpg'))).toBe(false);
  });

  it('writes the drawings 0600, also over a readable file and under umask 0; a new folder 0700', async () => {
    const [a, b] = [await faceCrop('a'), await faceCrop('b')];
    const one = path.join(tmp, 'one.png');
    writeFileSync(one, '');
    chmodSync(one, 0o644);
    expect(runCli(['detect', a, '--draw', one]).code).toBe(0);
    expect(mode(one)).toBe(0o600);
    const several = path.join(tmp, 'several');
    const umask0 = process.umask(0); // the child inherits it
    try {
      expect(runCli(['detect', a, b, '--draw', several]).code).toBe(0);
    } finally {
      process.umask(umask0);
    }
    expect(mode(several)).toBe(0o700);
    for (const name of ['a.faces.png', 'b.faces.png']) expect(mode(path.join(several, name)), name).toBe(0o600);
  });

  it('replaces a link planted at the drawing’s name instead of writing where it points; leaves no temporary file', async () => {
    const a = await faceCrop('a');
    const victim = path.join(tmp, 'victim.txt');
    writeFileSync(victim, 'precious');
    const shared = path.join(tmp, 'shared');
    mkdirSync(shared);
    symlinkSync(victim, path.join(shared, 'a.faces.png')); // as another user could in a shared folder
    symlinkSync(path.join(tmp, 'created-by-link'), path.join(shared, 'one.png')); // a dangling one
    expect(runCli(['detect', a, await faceCrop('b'), '--draw', shared]).code).toBe(0);
    expect(runCli(['detect', a, '--draw', path.join(shared, 'one.png')]).code).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(existsSync(path.join(tmp, 'created-by-link'))).toBe(false);
    for (const name of ['a.faces.png', 'one.png']) {
      const f = path.join(shared, name);
      expect(lstatSync(f).isFile(), name).toBe(true);
      expect(mode(f), name).toBe(0o600);
      expect(readFileSync(f).subarray(1, 4).toString(), name).toBe('PNG');
    }
    expect(readdirSync(shared).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('gives photos of the same name from different folders one drawing each (name-2.faces.png…)', async () => {
    const photos = [];
    for (const [folder, crop] of [['x', 'a'], ['y', 'b'], ['z', 'c']] as const) {
      mkdirSync(path.join(tmp, folder));
      photos.push(path.join(tmp, folder, 'img1.jpg'));
      copyFileSync(await faceCrop(crop), photos.at(-1)!);
    }
    const out = path.join(tmp, 'same-names');
    const r = runCli(['detect', ...photos, '--draw', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const names = ['img1.faces.png', 'img1-2.faces.png', 'img1-3.faces.png'];
    expect(JSON.parse(r.stdout).results.map((x: { drawn: string }) => path.basename(x.drawn))).toEqual(names);
    expect(readdirSync(out).sort()).toEqual([...names].sort());
    expect(new Set(names.map((n) => readFileSync(path.join(out, n)).toString('base64'))).size).toBe(3);
  });

  it('says on stderr, one line each, which photos failed and why; the others are still detected', async () => {
    const blank = path.join(tmp, 'blank.png');
    await sharp({ create: { width: 200, height: 200, channels: 3, background: '#808080' } }).png().toFile(blank);
    const junk = path.join(tmp, 'junk.jpg');
    writeFileSync(junk, 'not an image');
    const missing = path.join(tmp, 'missing.jpg');
    const r = runCli(['detect', await faceCrop('a'), blank, junk, missing, '--json', '-q']);
    expect(r.code).toBe(ExitCode.NO_FACE); // the first failure's code
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(`facectl: ${blank}: no face found`);
    expect(lines[1]).toMatch(new RegExp(`^facectl: ${junk}: not a supported image`));
    expect(lines[2]).toBe(`facectl: ${missing}: no such file`);
    expect(JSON.parse(r.stdout).results[0].faces).toHaveLength(1);
  });
});
