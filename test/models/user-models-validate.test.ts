/**
 * A hand-edited or damaged user-models.json is checked entry by entry (src/models/user-models-validate.ts)
 * and refused with exit 13 naming the entry and field: an audit found "fixedBatch": 0 making `embed` spin
 * forever, a user entry that was an ensemble of itself recursing forever, `"embedders": {}`, `[null]`,
 * `"detectors": {"a": 1}`, an entry without source or template, fixedBatch −1 or 1.5 failing as internal
 * errors (exit 1), and layout "HWC" fed as NCHW. Behind the registry, the embedder refuses a fixed batch
 * that is not a positive whole number and resolution refuses an ensemble that holds itself.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import type { EmbedderSpec } from '../../src/models/registry.js';
import { findEmbedderSpec } from '../../src/models/resolve.js';
import { addUserModel, listUserDetectors, listUserModels } from '../../src/models/user-models.js';
import { FaceEmbedder } from '../../src/pipeline/embedder.js';
import { runCli } from '../helpers/cli.js';
import { refusal } from '../helpers/refusal.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-user-models-validate-'));
const dir = path.join(tmp, 'user-models');
const registry = path.join(dir, 'user-models.json');
let good: { embedders: Record<string, unknown>[]; detectors: unknown[] };
const saved = process.env.FACECTL_USER_MODELS_DIR;
beforeAll(async () => {
  process.env.FACECTL_USER_MODELS_DIR = dir;
  const toy = path.join(tmp, 'toy.onnx');
  writeFileSync(toy, buildToyEmbedderOnnx({ inputSize: 112, dim: 32 }));
  await addUserModel(toy, { id: 'toy' });
  good = JSON.parse(readFileSync(registry, 'utf8'));
});
afterAll(() => {
  if (saved === undefined) delete process.env.FACECTL_USER_MODELS_DIR;
  else process.env.FACECTL_USER_MODELS_DIR = saved;
});

/** The toy's entry with `change` applied (a field set, or deleted when undefined). */
const withEntry = (change: Record<string, unknown>) => {
  const entry: Record<string, unknown> = { ...good.embedders[0]!, ...change };
  for (const [k, v] of Object.entries(change)) if (v === undefined) delete entry[k];
  return { version: 1, embedders: [entry], detectors: [] };
};

describe('user-models.json is validated before use', () => {
  // Made when the test runs: `good` is read in beforeAll.
  const cases = (): [string, unknown, string][] => [
    ['embedders an object', { embedders: {} }, '"embedders" must be a list (got {})'],
    ['a null entry', { embedders: [null] }, 'embedders[0] must be an object (got null)'],
    ['detectors of numbers', { detectors: { a: 1 } }, '"detectors" must be a list (got {"a":1})'],
    ['a detector that is a number', { detectors: [1] }, 'detectors[0] must be an object (got 1)'],
    ['no source', withEntry({ source: undefined }), 'entry "toy": source must be a model file ({"file", "sha256"}): a user model is always a file (got nothing)'],
    ['an ensemble of itself', withEntry({ source: { ensemble: true }, members: [{ id: 'toy', weight: 1 }] }), 'entry "toy": source must be a model file'],
    ['a built-in source', withEntry({ source: { builtin: 'faceplugin' } }), 'entry "toy": source must be a model file'],
    ['no template', withEntry({ template: undefined }), 'entry "toy": template must be {"width", "height", "points": five [x, y]} (got nothing)'],
    ['fixedBatch 0', withEntry({ fixedBatch: 0 }), 'entry "toy": fixedBatch must be absent or a whole number from 1 to 4096 (got 0)'],
    ['fixedBatch -1', withEntry({ fixedBatch: -1 }), 'entry "toy": fixedBatch must be absent or a whole number from 1 to 4096 (got -1)'],
    ['fixedBatch 1.5', withEntry({ fixedBatch: 1.5 }), 'entry "toy": fixedBatch must be absent or a whole number from 1 to 4096 (got 1.5)'],
    ['layout HWC', withEntry({ layout: 'HWC' }), 'entry "toy": layout must be "NCHW" or "NHWC" (got "HWC")'],
    ['dim 0', withEntry({ dim: 0 }), 'entry "toy": dim must be a whole number from 1 to 65536 (got 0)'],
    ['std 0', withEntry({ std: 0 }), 'entry "toy": std must be a number from 1e-6 to 1e6 (got 0)'],
    ['no thresholds', withEntry({ thresholds: undefined }), 'entry "toy": thresholds must be {"verify", "login"} (got nothing)'],
    ['an id twice', { embedders: [good.embedders[0], good.embedders[0]] }, 'entry "toy": registered twice'],
    ['a detector of an unknown family', { detectors: [{ id: 'det', description: '', family: 'retinaface', source: { sha256: 'a'.repeat(64) }, inputWidth: 640, inputHeight: 640 }] }, 'entry "det": family must be "scrfd" or "yolov5-face" (got "retinaface")'],
    ['not an object', [1, 2], 'not a JSON object'],
  ];

  it('each damage is refused by every reader, exit 13, naming the file, the entry and the field', async () => {
    for (const [what, doc, message] of cases()) {
      writeFileSync(registry, JSON.stringify(doc));
      for (const read of [() => listUserModels(), () => listUserDetectors(), () => findEmbedderSpec('toy')]) {
        const r = await refusal(read);
        expect(r.code, what).toBe(ExitCode.MODEL_ERROR);
        expect(r.line, what).toContain(`${registry}: ${message}`);
      }
    }
    writeFileSync(registry, JSON.stringify(good));
    expect((await listUserModels()).map((s) => s.id)).toEqual(['toy']);
  });

  it('an empty or cut registry (a power loss) says how to get out of it', async () => {
    for (const text of ['', '{"version": 1, "embedders": [']) {
      writeFileSync(registry, text);
      const r = await refusal(() => listUserModels());
      expect(r.code).toBe(ExitCode.MODEL_ERROR);
      expect(r.line).toMatch(/user-models\.json: cannot read it: .*\(repair it, or move it away and `facectl models add` your models again\)$/);
    }
    writeFileSync(registry, JSON.stringify(good));
  });

  it('the CLI: `models list` on a damaged entry is one line, exit 13, not an internal error', () => {
    writeFileSync(registry, JSON.stringify(withEntry({ source: undefined })));
    const r = runCli(['models', 'list'], { FACECTL_USER_MODELS_DIR: dir });
    expect(r.code).toBe(ExitCode.MODEL_ERROR);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('entry "toy": source must be');
    writeFileSync(registry, JSON.stringify(good));
  });
});

describe('guards behind the registry', () => {
  it('the embedder refuses a fixed batch that is not a positive whole number (0 never advanced: embed spun forever)', async () => {
    // A session that answers after a timer: the old loop then still yields, so a failing run ends on vitest's timeout.
    const session = {
      inputNames: ['input'],
      run: () => new Promise((resolve) => setTimeout(() => resolve({ y: new ort.Tensor('float32', new Float32Array(32), [1, 32]) }), 1)),
    } as unknown as ort.InferenceSession;
    for (const fixedBatch of [0, -1, 1.5]) {
      const spec = { ...(good.embedders[0] as unknown as EmbedderSpec), fixedBatch };
      const embedder = new FaceEmbedder(spec, session, ort.Tensor);
      const err = await embedder.embedCrops([new Float32Array(112 * 112 * 3)]).catch((e: unknown) => e);
      expect(err, String(fixedBatch)).toBeInstanceOf(FacectlError);
      expect((err as FacectlError).message).toBe(`model toy cannot run: its fixed batch must be a positive whole number (got ${fixedBatch})`);
    }
  }, 5_000);

  it('resolution refuses an ensemble that holds itself, directly or through another', async () => {
    vi.resetModules();
    const ensemble = (id: string, member: string) => ({ ...(good.embedders[0] as object), id, source: { ensemble: true }, members: [{ id: member, weight: 1 }] });
    vi.doMock('../../src/models/user-models.js', () => ({
      // Answers after a timer, so an endless recursion still lets vitest's timeout end the test.
      listUserModels: () => new Promise((resolve) => setTimeout(() => resolve([ensemble('loop', 'loop'), ensemble('ping', 'pong'), ensemble('pong', 'ping')]), 1)),
      verifyUserModelFile: () => Promise.reject(new Error('not used')),
    }));
    const { resolveEmbedder } = await import('../../src/models/resolve.js');
    for (const [id, chain] of [['loop', 'loop → loop'], ['ping', 'ping → pong → ping']]) {
      const err = await resolveEmbedder(id, 'blazeface').catch((e: unknown) => e);
      expect(err, id).toBeInstanceOf(Error);
      expect((err as FacectlError).code, id).toBe(ExitCode.MODEL_ERROR);
      expect((err as Error).message).toBe(`ensemble "${id}" holds itself (${chain})`);
    }
    vi.doUnmock('../../src/models/user-models.js');
    vi.resetModules();
  }, 5_000);
});
