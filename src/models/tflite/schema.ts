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

/**
 * Every BuiltinOperator name, indexed by its code: the enum of tensorflow/lite/schema/schema.fbs as of
 * TensorFlow 2.21 (codes 0–209), so an op the converter does not translate is named in errors
 * (`op SHAPE is not supported`), not given as a number. A code newer than this table reads "builtin op N".
 */
const BUILTIN_OPERATOR_NAMES: readonly string[] = [
  /* 0 */ 'ADD', 'AVERAGE_POOL_2D', 'CONCATENATION', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'DEPTH_TO_SPACE', 'DEQUANTIZE',
  /* 7 */ 'EMBEDDING_LOOKUP', 'FLOOR', 'FULLY_CONNECTED', 'HASHTABLE_LOOKUP', 'L2_NORMALIZATION', 'L2_POOL_2D',
  /* 13 */ 'LOCAL_RESPONSE_NORMALIZATION', 'LOGISTIC', 'LSH_PROJECTION', 'LSTM', 'MAX_POOL_2D', 'MUL', 'RELU', 'RELU_N1_TO_1',
  /* 21 */ 'RELU6', 'RESHAPE', 'RESIZE_BILINEAR', 'RNN', 'SOFTMAX', 'SPACE_TO_DEPTH', 'SVDF', 'TANH', 'CONCAT_EMBEDDINGS',
  /* 30 */ 'SKIP_GRAM', 'CALL', 'CUSTOM', 'EMBEDDING_LOOKUP_SPARSE', 'PAD', 'UNIDIRECTIONAL_SEQUENCE_RNN', 'GATHER',
  /* 37 */ 'BATCH_TO_SPACE_ND', 'SPACE_TO_BATCH_ND', 'TRANSPOSE', 'MEAN', 'SUB', 'DIV', 'SQUEEZE', 'UNIDIRECTIONAL_SEQUENCE_LSTM',
  /* 45 */ 'STRIDED_SLICE', 'BIDIRECTIONAL_SEQUENCE_RNN', 'EXP', 'TOPK_V2', 'SPLIT', 'LOG_SOFTMAX', 'DELEGATE',
  /* 52 */ 'BIDIRECTIONAL_SEQUENCE_LSTM', 'CAST', 'PRELU', 'MAXIMUM', 'ARG_MAX', 'MINIMUM', 'LESS', 'NEG', 'PADV2', 'GREATER',
  /* 62 */ 'GREATER_EQUAL', 'LESS_EQUAL', 'SELECT', 'SLICE', 'SIN', 'TRANSPOSE_CONV', 'SPARSE_TO_DENSE', 'TILE', 'EXPAND_DIMS',
  /* 71 */ 'EQUAL', 'NOT_EQUAL', 'LOG', 'SUM', 'SQRT', 'RSQRT', 'SHAPE', 'POW', 'ARG_MIN', 'FAKE_QUANT', 'REDUCE_PROD',
  /* 82 */ 'REDUCE_MAX', 'PACK', 'LOGICAL_OR', 'ONE_HOT', 'LOGICAL_AND', 'LOGICAL_NOT', 'UNPACK', 'REDUCE_MIN', 'FLOOR_DIV',
  /* 91 */ 'REDUCE_ANY', 'SQUARE', 'ZEROS_LIKE', 'FILL', 'FLOOR_MOD', 'RANGE', 'RESIZE_NEAREST_NEIGHBOR', 'LEAKY_RELU',
  /* 99 */ 'SQUARED_DIFFERENCE', 'MIRROR_PAD', 'ABS', 'SPLIT_V', 'UNIQUE', 'CEIL', 'REVERSE_V2', 'ADD_N', 'GATHER_ND', 'COS',
  /* 109 */ 'WHERE', 'RANK', 'ELU', 'REVERSE_SEQUENCE', 'MATRIX_DIAG', 'QUANTIZE', 'MATRIX_SET_DIAG', 'ROUND', 'HARD_SWISH', 'IF',
  /* 119 */ 'WHILE', 'NON_MAX_SUPPRESSION_V4', 'NON_MAX_SUPPRESSION_V5', 'SCATTER_ND', 'SELECT_V2', 'DENSIFY', 'SEGMENT_SUM',
  /* 126 */ 'BATCH_MATMUL', 'PLACEHOLDER_FOR_GREATER_OP_CODES', 'CUMSUM', 'CALL_ONCE', 'BROADCAST_TO', 'RFFT2D', 'CONV_3D',
  /* 133 */ 'IMAG', 'REAL', 'COMPLEX_ABS', 'HASHTABLE', 'HASHTABLE_FIND', 'HASHTABLE_IMPORT', 'HASHTABLE_SIZE', 'REDUCE_ALL',
  /* 141 */ 'CONV_3D_TRANSPOSE', 'VAR_HANDLE', 'READ_VARIABLE', 'ASSIGN_VARIABLE', 'BROADCAST_ARGS', 'RANDOM_STANDARD_NORMAL',
  /* 147 */ 'BUCKETIZE', 'RANDOM_UNIFORM', 'MULTINOMIAL', 'GELU', 'DYNAMIC_UPDATE_SLICE', 'RELU_0_TO_1', 'UNSORTED_SEGMENT_PROD',
  /* 154 */ 'UNSORTED_SEGMENT_MAX', 'UNSORTED_SEGMENT_SUM', 'ATAN2', 'UNSORTED_SEGMENT_MIN', 'SIGN', 'BITCAST', 'BITWISE_XOR',
  /* 161 */ 'RIGHT_SHIFT', 'STABLEHLO_LOGISTIC', 'STABLEHLO_ADD', 'STABLEHLO_DIVIDE', 'STABLEHLO_MULTIPLY', 'STABLEHLO_MAXIMUM',
  /* 167 */ 'STABLEHLO_RESHAPE', 'STABLEHLO_CLAMP', 'STABLEHLO_CONCATENATE', 'STABLEHLO_BROADCAST_IN_DIM',
  /* 171 */ 'STABLEHLO_CONVOLUTION', 'STABLEHLO_SLICE', 'STABLEHLO_CUSTOM_CALL', 'STABLEHLO_REDUCE', 'STABLEHLO_ABS',
  /* 176 */ 'STABLEHLO_AND', 'STABLEHLO_COSINE', 'STABLEHLO_EXPONENTIAL', 'STABLEHLO_FLOOR', 'STABLEHLO_LOG', 'STABLEHLO_MINIMUM',
  /* 182 */ 'STABLEHLO_NEGATE', 'STABLEHLO_OR', 'STABLEHLO_POWER', 'STABLEHLO_REMAINDER', 'STABLEHLO_RSQRT', 'STABLEHLO_SELECT',
  /* 188 */ 'STABLEHLO_SUBTRACT', 'STABLEHLO_TANH', 'STABLEHLO_SCATTER', 'STABLEHLO_COMPARE', 'STABLEHLO_CONVERT',
  /* 193 */ 'STABLEHLO_DYNAMIC_SLICE', 'STABLEHLO_DYNAMIC_UPDATE_SLICE', 'STABLEHLO_PAD', 'STABLEHLO_IOTA',
  /* 197 */ 'STABLEHLO_DOT_GENERAL', 'STABLEHLO_REDUCE_WINDOW', 'STABLEHLO_SORT', 'STABLEHLO_WHILE', 'STABLEHLO_GATHER',
  /* 202 */ 'STABLEHLO_TRANSPOSE', 'DILATE', 'STABLEHLO_RNG_BIT_GENERATOR', 'REDUCE_WINDOW', 'STABLEHLO_COMPOSITE',
  /* 207 */ 'STABLEHLO_SHIFT_LEFT', 'STABLEHLO_CBRT', 'STABLEHLO_CASE',
];

export const opName = (code: number): string => BUILTIN_OPERATOR_NAMES[code] ?? `builtin op ${code}`;

/** TensorType codes (schema.fbs). */
export const TensorType = { FLOAT32: 0, FLOAT16: 1, INT32: 2, UINT8: 3, INT64: 4, STRING: 5, BOOL: 6, INT16: 7, INT8: 9 } as const;

/** Every TensorType of schema.fbs (TensorFlow 2.21), by code, for messages. */
const TENSOR_TYPE_NAMES: readonly string[] = [
  'float32', 'float16', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16', 'complex64', 'int8', 'float64',
  'complex128', 'uint64', 'resource', 'variant', 'uint32', 'uint16', 'int4', 'bfloat16', 'int2', 'uint4',
];
export const tensorTypeName = (code: number): string => TENSOR_TYPE_NAMES[code] ?? `TFLite type ${code}`;

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
  if (!(offset > 1 && size > 0)) return undefined;
  // subarray would quietly cut bytes that lie past the end: the weights would be read short.
  if (offset + size > file.length) throw new Error(`a buffer lies past the end of the file (bytes ${offset}–${offset + size} of ${file.length}): the file is cut or damaged`);
  return file.subarray(offset, offset + size);
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
    const buffer = t.u32(2);
    if (buffer >= buffers.length && buffers.length) throw new Error(`tensor ${index} refers to buffer ${buffer}; the file has ${buffers.length}: it is damaged`);
    const data = bufferBytes(buffers[buffer], file);
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
  const inputs = g.i32s(1), outputs = g.i32s(2);
  // Every tensor index the graph names must be one of its tensors (-1: an optional input left out).
  for (const index of [...inputs, ...outputs, ...operators.flatMap((o) => [...o.inputs, ...o.outputs])])
    if (index < -1 || index >= tensors.length) throw new Error(`the graph refers to tensor ${index}; it has ${tensors.length}: the file is damaged`);
  return { version: model.u32(0), description: model.string(3), tensors, inputs, outputs, operators };
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
