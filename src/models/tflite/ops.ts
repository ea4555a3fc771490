/**
 * TFLite builtin op → ONNX translations, one handler per op. Values keep TFLite's NHWC layout; the
 * convolutions and pools go through onnx/nhwc-layers.ts (Transpose pairs onnxruntime cancels), so every
 * other op keeps its TFLite meaning unchanged (axes, broadcasting).
 */
import { floatAttr, type OnnxGraphBuilder } from '../onnx/graph-builder.js';
import { conv2dNhwc, pool2dNhwc, type FusedActivation } from '../onnx/nhwc-layers.js';
import {
  Activation,
  TfliteOp,
  castOutType,
  concatOptions,
  conv2dOptions,
  depthwiseOptions,
  fullyConnectedKeepDims,
  leadingActivation,
  leakyReluAlpha,
  opName,
  poolOptions,
  reducerKeepDims,
  reshapeNewShape,
  softmaxBeta,
  stridedSliceMasks,
  TensorType,
  tensorTypeName,
  type TfliteOperator,
  type TfliteTensor,
} from './schema.js';
import { dequantize, dynamicLike, materialise, tensor, UnsupportedTfliteError, type ConstValue, type TensorValue, type TValue } from './values.js';

export interface OpContext {
  b: OnnxGraphBuilder;
  op: TfliteOperator;
  /** Input values in the operator's order; undefined for an omitted optional input (index −1). */
  inputs: (TValue | undefined)[];
  /** The file's output tensors (shapes as stored, names, types). */
  outputs: TfliteTensor[];
  /** The file's input tensors (for DEQUANTIZE's quantisation parameters). */
  inputTensors: (TfliteTensor | undefined)[];
  name: string;
}

export type OpHandler = (ctx: OpContext) => TValue;

const fail = (ctx: OpContext, why: string): never => {
  throw new UnsupportedTfliteError(`${opName(ctx.op.op)} → ${ctx.outputs[0]?.name ?? '?'}: ${why}`);
};

const input = (ctx: OpContext, i: number): TensorValue => materialise(ctx.b, ctx.inputs[i] ?? fail(ctx, `missing input ${i}`));

function constant(ctx: OpContext, i: number): ConstValue {
  const v = ctx.inputs[i];
  return v && v.kind === 'const' ? v : fail(ctx, `input ${i} must be a constant`);
}
const floats = (ctx: OpContext, i: number): Float32Array => {
  const v = constant(ctx, i).values;
  if (v instanceof Float32Array) return v;
  // Integer weights an op reads itself are a dynamic-range ("hybrid") quantised model, whose kernels also
  // quantise the activations: plain float maths would not give what TFLite gives.
  if (ctx.inputTensors[i]?.quantization)
    fail(ctx, `input ${i} holds quantised integer weights (a dynamic-range quantised model, TFLiteConverter's Optimize.DEFAULT); facectl converts float32 and float16 TFLite models: export one of those`);
  return fail(ctx, `input ${i} must be a float constant`);
};
const ints = (ctx: OpContext, i: number): number[] => Array.from(constant(ctx, i).values, Number);

/** The output's static shape, dynamic where the first input's dimensions are. */
const outShape = (ctx: OpContext, like: readonly number[]): number[] => dynamicLike(ctx.outputs[0]!.shape, like);

function fusedActivation(ctx: OpContext, code: number): FusedActivation | undefined {
  if (code === Activation.NONE) return undefined;
  if (code === Activation.RELU) return { kind: 'relu' };
  if (code === Activation.RELU6) return { kind: 'relu6' };
  return fail(ctx, `fused activation ${code} is not supported`);
}

function activate(ctx: OpContext, x: TensorValue, code: number): TensorValue {
  const act = fusedActivation(ctx, code);
  if (!act) return x;
  const y = act.kind === 'relu' ? ctx.b.node('Relu', [x.name], {}, `${ctx.name}/relu`) : ctx.b.node('Clip', [x.name, ctx.b.constFloat(`${ctx.name}/lo`, [0], []), ctx.b.constFloat(`${ctx.name}/hi`, [6], [])], {}, `${ctx.name}/relu6`);
  return tensor(y, x.shape);
}

/** TFLite conv filter OHWI [O, kh, kw, I] → ONNX OIHW. */
function ohwiToOihw(w: Float32Array, [o, kh, kw, i]: readonly number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let a = 0; a < o!; a++)
    for (let y = 0; y < kh!; y++)
      for (let x = 0; x < kw!; x++)
        for (let c = 0; c < i!; c++) out[((a * i! + c) * kh! + y) * kw! + x] = w[((a * kh! + y) * kw! + x) * i! + c]!;
  return out;
}

const conv: OpHandler = (ctx) => {
  const x = input(ctx, 0);
  const depthwise = ctx.op.op === TfliteOp.DEPTHWISE_CONV_2D;
  const o = depthwise ? depthwiseOptions(ctx.op.options) : conv2dOptions(ctx.op.options);
  const filter = constant(ctx, 1);
  if (filter.shape.length !== 4 || (depthwise && filter.shape[0] !== 1)) fail(ctx, `filter of shape [${filter.shape.join(', ')}], not ${depthwise ? '[1, kh, kw, C·M]' : '[O, kh, kw, I]'}`);
  const w = floats(ctx, 1);
  const bias = ctx.inputs[2] ? floats(ctx, 2) : undefined;
  // Depthwise filters are [1, kh, kw, C·M]; output channel c·M + m reads input channel c, as ONNX groups do.
  const [fo, kh, kw, fi] = depthwise ? [filter.shape[3]!, filter.shape[1]!, filter.shape[2]!, 1] : (filter.shape as [number, number, number, number]);
  if (bias && bias.length !== fo) fail(ctx, `${bias.length} biases for ${fo} output channels`);
  // Grouped convolution (Keras Conv2D(groups=g)): TFLite keeps it one CONV_2D whose filter reads C / g of
  // the C input channels, output channel o reading group ⌊o / (O / g)⌋, exactly ONNX's `group`. Depthwise is
  // the case g = C with fi = 1.
  const channels = x.shape[3]!;
  if (!(channels > 0)) fail(ctx, `input of shape [${x.shape.join(', ')}] has no static channel count`);
  if (channels % fi !== 0) fail(ctx, `filter reads ${fi} input channels, which do not divide the input's ${channels}`);
  const group = channels / fi;
  if (fo % group !== 0) fail(ctx, `${fo} output channels cannot be split into ${group} groups`);
  const weight = ohwiToOihw(depthwise ? transposeLast(w, kh * kw, fo) : w, [fo, kh, kw, fi]);
  const y = conv2dNhwc(ctx.b, x, {
    weight,
    weightDims: [fo, fi, kh, kw],
    bias,
    strides: o.strides,
    dilations: o.dilations,
    padding: o.padding,
    group,
    activation: fusedActivation(ctx, o.activation),
    name: ctx.name,
  });
  return tensor(y.name, y.shape);
};

/** [rows, cols] row-major → [cols, rows] row-major (here: [kh·kw, C] → [C, kh·kw], i.e. OHWI with I = 1). */
function transposeLast(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c]!;
  return out;
}

const pool: OpHandler = (ctx) => {
  const o = poolOptions(ctx.op.options);
  const kind = ctx.op.op === TfliteOp.MAX_POOL_2D ? 'max' : 'avg';
  const y = pool2dNhwc(ctx.b, input(ctx, 0), { kind, kernel: o.kernel, strides: o.strides, padding: o.padding, name: ctx.name });
  return activate(ctx, tensor(y.name, y.shape), o.activation);
};

const fullyConnected: OpHandler = (ctx) => {
  const x = input(ctx, 0);
  const weightShape = constant(ctx, 1).shape; // [units, K]
  floats(ctx, 1); // float weights only (refuses hybrid-quantised ones with the reason)
  if (weightShape.length !== 2) fail(ctx, `weights of shape [${weightShape.join(', ')}], not [units, K]`);
  const [units, k] = weightShape as [number, number];
  if (fullyConnectedKeepDims(ctx.op.options) && x.shape.length !== 2) fail(ctx, 'keep_num_dims on a rank > 2 input is not supported');
  // TFLite flattens everything but the last axis of size K into rows.
  const flat = x.shape.length === 2 && x.shape[1] === k ? x : tensor(ctx.b.node('Reshape', [x.name, ctx.b.constInt64(`${ctx.name}/rows`, [-1, k])], {}, `${ctx.name}/flatten`), [x.shape[0] === -1 ? -1 : x.shape.reduce((a, b) => a * b, 1) / k, k]);
  const inputs = [flat.name, input(ctx, 1).name];
  if (ctx.inputs[2]) inputs.push(input(ctx, 2).name);
  const y = ctx.b.node('Gemm', inputs, { transB: 1 }, ctx.name);
  return activate(ctx, tensor(y, [flat.shape[0]!, units]), leadingActivation(ctx.op.options));
};

function broadcast(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const x = a[a.length - rank + i] ?? 1, y = b[b.length - rank + i] ?? 1;
    return x === -1 || y === -1 ? -1 : Math.max(x, y);
  });
}

const binary =
  (onnxOp: string, fused = true): OpHandler =>
  (ctx) => {
    const a = input(ctx, 0), c = input(ctx, 1);
    const y = tensor(ctx.b.node(onnxOp, [a.name, c.name], {}, ctx.name), broadcast(a.shape, c.shape));
    return fused ? activate(ctx, y, leadingActivation(ctx.op.options)) : y;
  };

const unary =
  (onnxOp: string, attrs: Record<string, ReturnType<typeof floatAttr>> = {}): OpHandler =>
  (ctx) => {
    const x = input(ctx, 0);
    return tensor(ctx.b.node(onnxOp, [x.name], attrs, ctx.name), x.shape);
  };

const reshape: OpHandler = (ctx) => {
  const x = input(ctx, 0);
  const target = ctx.outputs[0]!.shape.length ? [...ctx.outputs[0]!.shape] : ctx.inputs[1] ? ints(ctx, 1) : reshapeNewShape(ctx.op.options);
  if (x.shape[0] === -1) {
    // Keep the batch dynamic: the rows must stay rows (the other dimensions are static).
    const rest = x.shape.slice(1);
    if (rest.includes(-1)) fail(ctx, 'reshape of a value with dynamic spatial dimensions');
    if (rest.reduce((p, d) => p * d, 1) !== target.slice(1).reduce((p, d) => p * d, 1)) fail(ctx, 'reshape mixes the batch with other dimensions');
    target[0] = -1;
  }
  return tensor(ctx.b.node('Reshape', [x.name, ctx.b.constInt64(`${ctx.name}/shape`, target)], {}, ctx.name), target);
};

const concatenation: OpHandler = (ctx) => {
  const { axis, activation } = concatOptions(ctx.op.options);
  const xs = ctx.inputs.map((_, i) => input(ctx, i));
  const rank = xs[0]!.shape.length;
  const y = tensor(ctx.b.node('Concat', xs.map((x) => x.name), { axis: axis < 0 ? axis + rank : axis }, ctx.name), outShape(ctx, xs[0]!.shape));
  return activate(ctx, y, activation);
};

const reduce =
  (onnxOp: 'ReduceSum' | 'ReduceMax' | 'ReduceMean'): OpHandler =>
  (ctx) => {
    const x = input(ctx, 0);
    const axes = ints(ctx, 1).map((a) => (a < 0 ? a + x.shape.length : a));
    const keepdims = reducerKeepDims(ctx.op.options) ? 1 : 0;
    // Opset 17: ReduceSum takes its axes as an input, ReduceMax and ReduceMean as an attribute.
    const y =
      onnxOp === 'ReduceSum'
        ? ctx.b.node(onnxOp, [x.name, ctx.b.constInt64(`${ctx.name}/axes`, axes)], { keepdims }, ctx.name)
        : ctx.b.node(onnxOp, [x.name], { axes, keepdims }, ctx.name);
    const shape = keepdims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    return tensor(y, shape);
  };

const INT64_MAX = 2 ** 62; // "to the end" for Slice (any bound past the size is clamped)

const stridedSlice: OpHandler = (ctx) => {
  const x = input(ctx, 0);
  const [begin, end, steps] = [ints(ctx, 1), ints(ctx, 2), ints(ctx, 3)];
  const m = stridedSliceMasks(ctx.op.options);
  if (m.ellipsis || m.newAxis) fail(ctx, 'ellipsis and new-axis masks are not supported');
  const axes = begin.map((_, i) => i);
  const starts = axes.map((i) => (m.begin & (1 << i) ? (steps[i]! > 0 ? 0 : INT64_MAX) : begin[i]!));
  const ends = axes.map((i) => {
    if (m.shrinkAxis & (1 << i)) return begin[i]! === -1 ? INT64_MAX : begin[i]! + 1;
    return m.end & (1 << i) ? (steps[i]! > 0 ? INT64_MAX : -INT64_MAX) : end[i]!;
  });
  const c = (label: string, v: number[]) => ctx.b.constInt64(`${ctx.name}/${label}`, v);
  let y = ctx.b.node('Slice', [x.name, c('starts', starts), c('ends', ends), c('axes', axes), c('steps', steps)], {}, ctx.name);
  const shrink = axes.filter((i) => m.shrinkAxis & (1 << i));
  if (shrink.length) y = ctx.b.node('Squeeze', [y, c('squeeze', shrink)], {}, `${ctx.name}/squeeze`);
  return tensor(y, outShape(ctx, x.shape));
};

const ONNX_TYPE: Record<number, number> = { [TensorType.FLOAT32]: 1, [TensorType.INT32]: 6, [TensorType.INT64]: 7, [TensorType.BOOL]: 9 };

const cast: OpHandler = (ctx) => {
  const x = input(ctx, 0);
  const type = castOutType(ctx.op.options) ?? ctx.outputs[0]!.type;
  const to = ONNX_TYPE[type] ?? fail(ctx, `cast to ${tensorTypeName(type)}`);
  return tensor(ctx.b.node('Cast', [x.name], { to }, ctx.name), x.shape);
};

const dequantizeOp: OpHandler = (ctx) => {
  const v = constant(ctx, 0);
  return { kind: 'const', label: ctx.outputs[0]!.name, shape: v.shape, values: dequantize(ctx.inputTensors[0]!, v.values) };
};

const softmax: OpHandler = (ctx) => {
  const x = input(ctx, 0);
  const beta = softmaxBeta(ctx.op.options);
  const scaled = beta === 1 ? x.name : ctx.b.node('Mul', [x.name, ctx.b.constFloat(`${ctx.name}/beta`, [beta], [])], {}, `${ctx.name}/beta`);
  return tensor(ctx.b.node('Softmax', [scaled], { axis: -1 }, ctx.name), x.shape);
};

const prelu: OpHandler = (ctx) => {
  const x = input(ctx, 0);
  const slope = constant(ctx, 1);
  const scale = ctx.op.slopeScale ?? 1;
  const alpha = scale === 1 ? materialise(ctx.b, slope).name : ctx.b.addInitializer(`${slope.label}/x${scale}`, Float32Array.from(floats(ctx, 1), (a) => a * scale), slope.shape);
  return tensor(ctx.b.node('PRelu', [x.name, alpha], {}, ctx.name), x.shape);
};

/**
 * TFLite's L2_NORMALIZATION over the last axis: x / max(√Σx², 1e-6), its kernel's epsilon (a zero vector
 * stays zero instead of becoming NaN). Embedders often end with it.
 */
const l2Normalization: OpHandler = (ctx) => {
  const x = input(ctx, 0);
  const b = ctx.b;
  const sumSquares = b.node('ReduceSumSquare', [x.name], { axes: [-1], keepdims: 1 }, `${ctx.name}/sum_squares`);
  const norm = b.node('Sqrt', [sumSquares], {}, `${ctx.name}/norm`);
  const floor = b.node('Max', [norm, b.constFloat(`${ctx.name}/epsilon`, [1e-6], [])], {}, `${ctx.name}/floor`);
  const y = tensor(b.node('Div', [x.name, floor], {}, ctx.name), x.shape);
  return activate(ctx, y, leadingActivation(ctx.op.options));
};

export const OP_HANDLERS: Record<number, OpHandler> = {
  [TfliteOp.CONV_2D]: conv,
  [TfliteOp.DEPTHWISE_CONV_2D]: conv,
  [TfliteOp.MAX_POOL_2D]: pool,
  [TfliteOp.AVERAGE_POOL_2D]: pool,
  [TfliteOp.FULLY_CONNECTED]: fullyConnected,
  [TfliteOp.ADD]: binary('Add'),
  [TfliteOp.SUB]: binary('Sub'),
  [TfliteOp.MUL]: binary('Mul'),
  [TfliteOp.DIV]: binary('Div'),
  [TfliteOp.MAXIMUM]: binary('Max', false),
  [TfliteOp.MINIMUM]: binary('Min', false),
  [TfliteOp.GREATER_EQUAL]: binary('GreaterOrEqual', false),
  [TfliteOp.GREATER]: binary('Greater', false),
  [TfliteOp.LESS]: binary('Less', false),
  [TfliteOp.PRELU]: prelu,
  [TfliteOp.RELU]: unary('Relu'),
  [TfliteOp.ABS]: unary('Abs'),
  [TfliteOp.NEG]: unary('Neg'),
  [TfliteOp.EXP]: unary('Exp'),
  [TfliteOp.LOGISTIC]: unary('Sigmoid'),
  [TfliteOp.LEAKY_RELU]: (ctx) => unary('LeakyRelu', { alpha: floatAttr(leakyReluAlpha(ctx.op.options)) })(ctx),
  [TfliteOp.RESHAPE]: reshape,
  [TfliteOp.CONCATENATION]: concatenation,
  [TfliteOp.SUM]: reduce('ReduceSum'),
  [TfliteOp.REDUCE_MAX]: reduce('ReduceMax'),
  [TfliteOp.MEAN]: reduce('ReduceMean'),
  [TfliteOp.STRIDED_SLICE]: stridedSlice,
  [TfliteOp.CAST]: cast,
  [TfliteOp.DEQUANTIZE]: dequantizeOp,
  [TfliteOp.SOFTMAX]: softmax,
  [TfliteOp.L2_NORMALIZATION]: l2Normalization,
};
