/**
 * `facectl models prune` also clears the eval embedding cache of what this install can no longer ask
 * for: another detection revision, a model no longer built in or registered, another version of a
 * model's weights or recipe, empty folders. Whatever it cannot prove stale stays (a built-in model whose
 * sha256 is unknown here, folders facectl did not name), a dry run deletes nothing, and a kept cache
 * still answers.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddingCacheKey } from '../../src/app/embed-images.js';
import { pruneEvalCache } from '../../src/app/prune-eval-cache.js';
import { EmbeddingCache, modelFolderName } from '../../src/eval/embedding-cache.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { resolveEmbedder } from '../../src/models/resolve.js';
import { addUserModel } from '../../src/models/user-models.js';
import { DETECTION_REVISION } from '../../src/pipeline/detectors/types.js';
import { runCli } from '../helpers/cli.js';

describe('models prune: the eval embedding cache', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-prune-eval-'));
  const cacheDir = path.join(tmp, 'embeddings');
  const saved = { user: process.env.FACECTL_USER_MODELS_DIR, models: process.env.FACECTL_MODELS_DIR };
  beforeAll(() => {
    process.env.FACECTL_USER_MODELS_DIR = path.join(tmp, 'user');
    process.env.FACECTL_MODELS_DIR = path.join(tmp, 'models'); // nothing converted: built-in weights unknown
  });
  afterAll(() => {
    for (const [key, value] of [['FACECTL_USER_MODELS_DIR', saved.user], ['FACECTL_MODELS_DIR', saved.models]] as const)
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
  });

  const sha = 'ab'.repeat(32);
  function plant(modelKey: string): string {
    const cache = EmbeddingCache.open(cacheDir, modelKey, 4);
    cache.put(sha, { ok: true, embedding: new Float32Array([1, 0, 0, 0]) });
    cache.close();
    return cache.directory;
  }

  it('removes only what this install cannot ask for; a dry run lists the same and deletes nothing', async () => {
    const toyFile = path.join(tmp, 'toy.onnx');
    writeFileSync(toyFile, buildToyEmbedderOnnx({ inputSize: 112, dim: 64, layout: 'NCHW' }));
    await addUserModel(toyFile, { id: 'toy' });
    const keyOf = async (detector: string, flip?: boolean) => embeddingCacheKey({ embedderInfo: await resolveEmbedder('toy', detector, { flip }) }, 'center');
    const current = [await keyOf('blazeface'), await keyOf('mtcnn', false), await keyOf('rfb320', true)];
    const [live] = current;
    const fingerprint = live!.slice('toy-'.length, 'toy-'.length + 16);
    const stale = {
      [live!.replace(`-r${DETECTION_REVISION}`, `-r${DETECTION_REVISION - 1}`)]: `eval embeddings of detection revision ${DETECTION_REVISION - 1} (this facectl: ${DETECTION_REVISION})`,
      [live!.replace('toy-', 'gone-model-')]: 'eval embeddings of model "gone-model", no longer built in or registered',
      [live!.replace(fingerprint, '0123456789abcdef')]: 'eval embeddings of another version of model "toy" (other weights or recipe)',
    };
    const keep = [...current, live!.replace('toy-', 'mobilefacenet-'), live!.replace('toy-', 'ensemble-noflip-')]; // weights unknown here
    const keptDirs = keep.map(plant);
    const staleDirs = Object.keys(stale).map(plant);
    const empty = path.join(cacheDir, modelFolderName(live!.replace('toy-', 'unused-')));
    mkdirSync(empty);
    const foreign = [path.join(cacheDir, 'notes'), path.join(cacheDir, 'faceplugin-0123456789abcdef')];
    for (const dir of foreign) mkdirSync(dir);
    writeFileSync(path.join(foreign[1]!, 'mine.txt'), 'x');

    const expected = [...staleDirs.map((dir, i) => ({ path: dir, reason: Object.values(stale)[i] })), { path: empty, reason: 'empty eval-cache folder' }];
    const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);
    const dry = await pruneEvalCache({ dryRun: true, cacheDir });
    expect(dry.removed.map(({ path, reason }) => ({ path, reason })).sort(byPath)).toEqual(expected.sort(byPath));
    for (const dir of [...staleDirs, empty]) expect(existsSync(dir), dir).toBe(true);
    expect(dry.removed.filter((r) => r.path !== empty).every((r) => r.bytes > 0)).toBe(true);

    const done = await pruneEvalCache({ cacheDir });
    expect(done.removed).toEqual(dry.removed);
    expect(readdirSync(cacheDir).sort()).toEqual([...keptDirs, ...foreign].map((d) => path.basename(d)).sort());
    expect((await pruneEvalCache({ cacheDir })).removed).toEqual([]);
    const reopened = EmbeddingCache.open(cacheDir, live!, 4);
    expect(reopened.get(sha)).toEqual({ ok: true, embedding: new Float32Array([1, 0, 0, 0]) });
    reopened.close();
  });

  it('facectl models prune --dry-run --json lists the eval cache and its folder', () => {
    const dir = path.join(tmp, 'cli-cache');
    const stale = EmbeddingCache.open(dir, `gone-0123456789abcdef-center-r${DETECTION_REVISION}-x2`, 4);
    stale.put(sha, { ok: true, embedding: new Float32Array(4).fill(0.5) });
    stale.close();
    const r = runCli(['models', 'prune', '--dry-run', '--json'], {
      FACECTL_CACHE_DIR: dir,
      XDG_CACHE_HOME: path.join(tmp, 'xdg'),
      FACECTL_MODELS_DIR: '',
      FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-empty'),
    });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ dryRun: true, cacheDir: dir, removed: [{ path: stale.directory, reason: 'eval embeddings of model "gone", no longer built in or registered' }] });
    expect(report.freedBytes).toBe(report.removed[0].bytes);
    expect(existsSync(stale.directory)).toBe(true);
  });
});
