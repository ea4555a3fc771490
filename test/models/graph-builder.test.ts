import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { floatAttr, OnnxGraphBuilder } from '../../src/models/onnx/graph-builder.js';
import { onnx } from '../../src/models/onnx/proto.js';

const session = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });

describe('OnnxGraphBuilder', () => {
  it('builds a graph onnxruntime runs with a dynamic batch', async () => {
    const b = new OnnxGraphBuilder('tiny');
    b.addInput('x', ['N', 1, 3, 3]);
    // 2×2 conv of ones, stride 1, no padding: each output is the sum of a 2×2 window, plus bias 0.5.
    const w = b.constFloat('w', [1, 1, 1, 1], [1, 1, 2, 2]);
    const bias = b.constFloat('b', [0.5], [1]);
    const conv = b.node('Conv', ['x', w, bias], { kernel_shape: [2, 2] });
    const act = b.node('LeakyRelu', [conv], { alpha: floatAttr(0.25) });
    b.exposeAs(act, 'y', ['N', 1, 2, 2]);
    const s = await session(b.toBytes());
    expect(s.inputNames).toEqual(['x']);
    expect(s.outputNames).toEqual(['y']);
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, -9, -8, -7, -6, -5, -4, -3, -2, -1]);
    const { y } = await s.run({ x: new ort.Tensor('float32', x, [2, 1, 3, 3]) });
    expect(y!.dims).toEqual([2, 1, 2, 2]);
    // image 1: 12.5, 16.5, 24.5, 28.5; image 2 negatives × 0.25: (-28+0.5)/4 ...
    expect(Array.from(y!.data as Float32Array)).toEqual([12.5, 16.5, 24.5, 28.5, -6.875, -5.875, -3.875, -2.875]);
  });

  it('writes opset 17, IR 8, the doc string and int64 initializers', async () => {
    const b = new OnnxGraphBuilder('meta', { docString: 'provenance' });
    b.addInput('x', ['N', 6]);
    const shape = b.constInt64('shape', [0, 2, 3]);
    b.exposeAs(b.node('Reshape', ['x', shape]), 'y', ['N', 2, 3]);
    const bytes = b.toBytes();
    const model = onnx.ModelProto.decode(bytes);
    expect(Number(model.irVersion)).toBe(8);
    expect(Number(model.opsetImport[0]!.version)).toBe(17);
    expect(model.docString).toBe('provenance');
    const { y } = await (await session(bytes)).run({ x: new ort.Tensor('float32', new Float32Array(12).fill(1), [2, 6]) });
    expect(y!.dims).toEqual([2, 2, 3]);
  });

  it('is deterministic and keeps value names unique', () => {
    const make = () => {
      const b = new OnnxGraphBuilder('det');
      b.addInput('x', ['N', 2]);
      const a = b.node('Relu', ['x'], {}, 'act');
      const c = b.node('Relu', [a], {}, 'act');
      expect(c).not.toBe(a);
      b.exposeAs(c, 'y');
      return b.toBytes();
    };
    expect(Buffer.from(make()).equals(Buffer.from(make()))).toBe(true);
  });

  it('rejects undefined inputs, reused output names and ambiguous float attributes', () => {
    const b = new OnnxGraphBuilder('bad');
    b.addInput('x', ['N', 2]);
    expect(() => b.node('Relu', ['nope'])).toThrow(/not defined/);
    expect(() => b.addInput('x', [1])).toThrow(/already used/);
    expect(() => b.node('LeakyRelu', ['x'], { alpha: 0.1 })).toThrow(/floatAttr/);
    expect(() => b.addOutput('missing')).toThrow(/not produced/);
    expect(() => b.constFloat('c', [1, 2, 3], [2, 2])).toThrow(/3 values/);
  });
});
