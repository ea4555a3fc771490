import { describe, expect, it } from 'vitest';
import { TensorType, type TfliteTensor } from '../../src/models/tflite/schema.js';
import { decodeConstant, dequantize, halfToFloat } from '../../src/models/tflite/values.js';

const tensorOf = (type: number, shape: number[], bytes: ArrayBufferView, quantization?: TfliteTensor['quantization']): TfliteTensor => ({
  index: 0,
  name: 't',
  shape,
  type,
  data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  quantization,
});

describe('TFLite constants and DEQUANTIZE', () => {
  it('decodes IEEE half floats, subnormals and specials included', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x3555)).toBeCloseTo(0.333251953125, 12);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true);
  });

  it('float16 constants decode to float32', () => {
    const t = tensorOf(TensorType.FLOAT16, [3], new Uint16Array([0x3c00, 0xbc00, 0x4248]));
    expect(Array.from(dequantize(t, decodeConstant(t)))).toEqual([1, -1, 3.140625]);
  });

  it('int8 with per-axis scales and zero points: (q − zero) · scale along the quantised axis', () => {
    // shape [2, 3], quantised along axis 0: row 0 scale 0.5 zero 1, row 1 scale 2 zero −1
    const t = tensorOf(TensorType.INT8, [2, 3], new Int8Array([1, 3, -1, -1, 0, 4]), { scale: [0.5, 2], zeroPoint: [1, -1], axis: 0 });
    expect(Array.from(dequantize(t, decodeConstant(t)))).toEqual([0, 1, -1, 0, 2, 10]);
  });

  it('uint8 with one scale for the whole tensor', () => {
    const t = tensorOf(TensorType.UINT8, [4], new Uint8Array([128, 129, 127, 255]), { scale: [0.25], zeroPoint: [128], axis: 0 });
    expect(Array.from(dequantize(t, decodeConstant(t)))).toEqual([0, 0.25, -0.25, 31.75]);
  });

  it('a shape that does not describe the bytes held is refused (a damaged file), before any decoding', () => {
    expect(() => decodeConstant(tensorOf(TensorType.FLOAT32, [4], new Float32Array([1, 2, 3])))).toThrow(/has shape \[4\] \(4 values of 4 bytes\) but holds 12 bytes: the file is damaged/);
    expect(() => decodeConstant(tensorOf(TensorType.FLOAT16, [2, -2], new Uint16Array([0, 0, 0, 0])))).toThrow(/negative dimension/);
    expect(() => decodeConstant(tensorOf(TensorType.INT8, [65536, 65536], new Int8Array(16)))).toThrow(/the file is damaged/);
  });

  it('per-axis scales that do not match their axis are refused', () => {
    // shape [2, 3] quantised along axis 0 with three scales
    const t = tensorOf(TensorType.INT8, [2, 3], new Int8Array(6), { scale: [1, 2, 3], zeroPoint: [0, 0, 0], axis: 0 });
    expect(() => dequantize(t, decodeConstant(t))).toThrow(/3 scales along axis 0 of shape \[2, 3\]: the file is damaged/);
  });

  it('an integer tensor without quantisation parameters is refused', () => {
    const t = tensorOf(TensorType.INT8, [1], new Int8Array([1]));
    expect(() => dequantize(t, decodeConstant(t))).toThrow(/quantisation/);
  });
});
