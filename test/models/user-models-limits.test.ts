/**
 * `models add` never saves an entry that user-models.json's check (src/models/user-models-validate.ts)
 * refuses. An audit added an embedder with a fixed batch of 4097 (after a 64 s, 2.5 GB check: 2·B + 1
 * rows), one with 70000 numbers per face and a YOLOv5-face detector with an 8×8 input: each was saved,
 * and from then on EVERY command, built-in ones too, exited 13 on user-models.json until it was hand-edited.
 * Now each is refused after its inputs and outputs are read, before the model runs (exit 13, the value and
 * the limit), and register() checks the registry it is about to save as a backstop.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { OnnxGraphBuilder } from '../../src/models/onnx/graph-builder.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { addUserModel } from '../../src/models/user-models.js';
import { runCli } from '../helpers/cli.js';
import { refusal } from '../helpers/refusal.js';
import { constantOutputsOnnx, yolo5FaceOutput } from '../pipeline/detectors/fixtures/synthetic-detectors.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-user-models-limits-'));
const dir = path.join(tmp, 'user-models');
const registry = path.join(dir, 'user-models.json');
const env = { FACECTL_USER_MODELS_DIR: dir };
const file = (name: string, bytes: Uint8Array): string => {
  const f = path.join(tmp, name);
  writeFileSync(f, bytes);
  return f;
};
/** What the folder holds besides user-models.json and the lock: the copies (and any leftover). */
const copies = (): string[] => readdirSync(dir).filter((n) => n !== 'user-models.json' && n !== 'user-models.lock').sort();

/** [N,3,112,112] → global average → MatMul → [N, D] with D left symbolic: the number is known once it runs. */
function dynamicDimEmbedder(dim: number): Uint8Array {
  const b = new OnnxGraphBuilder('wide');
  b.addInput('input', ['N', 3, 112, 112]);
  const pooled = b.node('Flatten', [b.node('GlobalAveragePool', ['input'], {}, 'gap')], { axis: 1 }, 'flat');
  const w = Float32Array.from({ length: 3 * dim }, (_, i) => Math.sin(i + 1));
  b.exposeAs(b.node('MatMul', [pooled, b.addInitializer('w', w, [3, dim])], {}, 'fc'), 'embedding', ['N', 'D']);
  return b.toBytes();
}

const saved = process.env.FACECTL_USER_MODELS_DIR;
let before: string;
beforeAll(async () => {
  process.env.FACECTL_USER_MODELS_DIR = dir;
  await addUserModel(file('toy.onnx', buildToyEmbedderOnnx({ inputSize: 112, dim: 64 })), { id: 'toy' });
  before = readFileSync(registry, 'utf8');
});
afterAll(() => {
  if (saved === undefined) delete process.env.FACECTL_USER_MODELS_DIR;
  else process.env.FACECTL_USER_MODELS_DIR = saved;
});

describe('models add refuses, before running it, a model user-models.json could not record', () => {
  it.each([
    ['an embedder with a fixed batch of 4097', () => buildToyEmbedderOnnx({ inputSize: 112, dim: 64, batch: 4097, reshapeBatch: true }), "its input's batch is fixed at 4097: facectl runs at most 4096 faces at a time (export it with a dynamic batch, or a fixed one of at most 4096)"],
    ['an embedder of 70000 numbers per face', () => buildToyEmbedderOnnx({ inputSize: 112, dim: 70000 }), 'its output has 70000 numbers per face: facectl takes embeddings of at most 65536'],
    ['an embedder of 70000 numbers per face, not declared (known once it runs)', () => dynamicDimEmbedder(70000), 'its output has 70000 numbers per face: facectl takes embeddings of at most 65536'],
    ['a YOLOv5-face detector with an 8×8 input', () => constantOutputsOnnx([1, 3, 8, 8], [yolo5FaceOutput([])]), 'a detector input of 8×8 pixels: facectl runs detectors at 16 to 8192 pixels a side'],
    ['a YOLOv5-face detector with a 640×9000 input', () => constantOutputsOnnx([1, 3, 9000, 640], [yolo5FaceOutput([])]), 'a detector input of 640×9000 pixels: facectl runs detectors at 16 to 8192 pixels a side'],
  ] as const)('%s: exit 13, quickly, user-models.json unchanged, built-in commands still work', (name, bytes, reason) => {
    const f = file(`${name.replace(/\W+/g, '-')}.onnx`, bytes());
    const started = Date.now();
    // Killed (code −1) if it runs the model on 2·4097 + 1 faces, as it did.
    const r = runCli(['models', 'add', f, '--id', 'refused'], env, undefined, 60_000);
    expect(r.code, r.stderr).toBe(ExitCode.MODEL_ERROR);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(r.stderr.trim().split('\n')).toEqual([`facectl: ${f}: ${reason}`]);
    expect(readFileSync(registry, 'utf8')).toBe(before);
    expect(copies()).toEqual(['toy.onnx']);
    const list = runCli(['models', 'list', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).models.map((m: { id: string }) => m.id)).toEqual(expect.arrayContaining(['toy', 'dlib-resnet']));
  });
});

describe('register() checks the registry it would save (a backstop)', () => {
  it('an entry the check refuses (a mean outside ±1e6, which the CLI refuses first): exit 13, nothing saved, no copy left', async () => {
    const r = await refusal(() => addUserModel(path.join(tmp, 'toy.onnx'), { id: 'far', mean: 2e6 }));
    expect(r.code).toBe(ExitCode.MODEL_ERROR);
    expect(r.line).toBe(`${path.join(tmp, 'toy.onnx')}: not registered: user-models.json would be refused with it (entry "far": mean must be a number from -1e6 to 1e6 (got 2000000))`);
    expect(readFileSync(registry, 'utf8')).toBe(before);
    expect(copies()).toEqual(['toy.onnx']);
    expect(existsSync(path.join(dir, 'far.onnx'))).toBe(false);
    expect(runCli(['models', 'list'], env).code).toBe(0);
  });
});
