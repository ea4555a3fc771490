/**
 * A model that loads but cannot do its job is the user's file, not a bug: exit 13 (ModelError) with the
 * model's name and onnxruntime's reason — never a plain Error that the CLI reports as "internal error".
 */
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ExitCode, FacectlError, ModelError } from '../../src/errors.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import type { EmbedderSpec } from '../../src/models/registry.js';
import { decodeDetections, joinBlazefaceOutputs, blazefaceAnchors } from '../../src/pipeline/detectors/blazeface-decode.js';
import { BlazeFaceDetector } from '../../src/pipeline/detectors/blazeface.js';
import { FaceEmbedder } from '../../src/pipeline/embedder.js';
import { resolveBuiltin } from '../../src/models/resolve.js';
import { arcfaceTemplate } from '../../src/models/templates.js';
import { createSession } from '../models/session.js';

const spec = (over: Partial<EmbedderSpec> = {}): EmbedderSpec => ({
  id: 'toy', description: '', origin: 'user', source: { file: '', sha256: '' }, inputSize: 112, layout: 'NCHW', channels: 'RGB',
  mean: 127.5, std: 127.5, template: arcfaceTemplate(112), dim: 64, flip: true,
  thresholds: { verify: { value: 0.3, provenance: '' }, login: { value: 0.4, provenance: '' } }, ...over,
});
const crop = () => new Float32Array(112 * 112 * 3).fill(100);

async function rejection(p: Promise<unknown>): Promise<FacectlError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ModelError);
  expect((err as FacectlError).code).toBe(ExitCode.MODEL_ERROR);
  return err as FacectlError;
}

describe('model errors are exit 13, not internal errors', () => {
  it('an embedder with a fixed batch of 1 fails in run(): ModelError naming the model and the reason', async () => {
    const session = await createSession(buildToyEmbedderOnnx({ dim: 64, batch: 1 }));
    const embedder = new FaceEmbedder(spec(), session, ort.Tensor);
    const err = await rejection(embedder.embedCrops([crop()])); // flip: two views in one batch
    expect(err.message).toMatch(/^model toy cannot run: .*dim/i);
  });

  it('an embedder without an output of the declared size', async () => {
    const session = await createSession(buildToyEmbedderOnnx({ dim: 64 }));
    const err = await rejection(new FaceEmbedder(spec({ dim: 128 }), session, ort.Tensor).embedCrops([crop()]));
    expect(err.message).toContain('no 128-d output');
  });

  it('BlazeFace outputs of the wrong count, shape or size', () => {
    const o = (dims: number[]) => ({ data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims });
    expect(() => joinBlazefaceOutputs([o([1, 512, 1]), o([1, 512, 16]), o([1, 384, 1])])).toThrow(ModelError);
    expect(() => joinBlazefaceOutputs([o([1, 512, 1]), o([1, 512, 15]), o([1, 384, 1]), o([1, 384, 16])])).toThrow(ModelError);
    expect(() => decodeDetections(new Float32Array(17 * 10), blazefaceAnchors(256), 0.5)).toThrow(ModelError);
  });

  it('a detector session that is not BlazeFace (an embedder in its place): ModelError from detect()', async () => {
    const notADetector = await createSession(buildToyEmbedderOnnx({ inputSize: 256, layout: 'NHWC', dim: 512 }));
    const mesh = await createSession(buildToyEmbedderOnnx({ inputSize: 192, layout: 'NHWC', dim: 8 }));
    const detector = new BlazeFaceDetector(notADetector, mesh, ort.Tensor, 256);
    const image = { data: new Uint8Array(64 * 48 * 3).fill(128), width: 64, height: 48 };
    await rejection(detector.detect(image));
  });

  it('a FaceMesh session without mesh and score outputs: ModelError naming facemesh from detect()', async () => {
    const blazeface = await createSession((await resolveBuiltin('blazeface')).path);
    const notAMesh = await createSession(buildToyEmbedderOnnx({ inputSize: 192, layout: 'NHWC', dim: 8 }));
    const detector = new BlazeFaceDetector(blazeface, notAMesh, ort.Tensor, 256);
    // A blank image: BlazeFace proposes nothing, so the whole-frame fallback hands the frame to the "mesh".
    const image = { data: new Uint8Array(64 * 48 * 3).fill(128), width: 64, height: 48 };
    expect((await rejection(detector.detect(image))).message).toMatch(/^model facemesh cannot run: expected a \[N, 1404\] mesh/);
  });
});
