/**
 * What the user is told about user models says what to do: a missing copy (`models remove` first, since
 * adding again is refused while the id is registered), a folder at the copy's path (not "missing"), a
 * store made with a user model replaced under the same id (other weights or preprocessing), a model file
 * over 2 GiB (exit 13, not 14 "not found"), and a detector's id given to --model.
 */
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireSameModel } from '../../src/app/store-model.js';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { findEmbedderSpec, resolveEmbedder } from '../../src/models/resolve.js';
import { addUserModel } from '../../src/models/user-models.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-user-models-messages-'));
const saved = process.env.FACECTL_USER_MODELS_DIR;
afterAll(() => {
  if (saved === undefined) delete process.env.FACECTL_USER_MODELS_DIR;
  else process.env.FACECTL_USER_MODELS_DIR = saved;
});
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('not refused'); }, (e: FacectlError) => ({ code: e.code, line: e.oneLine() }));

describe('user model messages', () => {
  it('a missing copy says `models remove` first; a folder at its path is not called missing', async () => {
    const dir = path.join(tmp, 'user-models');
    process.env.FACECTL_USER_MODELS_DIR = dir;
    const toy = path.join(tmp, 'toy.onnx');
    writeFileSync(toy, buildToyEmbedderOnnx({ inputSize: 112, dim: 32 }));
    await addUserModel(toy, { id: 'toy' });
    rmSync(path.join(dir, 'toy.onnx'));
    const missing = await failure(resolveEmbedder('toy', 'blazeface'));
    expect(missing.code).toBe(ExitCode.MODEL_ERROR);
    expect(missing.line).toBe(`model file of "toy" is missing: ${path.join(dir, 'toy.onnx')} (\`facectl models remove toy\` first, then \`facectl models add\` it again)`);
    mkdirSync(path.join(dir, 'toy.onnx'));
    const folder = await failure(resolveEmbedder('toy', 'blazeface'));
    expect(folder.code).toBe(ExitCode.MODEL_ERROR);
    expect(folder.line).toContain(`${path.join(dir, 'toy.onnx')}: user models file is not a regular file`);
    expect(folder.line).not.toContain('missing');
  });

  it('a store made with the same id and another fingerprint names other weights or preprocessing', () => {
    const model = { spec: { id: 'toy', dim: 32 }, fingerprint: 'b'.repeat(16), detector: 'blazeface' } as Parameters<typeof requireSameModel>[1];
    const err = (() => {
      try {
        requireSameModel({ model: { id: 'toy', hash: `fp:${'a'.repeat(16)}`, dimension: 32 }, faces: 3 }, model);
      } catch (e) {
        return e as FacectlError;
      }
      throw new Error('not refused');
    })();
    expect(err.code).toBe(ExitCode.MODEL_MISMATCH);
    expect(err.message).toContain('store was built with toy with other weights, preprocessing or detector, or another version');
  });

  it('a model file over 2 GiB is exit 13, said so', async () => {
    const big = path.join(tmp, 'big.onnx');
    writeFileSync(big, '');
    truncateSync(big, 2 ** 31 + 1); // sparse: no disk used
    const r = await failure(addUserModel(big, { id: 'big' }));
    expect(r.code).toBe(ExitCode.MODEL_ERROR);
    expect(r.line).toBe(`${big}: the model file is over 2 GiB, more than facectl can load`);
    rmSync(big);
  });

  it('--model with a detector’s id says it is a detector', async () => {
    const r = await failure(findEmbedderSpec('mtcnn'));
    expect(r.code).toBe(ExitCode.MODEL_ERROR);
    expect(r.line).toBe('"mtcnn" is a detector, not an embedder: use it with --detector mtcnn');
  });
});
