/**
 * The enroll → login → list → remove flow through the real CLI, with every documented exit code for
 * bad input, and the store left byte-for-byte intact by each failure.
 */
import { DEFAULT_EMBEDDER } from '../../src/models/registry.js';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { SKIP_NO_DATA, dataset, hasDatasets, repoRoot } from '../helpers/shared.js';
import { expectErrorExits, storeCopier } from '../helpers/store-checks.js';

const ex = (p: string) => dataset('face-recognition-examples', p);

describe.skipIf(!hasDatasets)(`CLI flow${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-flow-'));
  const base = path.join(tmp, 'base-store');
  const envFor = (store: string) => ({ FACECTL_STORE: store, FACECTL_CACHE_DIR: path.join(tmp, 'cache'), FACECTL_USER_MODELS_DIR: path.join(tmp, 'models') });
  /** Each test works on its own copy of the base store, so none depends on another's run or order. */
  const withStore = storeCopier(tmp, base, envFor);

  beforeAll(() => {
    const a = runCli(['enroll', 'obama', ex('barack_obama/obama.jpg'), ex('barack_obama/obama2.jpg'), '--name', 'Barack Obama'], envFor(base));
    expect(a.code, a.stderr).toBe(0);
    const b = runCli(['enroll', 'biden', ex('joe_biden/biden.jpg'), ex('joe_biden/biden2.jpg')], envFor(base));
    expect(b.code, b.stderr).toBe(0);
  });

  it('creates the store private: directory 0700, files 0600', () => {
    const store = base;
    expect(statSync(store).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(store)) expect(statSync(path.join(store, f)).mode & 0o777, f).toBe(0o600);
  });

  it('login accepts obama from a photo that was not enrolled, and lists his enrolled photos', () => {
    const { cli } = withStore('login-accept');
    const r = cli('login', ex('barack_obama/obama1.jpg'));
    expect(r.code, r.stderr).toBe(ExitCode.OK);
    expect(r.stdout).toMatch(/^ACCEPT obama \(Barack Obama\)/);
    expect(r.stdout).toContain('obama2.jpg');
  });

  it('login answers UNKNOWN for a person who is not enrolled (exit 3), even though someone is nearest', () => {
    const { cli } = withStore('login-unknown');
    const r = cli('login', ex('rose_leslie/img1.jpg'), '--json');
    expect(r.code, r.stderr).toBe(ExitCode.UNKNOWN_FACE);
    const j = JSON.parse(r.stdout);
    expect(j.faces[0].decision).toBe('UNKNOWN');
    expect(j.faces[0].id).toBeNull();
    expect(j.faces[0].candidates.length).toBe(2); // the nearest strangers are shown, not accepted
    expect(j.faces[0].score).toBeLessThan(j.threshold.value);
  });

  it('login --sheet writes a PNG contact sheet', () => {
    const { cli } = withStore('sheet');
    const sheet = path.join(tmp, 'sheet.png');
    const r = cli('login', ex('barack_obama/obama3.jpg'), '--sheet', sheet);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(sheet).subarray(1, 4).toString()).toBe('PNG');
  });

  it('verify says SAME (0) and DIFFERENT (3)', () => {
    const { cli } = withStore('verify');
    expect(cli('verify', ex('kit_harington/john1.jpeg'), ex('kit_harington/johnsnow_test1.jpg')).code).toBe(0);
    const d = cli('verify', ex('kit_harington/john1.jpeg'), ex('rose_leslie/img2.jpg'), '--json');
    expect(d.code).toBe(ExitCode.UNKNOWN_FACE);
    expect(JSON.parse(d.stdout).decision).toBe('DIFFERENT');
  });

  it('login says when a photo has several faces (the largest decides), on stderr and as facesInPhoto', () => {
    const { cli } = withStore('login-faces');
    const group = dataset('edge-cases', 'multi-face', '7242.jpg'); // two faces
    const r = cli('login', group, '--json');
    expect(r.stderr).toMatch(/7242\.jpg: 2 faces; decided on the largest, box \d+,\d+ \d+x\d+ \(--all-faces decides each\)/);
    expect(JSON.parse(r.stdout).faces.map((f: { facesInPhoto: number }) => f.facesInPhoto)).toEqual([2]);
    const single = cli('login', ex('barack_obama/obama1.jpg'), '--json');
    expect(single.stderr).not.toMatch(/faces; decided/);
    expect(JSON.parse(single.stdout).faces[0].facesInPhoto).toBe(1);
  });

  it('verify says when a photo has several faces (the largest is compared), and never prints numbers that contradict its answer', () => {
    const { cli } = withStore('verify-faces');
    const group = dataset('edge-cases', 'multi-face', '7242.jpg'); // two faces
    const r = cli('verify', group, ex('kit_harington/john1.jpeg'), '--json');
    expect(r.stderr).toMatch(/7242\.jpg: 2 faces; compared the largest, box \d+,\d+ \d+x\d+/);
    expect(JSON.parse(r.stdout).faces.map((f: { facesInPhoto: number }) => f.facesInPhoto)).toEqual([2, 1]);
    // A photo against itself scores just under 1 in float32: at --threshold 1 it is DIFFERENT, and the
    // printed similarity must not round up to the threshold.
    const same = cli('verify', ex('kit_harington/john1.jpeg'), ex('kit_harington/john1.jpeg'), '--threshold', '1');
    expect(same.code).toBe(ExitCode.UNKNOWN_FACE);
    const [, shown, threshold] = same.stdout.match(/^DIFFERENT {2}similarity ([\d.]+) \(threshold ([\d.]+)/)!;
    expect(Number(shown)).toBeLessThan(Number(threshold));
  });

  it('bad input: one line on stderr, a distinct exit code, and the store unchanged', () => {
    const { store, cli } = withStore('bad-input');
    const corrupt = path.join(tmp, 'corrupt.jpg');
    writeFileSync(corrupt, readFileSync(ex('barack_obama/obama.jpg')).subarray(0, 5000));
    const text = path.join(tmp, 'notes.jpg');
    writeFileSync(text, 'not an image at all');
    const cases: [string[], number][] = [
      [['enroll', 'x', corrupt], ExitCode.BAD_IMAGE],
      [['enroll', 'x', text], ExitCode.BAD_IMAGE],
      [['enroll', 'x', dataset('edge-cases/no-face/cat.jpg')], ExitCode.NO_FACE],
      [['enroll', 'x', dataset('edge-cases/multi-face/two_people.jpg')], ExitCode.MULTIPLE_FACES],
      [['enroll', 'x', path.join(tmp, 'missing.jpg')], ExitCode.NOT_FOUND],
      [['enroll', '../evil', ex('rose_leslie/img1.jpg')], ExitCode.INVALID_ID],
      [['enroll', '=cmd|calc', ex('rose_leslie/img1.jpg')], ExitCode.INVALID_ID],
      [['enroll', 'barack', ex('barack_obama/obama3.jpg')], ExitCode.DUPLICATE_IDENTITY],
      [['enroll', 'rose', ex('rose_leslie/img1.jpg'), dataset('edge-cases/no-face/park.jpg')], ExitCode.NO_FACE],
      [['remove', 'nobody'], ExitCode.UNKNOWN_ID],
      [['login', dataset('edge-cases/no-face/cat.jpg')], ExitCode.NO_FACE],
      [['login', corrupt], ExitCode.BAD_IMAGE],
      [['login', ex('rose_leslie/img1.jpg'), '--threshold', 'abc'], ExitCode.USAGE],
      [['enroll', 'rose', ex('rose_leslie/img1.jpg'), '--model', 'mobileface'], ExitCode.MODEL_MISMATCH],
      [['frobnicate'], ExitCode.USAGE],
    ];
    expectErrorExits(cli, store, cases);
  }, 300_000); // ~15 CLI runs, each loading the default ensemble's two embedders

  it('--skip-bad enrolls the good photos; --largest takes the biggest face; names are guarded against formula injection', () => {
    const { store, cli } = withStore('skip-bad');
    const r = cli('enroll', 'rose', ex('rose_leslie/img1.jpg'), dataset('edge-cases/no-face/park.jpg'), '--skip-bad', '--name', '=HYPERLINK("http://x")', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).added).toHaveLength(1);
    expect(r.stderr).toContain('park.jpg');
    const csv = readFileSync(path.join(store, 'data.csv'), 'utf8');
    expect(csv).toContain(`"'=HYPERLINK(""http://x"")"`);
    const list = JSON.parse(cli('list', '--json').stdout);
    expect(list.identities.find((i: { id: string }) => i.id === 'rose').name).toBe('=HYPERLINK("http://x")');
    // --largest: the face stored is the biggest box detect finds in the photo (enroll's one fast pass).
    const both = dataset('edge-cases/multi-face/kit_with_rose.jpg');
    const kit = cli('enroll', 'kit', both, '--largest', '--force', '--json');
    expect(kit.code, kit.stderr).toBe(0);
    const detected = cli('detect', both, '--fast', '--json');
    expect(detected.code, detected.stderr).toBe(0);
    const faces: { box: { width: number; height: number } }[] = JSON.parse(detected.stdout).results[0].faces;
    expect(faces.length).toBeGreaterThan(1);
    const area = (b: { width: number; height: number }) => b.width * b.height;
    const biggest = faces.reduce((a, b) => (area(b.box) > area(a.box) ? b : a));
    expect(JSON.parse(kit.stdout).added.map((row: { box: unknown }) => row.box)).toEqual([biggest.box]);
  });

  it('a photo the id already has, or one given twice, is not added again (the same bytes would only weigh in the mean)', () => {
    const { cli } = withStore('same-photo');
    const r = cli('enroll', 'obama', ex('barack_obama/obama.jpg'), ex('barack_obama/obama3.jpg'), ex('barack_obama/obama3.jpg'), '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.added.map((row: { sourcePath: string }) => path.basename(row.sourcePath))).toEqual(['obama3.jpg']);
    expect(j.alreadyEnrolled.map((f: string) => path.basename(f))).toEqual(['obama.jpg', 'obama3.jpg']);
    expect(r.stderr).toMatch(/obama\.jpg: already enrolled as obama \(the same photo\): not added again/);
    expect(JSON.parse(cli('list', '--json').stdout).identities.find((i: { id: string }) => i.id === 'obama').faces).toBe(3);
  });

  it('list, info and remove', () => {
    const { cli } = withStore('list-info-remove');
    const list = JSON.parse(cli('list', '--json').stdout);
    expect(list.identities.map((i: { id: string }) => i.id).sort()).toEqual(['biden', 'obama']);
    expect(list.identities.find((i: { id: string }) => i.id === 'obama').name).toBe('Barack Obama');
    const info = JSON.parse(cli('info', '--json').stdout);
    expect(info.model.id).toBe(DEFAULT_EMBEDDER);
    expect(info.faces).toBe(4);
    const rm = cli('remove', 'biden');
    expect(rm.code, rm.stderr).toBe(0);
    expect(cli('remove', 'biden').code).toBe(ExitCode.UNKNOWN_ID);
    expect(JSON.parse(cli('list', '--json').stdout).total).toBe(1);
    expect(JSON.parse(cli('info', '--json').stdout).faces).toBe(2);
  });

  // Only meaningful where onnxruntime-node was installed without its CUDA provider (the default here).
  const cudaInstalled = existsSync(path.join(repoRoot, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so'));
  it.skipIf(cudaInstalled)('--device cuda without the CUDA provider: one line with the fix, exit 13', () => {
    const { cli } = withStore('cuda');
    const r = cli('detect', ex('barack_obama/obama.jpg'), '--device', 'cuda');
    expect(r.code).toBe(ExitCode.MODEL_ERROR);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
  });

  it('index rebuild verifies the store and rebuilds the index', () => {
    const { cli } = withStore('index-rebuild');
    const r = cli('index', 'rebuild', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.verify.ok).toBe(true);
    expect(j.index.identities).toBe(2);
    expect(statSync(j.index.file).mode & 0o777).toBe(0o600);
  });
});
