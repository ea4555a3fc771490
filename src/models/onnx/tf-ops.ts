/**
 * TF op → ONNX translations for TF.js graph models, one handler per TF op type (convolutions, pools and
 * matrix products in tf-ops-nn.ts). Values stay NHWC like the TF graph; shapes are tracked statically,
 * with -1 for the dynamic batch dimension.
 */
import { floatAttr } from './graph-builder.js';
import { preluAsRelu } from './nhwc-layers.js';
import { CLIP_OP } from './tf-fusions.js';
import {
  broadcastShapes,
  constInput,
  fail,
  floats,
  input,
  ints,
  normAxis,
  tensor,
  type OpContext,
  type OpHandler,
  type TensorValue,
  type TfValue,
} from './tf-op-context.js';
import { conv2d, depthwiseConv2d, matMul, pool } from './tf-ops-nn.js';

export { UnsupportedTfGraphError, type ConstValue, type TfValue } from './tf-op-context.js';

// ---- element-wise ------------------------------------------------------------------------

const binary =
  (onnxOp: string): OpHandler =>
  (ctx) => {
    const a = input(ctx, 0);
    const b = input(ctx, 1);
    return tensor(ctx.b.node(onnxOp, [a.name, b.name], {}, ctx.name), broadcastShapes(a.shape, b.shape));
  };

const unary =
  (onnxOp: string): OpHandler =>
  (ctx) => {
    const x = input(ctx, 0);
    return tensor(ctx.b.node(onnxOp, [x.name], {}, ctx.name), x.shape);
  };

function squaredDifference(ctx: OpContext): TfValue {
  const diff = binary('Sub')(ctx) as TensorValue;
  return tensor(ctx.b.node('Mul', [diff.name, diff.name], {}, `${ctx.name}/square`), diff.shape);
}

function relu6(ctx: OpContext): TfValue {
  const x = input(ctx, 0);
  const lo = ctx.b.constFloat(`${ctx.name}/zero`, [0], []);
  const hi = ctx.b.constFloat(`${ctx.name}/six`, [6], []);
  return tensor(ctx.b.node('Clip', [x.name, lo, hi], {}, ctx.name), x.shape);
}

/** The `_Clip` op of tf-fusions (a fused ReLU6 / clip_by_value). */
function clip(ctx: OpContext): TfValue {
  const x = input(ctx, 0);
  const lo = ctx.b.constFloat(`${ctx.name}/min`, [ctx.attrs.float('clip_min', -Infinity)], []);
  const hi = ctx.b.constFloat(`${ctx.name}/max`, [ctx.attrs.float('clip_max', Infinity)], []);
  return tensor(ctx.b.node('Clip', [x.name, lo, hi], {}, ctx.name), x.shape);
}

function leakyRelu(ctx: OpContext): TfValue {
  const x = input(ctx, 0);
  return tensor(ctx.b.node('LeakyRelu', [x.name], { alpha: floatAttr(ctx.attrs.float('alpha', 0.2)) }, ctx.name), x.shape);
}

function prelu(ctx: OpContext): TfValue {
  const x = input(ctx, 0);
  const alpha = constInput(ctx, 1, 'float32'); // broadcasts against NHWC from the right, as in TF
  return tensor(preluAsRelu(ctx.b, x.name, alpha.values as Float32Array, alpha.shape, ctx.name), x.shape);
}

function square(ctx: OpContext): TfValue {
  const x = input(ctx, 0);
  return tensor(ctx.b.node('Mul', [x.name, x.name], {}, ctx.name), x.shape);
}

function rsqrt(ctx: OpContext): TfValue {
  const x = input(ctx, 0);
  const root = ctx.b.node('Sqrt', [x.name], {}, `${ctx.name}/sqrt`);
  return tensor(ctx.b.node('Reciprocal', [root], {}, ctx.name), x.shape);
}

function softmax(ctx: OpContext): TfValue {
  const x = input(ctx, 0);
  return tensor(ctx.b.node('Softmax', [x.name], { axis: -1 }, ctx.name), x.shape);
}

// ---- shape and reduction -------------------------------------------------------------------

const reduce =
  (onnxOp: string): OpHandler =>
  (ctx) => {
    const x = input(ctx, 0);
    const rank = x.shape.length;
    const axes = ints(ctx, 1).map((a) => normAxis(a, rank));
    if (axes.includes(0)) fail(ctx, 'reduction over the batch axis');
    const keep = ctx.attrs.bool('keep_dims', false) ? 1 : 0;
    const shape = keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    // Opset 17: ReduceSum takes axes as an input, the other reductions as an attribute.
    const name =
      onnxOp === 'ReduceSum'
        ? ctx.b.node(onnxOp, [x.name, ctx.b.constInt64(`${ctx.name}/axes`, axes)], { keepdims: keep }, ctx.name)
        : ctx.b.node(onnxOp, [x.name], { axes, keepdims: keep }, ctx.name);
    return tensor(name, shape);
  };

function reshape(ctx: OpContext): TfValue {
  const x = input(ctx, 0);
  const target = ints(ctx, 1);
  if (x.shape[0] !== -1) fail(ctx, 'reshape of a value without a batch dimension');
  // The graph's first dim is its batch (frozen as 1, or -1): ONNX 0 copies the input's batch size.
  if (target[0] !== 1 && target[0] !== -1) fail(ctx, `reshape to [${target}] mixes the batch dimension`);
  const perItem = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const rest = target.slice(1);
  const known = rest.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const shape = [-1, ...rest.map((d) => (d === -1 ? perItem / known : d))];
  if (shape.slice(1).reduce((a, b) => a * b, 1) !== perItem) fail(ctx, `cannot reshape [${x.shape}] to [${target}]`);
  const dims = ctx.b.constInt64(`${ctx.name}/shape`, [0, ...rest]);
  return tensor(ctx.b.node('Reshape', [x.name, dims], {}, ctx.name), shape);
}

function squeeze(ctx: OpContext): TfValue {
  const x = input(ctx, 0);
  const listed = ctx.attrs.ints('squeeze_dims', ctx.attrs.ints('axis', []));
  const axes = listed.length ? listed.map((a) => normAxis(a, x.shape.length)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  if (axes.some((a) => x.shape[a] !== 1)) fail(ctx, `squeeze of axes [${axes}] of [${x.shape}]`);
  const name = ctx.b.node('Squeeze', [x.name, ctx.b.constInt64(`${ctx.name}/axes`, axes)], {}, ctx.name);
  return tensor(name, x.shape.filter((_, i) => !axes.includes(i)));
}

function expandDims(ctx: OpContext): TfValue {
  const x = input(ctx, 0);
  const axis = normAxis(ints(ctx, 1)[0]!, x.shape.length + 1);
  if (axis === 0) fail(ctx, 'expand_dims in front of the batch axis');
  const shape = [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)];
  return tensor(ctx.b.node('Unsqueeze', [x.name, ctx.b.constInt64(`${ctx.name}/axes`, [axis])], {}, ctx.name), shape);
}

function concat(ctx: OpContext): TfValue {
  const parts = ctx.inputs.slice(0, -1).map((_, i) => input(ctx, i));
  const axis = normAxis(ints(ctx, ctx.inputs.length - 1)[0]!, parts[0]!.shape.length);
  if (axis === 0) fail(ctx, 'concat along the batch axis');
  const shape = [...parts[0]!.shape];
  shape[axis] = parts.reduce((sum, p) => sum + p.shape[axis]!, 0);
  return tensor(ctx.b.node('Concat', parts.map((p) => p.name), { axis }, ctx.name), shape);
}

function pad(ctx: OpContext): TfValue {
  const x = input(ctx, 0);
  const pairs = ints(ctx, 1);
  const rank = x.shape.length;
  if (pairs[0] !== 0 || pairs[1] !== 0) fail(ctx, 'padding of the batch axis');
  const begins = Array.from({ length: rank }, (_, i) => pairs[2 * i]!);
  const ends = Array.from({ length: rank }, (_, i) => pairs[2 * i + 1]!);
  const inputs = [x.name, ctx.b.constInt64(`${ctx.name}/pads`, [...begins, ...ends])];
  let mode = 'constant';
  if (ctx.node.op === 'PadV2') inputs.push(ctx.b.constFloat(`${ctx.name}/value`, [floats(ctx, 2)[0]!], []));
  if (ctx.node.op === 'MirrorPad') {
    const tfMode = ctx.attrs.string('mode');
    if (tfMode !== 'REFLECT') fail(ctx, `mirror pad mode ${tfMode}`);
    mode = 'reflect';
  }
  const shape = x.shape.map((d, i) => (i === 0 ? d : d + begins[i]! + ends[i]!));
  return tensor(ctx.b.node('Pad', inputs, { mode }, ctx.name), shape);
}

const identity: OpHandler = (ctx) => ctx.inputs[0] ?? fail(ctx, 'missing input');

/** Every TF op the converter knows. Const and Placeholder are handled by the graph walker. */
export const TF_OP_HANDLERS: Record<string, OpHandler> = {
  Conv2D: conv2d,
  _FusedConv2D: conv2d,
  DepthwiseConv2dNative: depthwiseConv2d,
  FusedDepthwiseConv2dNative: depthwiseConv2d,
  MaxPool: pool('max'),
  AvgPool: pool('avg'),
  Add: binary('Add'),
  AddV2: binary('Add'),
  BiasAdd: binary('Add'),
  Sub: binary('Sub'),
  Mul: binary('Mul'),
  RealDiv: binary('Div'),
  Div: binary('Div'),
  Maximum: binary('Max'),
  Minimum: binary('Min'),
  Pow: binary('Pow'),
  SquaredDifference: squaredDifference,
  Relu: unary('Relu'),
  Relu6: relu6,
  [CLIP_OP]: clip,
  Elu: unary('Elu'),
  LeakyRelu: leakyRelu,
  Prelu: prelu,
  Sigmoid: unary('Sigmoid'),
  Tanh: unary('Tanh'),
  Abs: unary('Abs'),
  Neg: unary('Neg'),
  Exp: unary('Exp'),
  Log: unary('Log'),
  Sqrt: unary('Sqrt'),
  Rsqrt: rsqrt,
  Square: square,
  Softmax: softmax,
  Mean: reduce('ReduceMean'),
  Sum: reduce('ReduceSum'),
  Max: reduce('ReduceMax'),
  Min: reduce('ReduceMin'),
  Prod: reduce('ReduceProd'),
  MatMul: matMul,
  _FusedMatMul: matMul,
  Reshape: reshape,
  Squeeze: squeeze,
  ExpandDims: expandDims,
  ConcatV2: concat,
  Pad: pad,
  PadV2: pad,
  MirrorPad: pad,
  Identity: identity,
  StopGradient: identity,
  Snapshot: identity,
};
