import type ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { getBuiltinModel } from '../../src/models/builtin.js';
import { DLIB_RESNET_BLOCKS } from '../../src/models/dlib-resnet.js';
import { hasDatasets, SKIP_NO_DATA } from '../helpers/shared.js';
import { runTfjsReference } from '../helpers/tfjs-reference.js';
import { maxRelativeError, rowCosines } from './compare.js';
import { LFW_FACES, realInputs } from './face-crops.js';
import { createSession, runSession } from './session.js';

const MAX_RELATIVE_ERROR = 1e-4;
const MIN_COSINE = 0.99999;

describe.skipIf(!hasDatasets)('embedders → ONNX equal TF.js wasm on real LFW faces', () => {
  if (!hasDatasets) it.skip(SKIP_NO_DATA, () => {});

  // dlib-resnet is compared with face-api's own FaceRecognitionNet, the others with tf.loadGraphModel.
  for (const id of ['dlib-resnet', 'faceres', 'mobileface'] as const) {
    describe(id, () => {
      const model = getBuiltinModel(id);
      const size = model.input.dims[1] as number;
      const dim = model.outputs[0]!.dims[1] as number;
      let session: ort.InferenceSession;
      let onnxOut: Record<string, Float32Array>;
      let tfjsOut: Record<string, Float32Array>;

      beforeAll(async () => {
        session = await createSession((await model.convert()).bytes);
        const input = await realInputs(id);
        onnxOut = await runSession(session, input.data, [input.batch, size, size, 3]);
        tfjsOut = await runTfjsReference(id, input.data, input.batch);
      });

      it('names its input "input" and its descriptor "embedding"', () => {
        expect(session.inputNames).toEqual(['input']);
        expect(onnxOut.embedding!.length).toBe(LFW_FACES.length * dim);
      });

      it(`embeddings: max relative error ≤ ${MAX_RELATIVE_ERROR}, cosine ≥ ${MIN_COSINE} for every face`, () => {
        expect(maxRelativeError(onnxOut.embedding!, tfjsOut.embedding!)).toBeLessThanOrEqual(MAX_RELATIVE_ERROR);
        for (const cos of rowCosines(onnxOut.embedding!, tfjsOut.embedding!, dim)) expect(cos).toBeGreaterThanOrEqual(MIN_COSINE);
      });

      it('every other output within the same tolerance', () => {
        for (const out of model.outputs.slice(1)) {
          expect(maxRelativeError(onnxOut[out.name]!, tfjsOut[out.name]!), out.name).toBeLessThanOrEqual(MAX_RELATIVE_ERROR);
        }
      });

      it('tells two people apart better than two photos of one person (the faces are real inputs)', () => {
        const e = onnxOut.embedding!;
        const cosine = (i: number, j: number) => rowCosines(e.subarray(i * dim, (i + 1) * dim), e.subarray(j * dim, (j + 1) * dim), dim)[0]!;
        // LFW_FACES: Aaron Eckhart, Colin Powell, Serena Williams ×2
        expect(cosine(2, 3)).toBeGreaterThan(cosine(0, 2));
        expect(cosine(2, 3)).toBeGreaterThan(cosine(1, 3));
        expect(cosine(0, 1)).toBeLessThan(0.999);
      });
    });
  }
});

describe('dlib ResNet architecture table', () => {
  it('has the 14 residual blocks of face-api FaceRecognitionNet, 4 of them downsampling', () => {
    expect(DLIB_RESNET_BLOCKS).toHaveLength(14);
    expect(DLIB_RESNET_BLOCKS.filter((b) => b.down).map((b) => b.name)).toEqual(['conv64_down', 'conv128_down', 'conv256_down', 'conv256_down_out']);
  });
});
