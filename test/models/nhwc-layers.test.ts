import ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { OnnxGraphBuilder } from '../../src/models/onnx/graph-builder.js';
import {
  conv2dNhwc,
  depthwiseToOihw,
  hwioToOihw,
  pool2dNhwc,
  tfSamePads,
  type TfPadding,
  type Value,
} from '../../src/models/onnx/nhwc-layers.js';
import { loadTfjsWasm } from '../helpers/tfjs-reference.js';
import { maxRelativeError } from './compare.js';

type Tf = Awaited<ReturnType<typeof loadTfjsWasm>>;
let tf: Tf;
beforeAll(async () => {
  tf = await loadTfjsWasm();
});

/** Deterministic pseudo-random values in [-1, 1). */
const noise = (count: number, seed: number) => Float32Array.from({ length: count }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) % 1);

/** Runs a one-layer graph built by `layer` on an NHWC input. */
async function runLayer(shape: [number, number, number, number], x: Float32Array, layer: (b: OnnxGraphBuilder, v: Value) => Value) {
  const b = new OnnxGraphBuilder('layer');
  b.addInput('x', ['N', ...shape.slice(1)]);
  const y = layer(b, { name: 'x', shape: [-1, ...shape.slice(1)] });
  b.exposeAs(y.name, 'y');
  const session = await ort.InferenceSession.create(b.toBytes(), { intraOpNumThreads: 1 });
  const out = (await session.run({ x: new ort.Tensor('float32', x, shape) })).y!;
  return { data: out.data as Float32Array, dims: out.dims, predicted: y.shape };
}

describe('tfSamePads', () => {
  it('pads like TF: output ceil(in/stride), the odd pixel at the end', () => {
    expect(tfSamePads(5, 3, 1)).toEqual([1, 1]);
    expect(tfSamePads(256, 5, 2)).toEqual([1, 2]);
    expect(tfSamePads(7, 2, 2)).toEqual([0, 1]);
    expect(tfSamePads(8, 1, 2)).toEqual([0, 0]);
    expect(tfSamePads(6, 3, 1, 2)).toEqual([2, 2]);
  });
});

describe('filter rearrangement', () => {
  it('moves HWIO and depthwise (H,W,C,M) filters to OIHW', () => {
    const hwio = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i);
    const oihw = hwioToOihw(hwio, [2, 3, 4, 5]);
    // element [y=1, x=2, i=3, o=4] of HWIO sits at [o=4, i=3, y=1, x=2] of OIHW
    expect(oihw[((4 * 4 + 3) * 2 + 1) * 3 + 2]).toBe(hwio[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
    const dw = Float32Array.from({ length: 3 * 3 * 4 * 2 }, (_, i) => i);
    const grouped = depthwiseToOihw(dw, [3, 3, 4, 2]);
    // TF output channel c·M + m = 2·2 + 1 = 5 at y=2, x=0 reads dw[2,0,2,1]
    expect(grouped[5 * 9 + 2 * 3 + 0]).toBe(dw[((2 * 3 + 0) * 4 + 2) * 2 + 1]);
  });
});

describe('NHWC layers equal TF.js ops', () => {
  const cases: { name: string; size: [number, number]; k: number; stride: number; dilation: number; padding: TfPadding }[] = [
    { name: 'SAME, stride 2, odd size', size: [13, 11], k: 3, stride: 2, dilation: 1, padding: 'SAME' },
    { name: 'SAME, stride 2, even size, 5×5', size: [16, 16], k: 5, stride: 2, dilation: 1, padding: 'SAME' },
    { name: 'VALID, stride 2', size: [15, 15], k: 3, stride: 2, dilation: 1, padding: 'VALID' },
    { name: 'SAME, dilation 2', size: [12, 9], k: 3, stride: 1, dilation: 2, padding: 'SAME' },
  ];

  for (const c of cases) {
    it(`conv2d and depthwise: ${c.name}`, async () => {
      const [h, w] = c.size;
      const ci = 3;
      const co = 4;
      const shape: [number, number, number, number] = [2, h, w, ci];
      const x = noise(2 * h * w * ci, 1);
      const filter = noise(c.k * c.k * ci * co, 2);
      const bias = noise(co, 3);
      const padding = (c.padding as string).toLowerCase() as 'same' | 'valid';
      const expected = tf.tidy(() =>
        tf.relu(tf.add(tf.conv2d(tf.tensor4d(x, shape), tf.tensor4d(filter, [c.k, c.k, ci, co]), c.stride, padding, 'NHWC', c.dilation), tf.tensor1d(bias))).dataSync(),
      );
      const got = await runLayer(shape, x, (b, v) =>
        conv2dNhwc(b, v, {
          weight: hwioToOihw(filter, [c.k, c.k, ci, co]),
          weightDims: [co, ci, c.k, c.k],
          bias,
          strides: [c.stride, c.stride],
          dilations: [c.dilation, c.dilation],
          padding: c.padding,
          activation: { kind: 'relu' },
          name: 'conv',
        }),
      );
      expect(got.dims.slice(1)).toEqual(got.predicted.slice(1));
      expect(maxRelativeError(got.data, expected)).toBeLessThan(1e-5);

      const m = 2;
      const dwFilter = noise(c.k * c.k * ci * m, 4);
      const dwExpected = tf.tidy(() =>
        tf.depthwiseConv2d(tf.tensor4d(x, shape), tf.tensor4d(dwFilter, [c.k, c.k, ci, m]), c.stride, padding, 'NHWC', c.dilation).dataSync(),
      );
      const dw = await runLayer(shape, x, (b, v) =>
        conv2dNhwc(b, v, {
          weight: depthwiseToOihw(dwFilter, [c.k, c.k, ci, m]),
          weightDims: [ci * m, 1, c.k, c.k],
          strides: [c.stride, c.stride],
          dilations: [c.dilation, c.dilation],
          padding: c.padding,
          group: ci,
          name: 'dw',
        }),
      );
      expect(dw.dims.slice(1)).toEqual(dw.predicted.slice(1));
      expect(maxRelativeError(dw.data, dwExpected)).toBeLessThan(1e-5);
    });
  }

  it('max and average pools, SAME and VALID, ignore padded cells as TF does', async () => {
    const shape: [number, number, number, number] = [1, 7, 9, 2];
    const x = noise(7 * 9 * 2, 5);
    for (const padding of ['SAME', 'VALID'] as const) {
      for (const kind of ['max', 'avg'] as const) {
        const expected = tf.tidy(() => (kind === 'max' ? tf.maxPool : tf.avgPool)(tf.tensor4d(x, shape), 3, 2, padding === 'SAME' ? 'same' : 'valid').dataSync());
        const got = await runLayer(shape, x, (b, v) => pool2dNhwc(b, v, { kind, kernel: [3, 3], strides: [2, 2], padding, name: 'pool' }));
        expect(got.dims.slice(1)).toEqual(got.predicted.slice(1));
        expect(maxRelativeError(got.data, expected), `${kind} ${padding}`).toBeLessThan(1e-6);
      }
    }
  });
});
