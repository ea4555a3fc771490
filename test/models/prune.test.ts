/**
 * `facectl models prune` deletes what the models cache holds that this install cannot use (another
 * converter version, a model no longer built in, onnxruntime graphs of another environment or of a model
 * no longer registered, PRelu rewrites of an older version or of such a model, records-less graphs,
 * abandoned temporary files), keeps everything in use and anything facectl did not write, and changes
 * nothing in a dry run. What is kept is still used: sessions open from the cache without storing again.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONVERTER_VERSION, facepluginOnnx } from '../../src/models/builtin.js';
import { resolveModelsDir } from '../../src/models/cache.js';
import { optimizedKey } from '../../src/models/onnx/optimized-cache.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { pruneModelsCache } from '../../src/models/prune.js';
import { addUserModel } from '../../src/models/user-models.js';
import { getSession, releaseSessions } from '../../src/pipeline/runtime.js';
import { runCli } from '../helpers/cli.js';

const hasModel = existsSync(facepluginOnnx());
const SKIP = `${facepluginOnnx()} not found (run npm ci): skipped`;
const files = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);
const OTHER_VERSION = `v${Number(CONVERTER_VERSION) - 1}`;

describe.skipIf(!hasModel)(`models prune${hasModel ? '' : ` (${SKIP})`}`, () => {
  const saved = { xdg: process.env.XDG_CACHE_HOME, models: process.env.FACECTL_MODELS_DIR, user: process.env.FACECTL_USER_MODELS_DIR };
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-prune-'));
  beforeAll(async () => {
    process.env.XDG_CACHE_HOME = path.join(tmp, 'xdg'); // the default layout: …/facectl/models/v<N>
    delete process.env.FACECTL_MODELS_DIR;
    process.env.FACECTL_USER_MODELS_DIR = path.join(tmp, 'user');
    await releaseSessions();
  });
  afterAll(async () => {
    await releaseSessions();
    for (const [key, value] of [['XDG_CACHE_HOME', saved.xdg], ['FACECTL_MODELS_DIR', saved.models], ['FACECTL_USER_MODELS_DIR', saved.user]] as const)
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
  });

  it('removes only what cannot be used, lists the same in a dry run, and the rest is still used', async () => {
    const modelsDir = resolveModelsDir();
    expect(modelsDir).toBe(path.join(tmp, 'xdg', 'facectl', 'models', `v${CONVERTER_VERSION}`));
    const toyFile = path.join(tmp, 'toy.onnx');
    writeFileSync(toyFile, buildToyEmbedderOnnx({ inputSize: 112, dim: 64, layout: 'NCHW' }));
    const faceplugin = await addUserModel(facepluginOnnx(), { id: 'fp-user' });
    const toy = await addUserModel(toyFile, { id: 'toy-user' });
    for (const spec of [faceplugin, toy]) await getSession((spec.source as { file: string }).file);
    const [prelu, ort] = [path.join(modelsDir, 'prelu'), path.join(modelsDir, 'ort')];
    const inUse = { prelu: files(prelu), ort: files(ort) };
    expect([inUse.prelu.length, inUse.ort.length]).toEqual([2, 4]);

    // What a cache accumulates: each is planted the way facectl would have written it.
    const toySha = (toy.source as { sha256: string }).sha256;
    const fpSha = (faceplugin.source as { sha256: string }).sha256;
    const stranger = 'ab'.repeat(32);
    const stale: string[] = [];
    const plant = (file: string, content: string | Buffer = 'x', keep = false) => {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, content);
      if (!keep) stale.push(file);
    };
    plant(path.join(path.dirname(modelsDir), OTHER_VERSION, 'dlib-resnet.onnx'), Buffer.alloc(1000));
    plant(path.join(modelsDir, 'gone.onnx'), Buffer.alloc(500));
    plant(path.join(modelsDir, 'gone.json.sha256'), JSON.stringify({ id: 'gone', converterVersion: CONVERTER_VERSION }));
    plant(path.join(prelu, `${fpSha}.folded.v0.json`), '{}'); // an older rewrite version
    plant(path.join(prelu, `${stranger}.folded.v1.json`), '{}'); // a model no longer registered
    plant(path.join(prelu, `${stranger}.folded.v1.onnx`));
    const toyKey = optimizedKey(toySha);
    const otherKey = optimizedKey(toySha, JSON.stringify({ v: 1, ort: '0.0.0', cpu: 'another machine' }));
    copyFileSync(path.join(ort, `${toyKey}.onnx`), path.join(ort, `${otherKey}.onnx`));
    copyFileSync(path.join(ort, `${toyKey}.json`), path.join(ort, `${otherKey}.json`));
    stale.push(path.join(ort, `${otherKey}.onnx`), path.join(ort, `${otherKey}.json`));
    plant(path.join(ort, `${'cd'.repeat(32)}.onnx`)); // a graph whose record was never written
    const oldTemp = path.join(ort, `${toyKey}.onnx.tmp-12345-0123abcd.onnx`);
    plant(oldTemp);
    utimesSync(oldTemp, new Date(Date.now() - 2 * 3_600_000), new Date(Date.now() - 2 * 3_600_000));
    const kept = [path.join(modelsDir, 'notes.txt'), path.join(ort, `${toyKey}.onnx.tmp-12345-89abcdef.onnx`)]; // not ours; a live writer's
    for (const file of kept) plant(file, 'x', true);
    expect(JSON.parse(readFileSync(path.join(ort, `${otherKey}.json`), 'utf8')).model).toBe(toySha);

    const dry = await pruneModelsCache({ dryRun: true });
    expect(dry.removed.map((r) => r.path).sort()).toEqual(stale.map((f) => (f.includes(OTHER_VERSION) ? path.dirname(f) : f)).sort());
    for (const file of [...stale, ...kept]) expect(existsSync(file), file).toBe(true);
    expect(dry.freedBytes).toBeGreaterThan(1500);

    const done = await pruneModelsCache();
    expect(done.removed).toEqual(dry.removed.map((r) => ({ ...r })));
    for (const file of stale) expect(existsSync(file), file).toBe(false);
    for (const file of kept) expect(existsSync(file), file).toBe(true);
    expect(files(prelu)).toEqual(inUse.prelu);
    expect(files(ort).filter((f) => !f.includes('.tmp-'))).toEqual(inUse.ort);
    // What is kept is what sessions use: opened again, they read it and store nothing new.
    await releaseSessions();
    for (const spec of [faceplugin, toy]) await getSession((spec.source as { file: string }).file);
    expect(files(prelu)).toEqual(inUse.prelu);
    expect(files(ort).filter((f) => !f.includes('.tmp-'))).toEqual(inUse.ort);
    expect((await pruneModelsCache()).removed).toEqual([]);
  });

  it('facectl models prune --dry-run --json on an empty cache: nothing to free, exit 0', () => {
    const r = runCli(['models', 'prune', '--dry-run', '--json'], { XDG_CACHE_HOME: path.join(tmp, 'empty'), FACECTL_MODELS_DIR: '', FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-empty') });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: true, removed: [], freedBytes: 0 });
  });
});
