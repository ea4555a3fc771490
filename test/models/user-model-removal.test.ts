/**
 * `facectl models remove` takes with the model what facectl derived from its file in the models cache:
 * the PRelu rewrites (prelu/) and onnxruntime's optimized graphs (ort/), and nothing of other models;
 * the copies `models add` keeps are private.
 */
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { facepluginOnnx } from '../../src/models/builtin.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { addUserModel, removeUserModel } from '../../src/models/user-models.js';
import { getSession, releaseSessions } from '../../src/pipeline/runtime.js';

const hasModel = existsSync(facepluginOnnx());
const SKIP = `${facepluginOnnx()} not found (run npm ci): skipped`;
const files = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

describe.skipIf(!hasModel)(`models remove and the models cache${hasModel ? '' : ` (${SKIP})`}`, () => {
  const saved = { models: process.env.FACECTL_MODELS_DIR, user: process.env.FACECTL_USER_MODELS_DIR };
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-remove-'));
  const modelsDir = path.join(tmp, 'cache');
  beforeAll(async () => {
    process.env.FACECTL_MODELS_DIR = modelsDir;
    process.env.FACECTL_USER_MODELS_DIR = path.join(tmp, 'user');
    await releaseSessions();
  });
  afterAll(async () => {
    await releaseSessions();
    for (const [key, value] of [['FACECTL_MODELS_DIR', saved.models], ['FACECTL_USER_MODELS_DIR', saved.user]] as const)
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
  });

  it('deletes the removed model’s PRelu rewrite and optimized graphs, and keeps another model’s', async () => {
    const toyFile = path.join(tmp, 'toy.onnx');
    writeFileSync(toyFile, buildToyEmbedderOnnx({ inputSize: 112, dim: 64, layout: 'NCHW' }));
    const faceplugin = await addUserModel(facepluginOnnx(), { id: 'fp-user' });
    const toy = await addUserModel(toyFile, { id: 'toy-user' });
    // The copies and the registry are private, whatever the umask.
    const userDir = path.join(tmp, 'user');
    expect(statSync(userDir).mode & 0o777).toBe(0o700);
    expect(files(userDir)).toEqual(['fp-user.onnx', 'toy-user.onnx', 'user-models.json']);
    for (const f of files(userDir)) expect(statSync(path.join(userDir, f)).mode & 0o777, f).toBe(0o600);
    for (const spec of [faceplugin, toy]) await getSession((spec.source as { file: string }).file);
    const prelu = path.join(modelsDir, 'prelu');
    const ort = path.join(modelsDir, 'ort');
    // fr_feature.onnx has PRelu: one rewrite (model + record), its optimized graph; the toy has none.
    expect(files(prelu)).toHaveLength(2);
    expect(files(ort)).toHaveLength(4);
    const toyGraphs = async () => {
      await releaseSessions();
      await getSession((toy.source as { file: string }).file); // from the cache: nothing new is stored
      return files(ort);
    };
    const before = await toyGraphs();

    await removeUserModel('fp-user');
    expect(files(prelu)).toEqual([]);
    const after = files(ort);
    expect(after).toHaveLength(2); // the toy's graph and record, untouched
    expect(before).toEqual(expect.arrayContaining(after));
    expect(await toyGraphs()).toEqual(after);

    await removeUserModel('toy-user');
    expect(files(ort)).toEqual([]);
  });

  it('what a killed `models add` left (a copy\'s temporary file) goes at the next add or remove; files that are not facectl\'s stay', async () => {
    const userDir = path.join(tmp, 'user');
    const toyFile = path.join(tmp, 'toy2.onnx');
    writeFileSync(toyFile, buildToyEmbedderOnnx({ inputSize: 112, dim: 64, layout: 'NCHW' }));
    await addUserModel(toyFile, { id: 'kept' });
    const dead = ['half.onnx.tmp-2147483646-0123abcd', 'user-models.json.tmp-2147483646-89abcdef'];
    // The folder may be one the user keeps models in (FACECTL_USER_MODELS_DIR): their files stay, and so does a
    // temporary file of a live process or a name facectl does not write.
    const theirs = ['mine.onnx', 'notes.txt', `live.onnx.tmp-${process.ppid}-0123abcd`, 'my.tmp-2147483646-0123abcd-notes.onnx'];
    const plant = () => { for (const f of [...dead, ...theirs]) writeFileSync(path.join(userDir, f), 'bytes'); };
    plant();
    await addUserModel(toyFile, { id: 'other' });
    expect(files(userDir)).toEqual(['kept.onnx', 'other.onnx', 'user-models.json', ...theirs].sort());
    plant();
    await removeUserModel('other');
    expect(files(userDir)).toEqual(['kept.onnx', 'user-models.json', ...theirs].sort());
    await removeUserModel('kept');
  });
});
