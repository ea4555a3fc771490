/**
 * Values the TFLite op translations work with: a runtime tensor (ONNX value name + static shape, −1 for a
 * dynamic dimension) or a constant kept as data (weights, shapes, axes) until an op needs it, and the
 * decoding of TFLite constant buffers, DEQUANTIZE included (float16, int8/uint8 with per-axis scales).
 */
import type { OnnxGraphBuilder } from '../onnx/graph-builder.js';
import { TensorType, tensorTypeName, type TfliteTensor } from './schema.js';

export interface TensorValue {
  kind: 'tensor';
  name: string;
  shape: number[];
}

export interface ConstValue {
  kind: 'const';
  label: string;
  shape: number[];
  values: Float32Array | Int32Array | BigInt64Array;
  onnxName?: string;
}

export type TValue = TensorValue | ConstValue;

export class UnsupportedTfliteError extends Error {}

export const tensor = (name: string, shape: number[]): TensorValue => ({ kind: 'tensor', name, shape });

/** A constant as a runtime input: added once as an initializer, then shared. */
export function materialise(b: OnnxGraphBuilder, v: TValue): TensorValue {
  if (v.kind === 'tensor') return v;
  v.onnxName ??= b.addInitializer(v.label, v.values, v.shape);
  return tensor(v.onnxName, v.shape);
}

/** IEEE 754 half → float. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const view = (d: Uint8Array) => new DataView(d.buffer, d.byteOffset, d.byteLength);

/** Bytes per element of the constant types decodeConstant reads. */
const ELEMENT_BYTES: Record<number, number> = {
  [TensorType.FLOAT32]: 4,
  [TensorType.FLOAT16]: 2,
  [TensorType.INT32]: 4,
  [TensorType.INT64]: 8,
  [TensorType.INT8]: 1,
  [TensorType.UINT8]: 1,
};

/**
 * Refuses a constant whose shape does not describe the bytes it holds: a negative or fractional
 * dimension, or product(shape) × element size ≠ its byte length (a damaged shape field, or a truncated
 * buffer). Every loop over a constant's shape (filter layouts, per-axis scales) runs after this, so
 * none can run over data that is not there, nor for hours over dimensions a damaged file declares.
 */
function checkConstantShape(t: TfliteTensor, bytes: number, elementBytes: number): void {
  const shape = `[${t.shape.join(', ')}]`;
  if (t.shape.some((d) => d < 0)) throw new UnsupportedTfliteError(`constant ${t.name} has shape ${shape}, with a negative dimension: the file is damaged`);
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (count * elementBytes !== bytes)
    throw new UnsupportedTfliteError(`constant ${t.name} has shape ${shape} (${count} values of ${elementBytes} bytes) but holds ${bytes} bytes: the file is damaged`);
}

/**
 * The constant data of a TFLite tensor, decoded (quantised integer tensors stay integers until DEQUANTIZE),
 * once its shape is known to describe exactly the bytes present.
 */
export function decodeConstant(t: TfliteTensor): ConstValue['values'] {
  const d = t.data!;
  const elementBytes = ELEMENT_BYTES[t.type];
  if (elementBytes === undefined) throw new UnsupportedTfliteError(`constant ${t.name} has type ${tensorTypeName(t.type)}, which facectl does not read`);
  checkConstantShape(t, d.length, elementBytes);
  const v = view(d);
  switch (t.type) {
    case TensorType.FLOAT32:
      return Float32Array.from({ length: d.length / 4 }, (_, i) => v.getFloat32(4 * i, true));
    case TensorType.FLOAT16:
      return Float32Array.from({ length: d.length / 2 }, (_, i) => halfToFloat(v.getUint16(2 * i, true)));
    case TensorType.INT32:
      return Int32Array.from({ length: d.length / 4 }, (_, i) => v.getInt32(4 * i, true));
    case TensorType.INT64:
      return BigInt64Array.from({ length: d.length / 8 }, (_, i) => v.getBigInt64(8 * i, true));
    case TensorType.INT8:
      return Int32Array.from({ length: d.length }, (_, i) => v.getInt8(i));
    case TensorType.UINT8:
      return Int32Array.from(d);
    default:
      throw new UnsupportedTfliteError(`constant ${t.name} has type ${tensorTypeName(t.type)}, which facectl does not read`);
  }
}

/** DEQUANTIZE of a constant: float16 is already float; integers become (q − zero point) · scale per axis. */
export function dequantize(t: TfliteTensor, values: ConstValue['values']): Float32Array {
  if (values instanceof Float32Array) return values;
  const q = t.quantization;
  if (!q) throw new UnsupportedTfliteError(`DEQUANTIZE of ${t.name}: integer tensor without quantisation parameters`);
  const shape = t.shape;
  const axis = q.scale.length > 1 ? q.axis : -1;
  if (axis >= 0 && q.scale.length !== shape[axis])
    throw new UnsupportedTfliteError(`DEQUANTIZE of ${t.name}: ${q.scale.length} scales along axis ${axis} of shape [${shape.join(', ')}]: the file is damaged`);
  // Elements between two steps of the quantised axis (row-major).
  const inner = axis < 0 ? 1 : shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = axis < 0 ? 0 : Math.floor(i / inner) % shape[axis]!;
    out[i] = (Number(values[i]!) - (q.zeroPoint[c] ?? 0)) * q.scale[c]!;
  }
  return out;
}

export function constOf(t: TfliteTensor): ConstValue {
  return { kind: 'const', label: t.name, shape: t.shape, values: decodeConstant(t) };
}

/**
 * A static shape for a value computed from `like` (an input of the same op): the file's shape, with the
 * dimensions left dynamic where `like`'s are (−1) when ranks match, else the batch only.
 */
export function dynamicLike(fileShape: readonly number[], like: readonly number[]): number[] {
  if (fileShape.length === like.length) return fileShape.map((d, i) => (like[i] === -1 ? -1 : d));
  return fileShape.map((d, i) => (i === 0 && like[0] === -1 ? -1 : d));
}
