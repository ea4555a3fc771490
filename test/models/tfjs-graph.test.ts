import type ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { getBuiltinModel } from '../../src/models/builtin.js';
import { convertTfjsGraph, convertTfjsGraphModelFile, type TfjsGraphModelJson } from '../../src/models/tfjs-graph.js';
import type { TfAttrValue, TfNode } from '../../src/models/onnx/tf-node.js';
import type { WeightMap } from '../../src/models/tfjs-weights.js';
import { hasDatasets, SKIP_NO_DATA } from '../helpers/shared.js';
import { runTfjsReference } from '../helpers/tfjs-reference.js';
import { maxRelativeError } from './compare.js';
import { realInputs } from './face-crops.js';
import { createSession, runSession } from './session.js';

/** Conversion must match TF.js within float32 rounding: max|onnx − tfjs| / max|tfjs| ≤ 1e-4 per output. */
const MAX_RELATIVE_ERROR = 1e-4;
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe.skipIf(!hasDatasets)('TF.js graph models → ONNX equal TF.js wasm on real photos', () => {
  if (!hasDatasets) it.skip(SKIP_NO_DATA, () => {});

  for (const id of ['blazeface', 'blazeface-front', 'facemesh'] as const) {
    describe(id, () => {
      const model = getBuiltinModel(id);
      const size = model.input.dims[1] as number;
      let session: ort.InferenceSession;
      let input: { data: Float32Array; batch: number };
      let onnxOut: Record<string, Float32Array>;
      let tfjsOut: Record<string, Float32Array>;

      beforeAll(async () => {
        session = await createSession((await model.convert()).bytes);
        input = await realInputs(id);
        onnxOut = await runSession(session, input.data, [input.batch, size, size, 3]);
        tfjsOut = await runTfjsReference(id, input.data, input.batch);
      });

      it('has the documented input and outputs', () => {
        expect(session.inputNames).toEqual(['input']);
        expect([...session.outputNames].sort()).toEqual(model.outputs.map((o) => o.name).sort());
      });

      it(`every output within ${MAX_RELATIVE_ERROR} max relative error`, () => {
        for (const out of model.outputs) {
          const perImage = (out.dims.slice(1) as number[]).reduce((a, b) => a * b, 1);
          expect(onnxOut[out.name]!.length, out.name).toBe(input.batch * perImage);
          expect(maxRelativeError(onnxOut[out.name]!, tfjsOut[out.name]!), out.name).toBeLessThanOrEqual(MAX_RELATIVE_ERROR);
        }
      });

      it('sees the faces (the inputs are meaningful)', () => {
        for (let n = 0; n < input.batch; n++) {
          if (id === 'facemesh') {
            expect(onnxOut.face_score![n]).toBeGreaterThan(0.5);
          } else {
            const logits = [...onnxOut.logits_16x16!.subarray(n * 512, (n + 1) * 512), ...onnxOut.logits_8x8!.subarray(n * 384, (n + 1) * 384)];
            expect(sigmoid(Math.max(...logits)), `photo ${n}`).toBeGreaterThan(0.5);
          }
        }
      });

      it('gives each image of a batch the result it gets alone (dynamic batch)', async () => {
        const per = size * size * 3;
        const last = input.batch - 1;
        const alone = await runSession(session, input.data.subarray(last * per, (last + 1) * per), [1, size, size, 3]);
        for (const out of model.outputs) {
          const n = onnxOut[out.name]!.length / input.batch;
          expect(maxRelativeError(alone[out.name]!, onnxOut[out.name]!.subarray(last * n, (last + 1) * n)), out.name).toBeLessThan(1e-5);
        }
      });
    });
  }
});

describe('TF.js graph converter', () => {
  it('translates shape and reduction ops (hand-made graph, expected values computed here)', async () => {
    // y = x · rsqrt(Σ_hw x²) per channel, then |y|, softmax over channels, then a 3→2 MatMul (transpose_b) with Relu6.
    const node = (name: string, op: string, input: string[] = [], attr: Record<string, TfAttrValue> = {}): TfNode => ({ name, op, input, attr });
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const model: TfjsGraphModelJson = {
      modelTopology: {
        node: [
          node('x', 'Placeholder', [], { shape: { shape: { dim: [{ size: '-1' }, { size: '2' }, { size: '2' }, { size: '3' }] } } }),
          node('axes', 'Const'),
          node('sq', 'Square', ['x']),
          node('sum', 'Sum', ['sq', 'axes'], { keep_dims: { b: true } }),
          node('inv', 'Rsqrt', ['sum']),
          node('norm', 'Mul', ['x', 'inv']),
          node('abs', 'Abs', ['norm']),
          node('mean', 'Mean', ['abs', 'axes'], { keep_dims: { b: true } }),
          node('flat', 'Squeeze', ['mean'], { squeeze_dims: { list: { i: ['1', '2'] } } }),
          node('soft', 'Softmax', ['flat']),
          node('w', 'Const'),
          node('proj', '_FusedMatMul', ['soft', 'w', 'bias'], {
            transpose_b: { b: true },
            fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu6')] } },
            num_args: { i: '1' },
          }),
          node('bias', 'Const'),
          node('out', 'Identity', ['proj']),
        ],
      },
      weightsManifest: [],
    };
    const weights: WeightMap = new Map([
      ['axes', { name: 'axes', shape: [2], dtype: 'int32', values: Int32Array.from([1, 2]) }],
      ['w', { name: 'w', shape: [2, 3], dtype: 'float32', values: Float32Array.from([10, 0, -10, 1, 2, 3]) }],
      ['bias', { name: 'bias', shape: [2], dtype: 'float32', values: Float32Array.from([0.5, 1]) }],
    ]);
    const converted = convertTfjsGraph(model, weights, { inputName: 'input', outputs: [{ tf: 'out', name: 'y' }] });
    expect(converted.outputs).toEqual([{ name: 'y', shape: [-1, 2] }]);
    const x = Float32Array.from({ length: 2 * 12 }, (_, i) => (i % 5) - 2 + i / 10);
    const { y } = await runSession(await createSession(converted.bytes), x, [2, 2, 2, 3]);

    const expected: number[] = [];
    for (let n = 0; n < 2; n++) {
      const px = (h: number, w: number, c: number) => x[n * 12 + (h * 2 + w) * 3 + c]!;
      const feats = [0, 1, 2].map((c) => {
        const norm = Math.sqrt([0, 1].flatMap((h) => [0, 1].map((w) => px(h, w, c) ** 2)).reduce((a, b) => a + b));
        return [0, 1].flatMap((h) => [0, 1].map((w) => Math.abs(px(h, w, c) / norm))).reduce((a, b) => a + b) / 4;
      });
      const exps = feats.map(Math.exp);
      const soft = exps.map((e) => e / exps.reduce((a, b) => a + b));
      const w = [[10, 0, -10], [1, 2, 3]];
      const bias = [0.5, 1];
      for (let j = 0; j < 2; j++) expected.push(Math.min(6, Math.max(0, soft.reduce((s, v, i) => s + v * w[j]![i]!, bias[j]!))));
    }
    expect(maxRelativeError(y!, expected)).toBeLessThan(1e-6);
  });

  it('refuses an op it cannot translate with a MODEL_ERROR naming the file and the op', () => {
    const file = getBuiltinModel('blazeface').tfjs!.modelJson.replace('blazeface.json', 'facemesh-detection-full.json');
    const attempt = () => convertTfjsGraphModelFile(file);
    expect(attempt).toThrow(FacectlError);
    try {
      attempt();
    } catch (e) {
      const err = e as FacectlError;
      expect(err.code).toBe(ExitCode.MODEL_ERROR);
      expect(err.file).toBe(file);
      expect(err.message).toMatch(/TF op \w+ is not supported/);
    }
  });

  it('refuses a file that is not a graph model', () => {
    const manifest = getBuiltinModel('dlib-resnet').sources[0]!; // a weights-only manifest
    expect(() => convertTfjsGraphModelFile(manifest)).toThrow(/not a TF.js graph model/);
  });
});
