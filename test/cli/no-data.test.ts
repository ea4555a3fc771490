/**
 * The CLI end to end with no ../shared: enroll, login, verify, list, remove, info and the documented
 * exit codes, on faces cut from the sample photos `npm ci` installs (@vladmandic/face-api demo/) and on
 * images made here. Each test works on its own copy of a base store, so none depends on another.
 */
import { DEFAULT_EMBEDDER } from '../../src/models/registry.js';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_SAMPLES, faceCrop, hasSamples, sample } from '../helpers/samples.js';
import { expectErrorExits, storeCopier } from '../helpers/store-checks.js';

describe.skipIf(!hasSamples)(`CLI without datasets${hasSamples ? '' : ` (${SKIP_NO_SAMPLES})`}`, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-nodata-'));
  const base = path.join(tmp, 'base-store');
  const envFor = (store: string) => ({ FACECTL_STORE: store, FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models'), FACECTL_CACHE_DIR: path.join(tmp, 'cache') });
  /** Each test works on its own copy of the base store, so none depends on another's run or order. */
  const withStore = storeCopier(tmp, base, envFor);
  /** alice: a face from sample1; bob: one from sample3; carol: one from sample6 (never enrolled). */
  let alice: string, bob: string, carol: string, aliceMirrored: string;

  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([faceCrop('a'), faceCrop('b'), faceCrop('c')]);
    aliceMirrored = path.join(tmp, 'alice-mirrored.jpg');
    await sharp(alice).flop().resize(300).jpeg({ quality: 85 }).toFile(aliceMirrored);
    const a = runCli(['enroll', 'alice', alice, '--name', 'Alice A.'], envFor(base));
    expect(a.code, a.stderr).toBe(0);
    const b = runCli(['enroll', 'bob', bob], envFor(base));
    expect(b.code, b.stderr).toBe(0);
  });

  it('enroll creates a private store: directory 0700, files 0600', () => {
    expect(statSync(base).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(base)) expect(statSync(path.join(base, f)).mode & 0o777, f).toBe(0o600);
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine

  it('login: ACCEPT alice from another rendering of her photo (exit 0), UNKNOWN for carol (exit 3)', () => {
    const { cli } = withStore('login');
    const ok = cli('login', aliceMirrored, '--json');
    expect(ok.code, ok.stderr).toBe(ExitCode.OK);
    expect(JSON.parse(ok.stdout).faces[0]).toMatchObject({ decision: 'ACCEPT', id: 'alice' });
    const text = cli('login', aliceMirrored);
    expect(text.stdout).toMatch(/^ACCEPT alice \(Alice A\.\)/);
    expect(text.stdout).toContain(alice); // the enrolled photo, by absolute path
    const no = cli('login', carol, '--json');
    expect(no.code, no.stderr).toBe(ExitCode.UNKNOWN_FACE);
    const j = JSON.parse(no.stdout);
    expect(j.faces[0]).toMatchObject({ decision: 'UNKNOWN', id: null });
    expect(j.faces[0].score).toBeLessThan(j.threshold.value);
    // A threshold below carol's best score accepts her nearest: the decision is the threshold's, nothing else.
    const low = cli('login', carol, '--threshold', String(j.faces[0].score - 0.01), '--json');
    expect(low.code).toBe(ExitCode.OK);
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine

  it('verify: SAME (exit 0) for two renderings of one face, DIFFERENT (exit 3) for two people', () => {
    const { cli } = withStore('verify');
    const same = cli('verify', alice, aliceMirrored, '--json');
    expect(same.code, same.stderr).toBe(0);
    expect(JSON.parse(same.stdout).decision).toBe('SAME');
    const diff = cli('verify', alice, bob, '--json');
    expect(diff.code, diff.stderr).toBe(ExitCode.UNKNOWN_FACE);
    expect(JSON.parse(diff.stdout).decision).toBe('DIFFERENT');
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine

  it('list, info and remove', () => {
    const { cli } = withStore('list');
    const list = JSON.parse(cli('list', '--json').stdout);
    expect(list.identities.map((i: { id: string; name: string }) => [i.id, i.name]).sort()).toEqual([['alice', 'Alice A.'], ['bob', 'bob']]);
    const info = JSON.parse(cli('info', '--json').stdout);
    expect(info.model.id).toBe(DEFAULT_EMBEDDER);
    expect(info.faces).toBe(2);
    expect(info.identities).toBe(2);
    const rm = cli('remove', 'bob');
    expect(rm.code, rm.stderr).toBe(0);
    expect(cli('remove', 'bob').code).toBe(ExitCode.UNKNOWN_ID);
    expect(JSON.parse(cli('list', '--json').stdout).identities.map((i: { id: string }) => i.id)).toEqual(['alice']);
    expect(cli('login', bob).code).toBe(ExitCode.UNKNOWN_FACE);
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine

  it('bad input: one line on stderr, its documented exit code, and the store byte-for-byte unchanged', async () => {
    const { store, cli } = withStore('bad');
    const corrupt = path.join(tmp, 'corrupt.jpg');
    writeFileSync(corrupt, readFileSync(sample(1)).subarray(0, 4000));
    const text = path.join(tmp, 'notes.jpg');
    writeFileSync(text, 'not an image at all');
    const blank = path.join(tmp, 'blank.png');
    await sharp({ create: { width: 640, height: 480, channels: 3, background: '#7a8b99' } }).png().toFile(blank);
    const cases: [string[], number][] = [
      [['enroll', 'x', corrupt], ExitCode.BAD_IMAGE],
      [['enroll', 'x', text], ExitCode.BAD_IMAGE],
      [['enroll', 'x', blank], ExitCode.NO_FACE],
      [['enroll', 'x', sample(1)], ExitCode.MULTIPLE_FACES],
      [['enroll', 'x', path.join(tmp, 'missing.jpg')], ExitCode.NOT_FOUND],
      [['enroll', '../evil', carol], ExitCode.INVALID_ID],
      [['enroll', '=cmd|calc', carol], ExitCode.INVALID_ID],
      [['enroll', 'alice2', aliceMirrored], ExitCode.DUPLICATE_IDENTITY],
      [['enroll', 'carol', carol, blank], ExitCode.NO_FACE],
      [['remove', 'nobody'], ExitCode.UNKNOWN_ID],
      [['login', blank], ExitCode.NO_FACE],
      [['login', corrupt], ExitCode.BAD_IMAGE],
      [['login', carol, '--threshold', 'abc'], ExitCode.USAGE],
      [['enroll', 'carol', carol, '--model', 'mobileface'], ExitCode.MODEL_MISMATCH],
      [['frobnicate'], ExitCode.USAGE],
    ];
    expectErrorExits(cli, store, cases);
    // --largest takes the biggest face of a group photo (the biggest box detect finds in enroll's one fast
    // pass); --skip-bad enrolls the usable photos.
    const group = cli('enroll', 'group', sample(6), '--largest', '--force', '--json');
    expect(group.code, group.stderr).toBe(0);
    const detected = cli('detect', sample(6), '--fast', '--json');
    expect(detected.code, detected.stderr).toBe(0);
    const faces: { box: { width: number; height: number } }[] = JSON.parse(detected.stdout).results[0].faces;
    expect(faces.length).toBeGreaterThan(1);
    const area = (b: { width: number; height: number }) => b.width * b.height;
    const biggest = faces.reduce((a, b) => (area(b.box) > area(a.box) ? b : a));
    expect(JSON.parse(group.stdout).added.map((row: { box: unknown }) => row.box)).toEqual([biggest.box]);
    const skip = cli('enroll', 'carol', carol, blank, '--skip-bad', '--json');
    expect(skip.code, skip.stderr).toBe(0);
    expect(JSON.parse(skip.stdout).added).toHaveLength(1);
    expect(skip.stderr).toContain('blank.png');
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine

  it('a user ONNX embedder (the toy model): its own store works, a dlib store refuses its embeddings (exit 10)', () => {
    const { cli } = withStore('toy-mismatch');
    const onnx = path.join(tmp, 'toy.onnx');
    writeFileSync(onnx, buildToyEmbedderOnnx({ inputSize: 112, dim: 64, layout: 'NCHW' }));
    const add = cli('models', 'add', onnx, '--json');
    expect(add.code, add.stderr).toBe(0);
    expect(cli('enroll', 'carol', carol, '--model', 'toy').code).toBe(ExitCode.MODEL_MISMATCH);
    const own = { ...envFor(path.join(tmp, 'toy-store')) };
    const enroll = runCli(['enroll', 'carol', carol, '--model', 'toy'], own);
    expect(enroll.code, enroll.stderr).toBe(0);
    expect(JSON.parse(runCli(['info', '--json'], own).stdout).model.id).toBe('toy');
    // The same photo against itself is the same embedding, whatever the model.
    const login = runCli(['login', carol, '--json'], own);
    expect(login.code, login.stderr).toBe(0);
    expect(JSON.parse(login.stdout).faces[0].score).toBeCloseTo(1, 5);
  }, 600_000); // CLI child processes: generous for a loaded 2-core machine
});
