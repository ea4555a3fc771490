import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { convertTfliteFile, type ConvertedTflite } from '../../src/models/tflite/convert.js';
import { hasDatasets, SKIP_NO_DATA } from '../helpers/shared.js';
import { maxRelativeError, rowCosines } from './compare.js';
import { createSession, runSession } from './session.js';
import { tfliteAsset, tfliteCases, tfliteFile, type TfliteCase } from './tflite-cases.js';

const MAX_RELATIVE_ERROR = 1e-4;
const MIN_COSINE = 0.99999;
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/tflite');

interface Reference {
  runs: { dims: number[]; outputs: Record<string, { dims: number[]; f32: string }> }[];
}
const decode = (b64: string): Float32Array => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

describe.skipIf(!hasDatasets)('TFLite → ONNX equals the TFLite interpreter on real faces (references: fixtures/tflite)', () => {
  if (!hasDatasets) it.skip(SKIP_NO_DATA, () => {});
  let cases: TfliteCase[] = [];
  beforeAll(async () => {
    cases = await tfliteCases();
  });

  for (const model of ['MobileFaceNet', 'pnet', 'rnet', 'onet', 'FaceAntiSpoofing', 'toy-embedder'] as const) {
    it(`${model}: every output within max relative error ${MAX_RELATIVE_ERROR}; each row's cosine ≥ ${MIN_COSINE}`, async () => {
      const c = cases.find((x) => x.model === model)!;
      const ref = JSON.parse(readFileSync(path.join(fixtures, `${model}.json`), 'utf8')) as Reference;
      const converted = convertTfliteFile(tfliteFile(model), { graphName: model, inputName: 'input', dynamicSpatial: c.dynamicSpatial });
      expect(converted.input.shape[0]).toBe(-1); // dynamic batch
      if (c.dynamicSpatial) expect(converted.input.shape.slice(1, 3)).toEqual([-1, -1]);
      const session = await createSession(converted.bytes);
      expect(ref.runs.length).toBe(c.inputs.length);
      for (const [i, input] of c.inputs.entries()) {
        const run = ref.runs[i]!;
        expect(run.dims).toEqual(input.dims); // the references were made from these very inputs
        const out = await runSession(session, input.data, input.dims);
        expect(Object.keys(out).sort()).toEqual(Object.keys(run.outputs).sort());
        for (const [name, expected] of Object.entries(run.outputs)) {
          const want = decode(expected.f32);
          const got = out[name]!;
          expect(got.length, name).toBe(want.length);
          expect(maxRelativeError(got, want), `${name} run ${i}`).toBeLessThanOrEqual(MAX_RELATIVE_ERROR);
          const dim = expected.dims[expected.dims.length - 1]!;
          for (const cos of rowCosines(got, want, dim)) expect(cos, name).toBeGreaterThanOrEqual(MIN_COSINE);
        }
      }
    });
  }

  it('folds both PReLU spellings into one op each, with the same outputs', async () => {
    for (const model of ['MobileFaceNet', 'onet'] as const) {
      const c = cases.find((x) => x.model === model)!;
      const convert = (keepPreluPatterns: boolean): ConvertedTflite => convertTfliteFile(tfliteAsset(model), { graphName: model, inputName: 'input', keepPreluPatterns });
      const [fused, raw] = [convert(false), convert(true)];
      expect(fused.nodeCount).toBeLessThan(raw.nodeCount - 10);
      const input = c.inputs[0]!;
      const a = await runSession(await createSession(fused.bytes), input.data, input.dims);
      const b = await runSession(await createSession(raw.bytes), input.data, input.dims);
      for (const name of Object.keys(a)) expect(maxRelativeError(a[name]!, b[name]!), `${model} ${name}`).toBeLessThanOrEqual(1e-6);
    }
  });
});
