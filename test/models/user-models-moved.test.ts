/**
 * A user model's copy is always `<user models folder>/<id>.onnx` (src/models/user-models-registry.ts): the
 * absolute `file` user-models.json records (kept for older facectl versions) is never used nor deleted.
 * An audit found `models remove` in a copied user models folder deleting the original folder's model, and a
 * moved folder unusable.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { findEmbedderSpec, resolveEmbedder } from '../../src/models/resolve.js';
import { addUserModel, listUserModels, removeUserModel } from '../../src/models/user-models.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-user-models-moved-'));
const TOY = path.join(tmp, 'toy.onnx');
writeFileSync(TOY, buildToyEmbedderOnnx({ inputSize: 112, dim: 32 }));
const saved = process.env.FACECTL_USER_MODELS_DIR;
afterAll(() => {
  if (saved === undefined) delete process.env.FACECTL_USER_MODELS_DIR;
  else process.env.FACECTL_USER_MODELS_DIR = saved;
});

describe('the copy of a user model is always inside the user models folder', () => {
  it('a copied folder is usable on its own, and removing a model there leaves the original folder’s copy', async () => {
    const original = path.join(tmp, 'original');
    process.env.FACECTL_USER_MODELS_DIR = original;
    await addUserModel(TOY, { id: 'toy' });
    const copied = path.join(tmp, 'copied');
    cpSync(original, copied, { recursive: true });
    process.env.FACECTL_USER_MODELS_DIR = copied;
    const resolved = await resolveEmbedder('toy', 'blazeface');
    expect(resolved.path).toBe(path.join(copied, 'toy.onnx'));
    await removeUserModel('toy');
    expect(existsSync(path.join(copied, 'toy.onnx'))).toBe(false);
    expect(existsSync(path.join(original, 'toy.onnx'))).toBe(true);
    process.env.FACECTL_USER_MODELS_DIR = original;
    expect((await resolveEmbedder('toy', 'blazeface')).path).toBe(path.join(original, 'toy.onnx'));
  });

  it('a moved folder keeps working: the models are found where the folder now is', async () => {
    const before = path.join(tmp, 'before');
    process.env.FACECTL_USER_MODELS_DIR = before;
    await addUserModel(TOY, { id: 'toy' });
    const after = path.join(tmp, 'after');
    renameSync(before, after);
    process.env.FACECTL_USER_MODELS_DIR = after;
    expect((await listUserModels()).map((s) => 'file' in s.source && s.source.file)).toEqual([path.join(after, 'toy.onnx')]);
    expect((await resolveEmbedder('toy', 'blazeface')).path).toBe(path.join(after, 'toy.onnx'));
  });

  it('a `file` naming a path elsewhere (hand-edited) is neither read nor deleted', async () => {
    const dir = path.join(tmp, 'edited');
    process.env.FACECTL_USER_MODELS_DIR = dir;
    await addUserModel(TOY, { id: 'toy' });
    const victim = path.join(tmp, 'victim.onnx');
    writeFileSync(victim, 'not yours to delete');
    const registry = path.join(dir, 'user-models.json');
    const doc = JSON.parse(readFileSync(registry, 'utf8'));
    doc.embedders[0].source.file = victim;
    writeFileSync(registry, JSON.stringify(doc));
    expect((await resolveEmbedder('toy', 'blazeface')).path).toBe(path.join(dir, 'toy.onnx'));
    await removeUserModel('toy');
    expect(readFileSync(victim, 'utf8')).toBe('not yours to delete');
  });

  it('an id that spells a path (../x) is refused, exit 13', async () => {
    const dir = path.join(tmp, 'dotdot');
    process.env.FACECTL_USER_MODELS_DIR = dir;
    await addUserModel(TOY, { id: 'toy' });
    const registry = path.join(dir, 'user-models.json');
    writeFileSync(registry, readFileSync(registry, 'utf8').replace('"id": "toy"', '"id": "../victim"'));
    const err = await findEmbedderSpec('../victim').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.MODEL_ERROR);
    expect((err as FacectlError).oneLine()).toMatch(/user-models\.json: entry "\.\.\/victim": id must be/);
  });
});
