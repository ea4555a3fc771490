/**
 * The parts of TensorFlow Lite's model schema (tensorflow/lite/schema/schema.fbs) that facectl converts:
 * Model → SubGraph → Tensor / Operator, Buffer, QuantizationParameters, and the builtin option tables of
 * the ops in tflite/ops.ts. Field ids are the schema's declaration order.
 */
import { isTfliteFile } from '../model-router.js';
import { FbTable } from './flatbuffer.js';

/** BuiltinOperator codes (schema.fbs) of the ops the converter translates (tflite/ops.ts). */
export const TfliteOp = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONCATENATION: 2,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  FULLY_CONNECTED: 9,
  L2_NORMALIZATION: 11,
  LOGISTIC: 14,
  MAX_POOL_2D: 17,
  MUL: 18,
  RELU: 19,
  RESHAPE: 22,
  SOFTMAX: 25,
  MEAN: 40,
  SUB: 41,
  DIV: 42,
  STRIDED_SLICE: 45,
  EXP: 47,
  CAST: 53,
  PRELU: 54,
  MAXIMUM: 55,
  MINIMUM: 57,
  LESS: 58,
  NEG: 59,
  GREATER: 61,
  GREATER_EQUAL: 62,
  SUM: 74,
  REDUCE_MAX: 82,
  LEAKY_RELU: 98,
  ABS: 101,
} as const;

/** Names of other BuiltinOperator codes often met in face models, so an unsupported op is named in errors. */
const OTHER_OP_NAMES: Record<number, string> = {
  5: 'DEPTH_TO_SPACE', 12: 'L2_POOL_2D', 13: 'LOCAL_RESPONSE_NORMALIZATION', 21: 'RELU6', 23: 'RESIZE_BILINEAR',
  26: 'SPACE_TO_DEPTH', 28: 'TANH', 32: 'CUSTOM', 34: 'PAD', 36: 'GATHER', 39: 'TRANSPOSE', 43: 'SQUEEZE', 49: 'SPLIT',
  60: 'PADV2', 65: 'SLICE', 67: 'TRANSPOSE_CONV', 70: 'EXPAND_DIMS', 75: 'SQRT', 76: 'RSQRT', 83: 'PACK', 92: 'SQUARE',
  97: 'RESIZE_NEAREST_NEIGHBOR', 99: 'SQUARED_DIFFERENCE', 111: 'ELU', 114: 'QUANTIZE', 117: 'HARD_SWISH', 126: 'BATCH_MATMUL',
};

export const opName = (code: number): string =>
  Object.entries(TfliteOp).find(([, c]) => c === code)?.[0] ?? OTHER_OP_NAMES[code] ?? `builtin op ${code}`;

/** TensorType codes (schema.fbs). */
export const TensorType = { FLOAT32: 0, FLOAT16: 1, INT32: 2, UINT8: 3, INT64: 4, STRING: 5, BOOL: 6, INT16: 7, INT8: 9 } as const;

export interface Quantization {
  scale: number[];
  zeroPoint: number[];
  /** The axis `scale`/`zeroPoint` run along when there are several (per-channel quantisation). */
  axis: number;
}

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  /** shape_signature when present: −1 marks a dimension the file leaves dynamic. */
  shapeSignature?: number[];
  type: number;
  /** Raw little-endian data for constants, undefined for activations. */
  data?: Uint8Array;
  quantization?: Quantization;
}

export interface TfliteOperator {
  /** BuiltinOperator code (TfliteOp). */
  op: number;
  inputs: number[];
  outputs: number[];
  /** The builtin options table (read with the option readers below), when the op has one. */
  options?: FbTable;
  /** Set by fusions.ts on a PRELU it folded: the slope constant is multiplied by this. */
  slopeScale?: number;
}

export interface TfliteModel {
  version: number;
  description?: string;
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
}

/** Buffer.data, or its bytes outside the flatbuffer (offset/size, used by models over 2 GB). */
function bufferBytes(buffer: FbTable | undefined, file: Uint8Array): Uint8Array | undefined {
  if (!buffer) return undefined;
  const data = buffer.bytes(0);
  if (data.length) return data;
  const offset = buffer.u64(1), size = buffer.u64(2);
  return offset > 1 && size > 0 ? file.subarray(offset, offset + size) : undefined;
}

function readQuantization(q: FbTable | undefined): Quantization | undefined {
  const scale = q?.f32s(2) ?? [];
  if (!q || scale.length === 0) return undefined;
  return { scale, zeroPoint: q.i64s(3), axis: q.i32(6) };
}

/** Reads the first subgraph of a .tflite file (the only one the models here have). */
export function readTfliteModel(file: Uint8Array): TfliteModel {
  if (!isTfliteFile(file)) throw new Error('not a TFLite model (no TFL3 identifier)');
  const model = FbTable.root(file);
  const codes = model.tables(1).map((c) => Math.max(c.i8(0), c.i32(3))); // deprecated_builtin_code, builtin_code
  const subgraphs = model.tables(2);
  if (subgraphs.length === 0) throw new Error('TFLite model has no subgraph');
  const buffers = model.tables(4);
  const g = subgraphs[0]!;
  const tensors = g.tables(0).map((t, index): TfliteTensor => {
    const data = bufferBytes(buffers[t.u32(2)], file);
    const signature = t.i32s(7);
    return {
      index,
      name: t.string(3) ?? `tensor_${index}`,
      shape: t.i32s(0),
      shapeSignature: signature.length ? signature : undefined,
      type: t.i8(1),
      data: data && data.length ? data : undefined,
      quantization: readQuantization(t.table(4)),
    };
  });
  const operators = g.tables(3).map((o): TfliteOperator => {
    const op = codes[o.u32(0)];
    if (op === undefined) throw new Error(`operator refers to missing opcode ${o.u32(0)}`);
    return { op, inputs: o.i32s(1), outputs: o.i32s(2), options: o.table(4) };
  });
  return { version: model.u32(0), description: model.string(3), tensors, inputs: g.i32s(1), outputs: g.i32s(2), operators };
}

/** ActivationFunctionType (schema.fbs). */
export type FusedActivationCode = 0 | 1 | 2 | 3 | 4;
export const Activation = { NONE: 0, RELU: 1, RELU_N1_TO_1: 2, RELU6: 3, TANH: 4 } as const;

export interface ConvOptions {
  padding: 'SAME' | 'VALID';
  strides: [number, number];
  dilations: [number, number];
  activation: number;
  depthMultiplier: number;
}

const padding = (code: number): 'SAME' | 'VALID' => (code === 1 ? 'VALID' : 'SAME');

/** Conv2DOptions: padding, stride_w, stride_h, fused_activation_function, dilation_w, dilation_h. */
export function conv2dOptions(t: FbTable | undefined): ConvOptions {
  return {
    padding: padding(t?.i8(0) ?? 0),
    strides: [t?.i32(2) ?? 1, t?.i32(1) ?? 1],
    activation: t?.i8(3) ?? 0,
    dilations: [t?.i32(5, 1) ?? 1, t?.i32(4, 1) ?? 1],
    depthMultiplier: 1,
  };
}

/** DepthwiseConv2DOptions: padding, stride_w, stride_h, depth_multiplier, activation, dilation_w, dilation_h. */
export function depthwiseOptions(t: FbTable | undefined): ConvOptions {
  return {
    padding: padding(t?.i8(0) ?? 0),
    strides: [t?.i32(2) ?? 1, t?.i32(1) ?? 1],
    depthMultiplier: t?.i32(3) ?? 1,
    activation: t?.i8(4) ?? 0,
    dilations: [t?.i32(6, 1) ?? 1, t?.i32(5, 1) ?? 1],
  };
}

export interface PoolOptions {
  padding: 'SAME' | 'VALID';
  strides: [number, number];
  kernel: [number, number];
  activation: number;
}

/** Pool2DOptions: padding, stride_w, stride_h, filter_width, filter_height, activation. */
export function poolOptions(t: FbTable | undefined): PoolOptions {
  return {
    padding: padding(t?.i8(0) ?? 0),
    strides: [t?.i32(2) ?? 1, t?.i32(1) ?? 1],
    kernel: [t?.i32(4) ?? 1, t?.i32(3) ?? 1],
    activation: t?.i8(5) ?? 0,
  };
}

/** The fused activation of ADD/SUB/MUL/DIV/FULLY_CONNECTED options (field 0 in each). */
export const leadingActivation = (t: FbTable | undefined): number => t?.i8(0) ?? 0;
/** FullyConnectedOptions.keep_num_dims. */
export const fullyConnectedKeepDims = (t: FbTable | undefined): boolean => t?.bool(2) ?? false;
/** ConcatenationOptions: axis, fused_activation_function. */
export const concatOptions = (t: FbTable | undefined) => ({ axis: t?.i32(0) ?? 0, activation: t?.i8(1) ?? 0 });
/** ReshapeOptions.new_shape. */
export const reshapeNewShape = (t: FbTable | undefined): number[] => t?.i32s(0) ?? [];
/** LeakyReluOptions.alpha. */
export const leakyReluAlpha = (t: FbTable | undefined): number => t?.f32(0) ?? 0;
/** ReducerOptions.keep_dims. */
export const reducerKeepDims = (t: FbTable | undefined): boolean => t?.bool(0) ?? false;
/** SoftmaxOptions.beta. */
export const softmaxBeta = (t: FbTable | undefined): number => t?.f32(0, 1) ?? 1;

export interface StridedSliceMasks {
  begin: number;
  end: number;
  ellipsis: number;
  newAxis: number;
  shrinkAxis: number;
}
/** StridedSliceOptions: begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask. */
export const stridedSliceMasks = (t: FbTable | undefined): StridedSliceMasks => ({
  begin: t?.i32(0) ?? 0,
  end: t?.i32(1) ?? 0,
  ellipsis: t?.i32(2) ?? 0,
  newAxis: t?.i32(3) ?? 0,
  shrinkAxis: t?.i32(4) ?? 0,
});
/** CastOptions.out_data_type (a TensorType; 0 when absent, then read the output tensor's type). */
export const castOutType = (t: FbTable | undefined): number | undefined => (t?.has(1) ? t.i8(1) : undefined);
