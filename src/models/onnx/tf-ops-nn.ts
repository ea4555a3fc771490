/**
 * TF convolution, pooling and matrix-product ops (plain and grappler-fused `_Fused*` forms) → ONNX,
 * through the NHWC-wrapped layers of nhwc-layers.ts.
 */
import {
  applyActivation,
  conv2dNhwc,
  depthwiseToOihw,
  hwioToOihw,
  pool2dNhwc,
  type FusedActivation,
  type SpatialPads,
  type TfPadding,
} from './nhwc-layers.js';
import { constInput, fail, floats, input, tensor, type OpContext, type OpHandler, type TfValue } from './tf-op-context.js';

function tfPadding(ctx: OpContext): TfPadding {
  const padding = ctx.attrs.string('padding');
  if (padding === 'SAME' || padding === 'VALID') return padding;
  if (padding !== 'EXPLICIT') return fail(ctx, `padding ${padding}`);
  const p = ctx.attrs.ints('explicit_paddings'); // NHWC pairs: [n0,n1, h0,h1, w0,w1, c0,c1]
  return [p[2]!, p[4]!, p[3]!, p[5]!] as SpatialPads;
}

function spatialPair(ctx: OpContext, key: string): [number, number] {
  const v = ctx.attrs.ints(key, [1, 1, 1, 1]);
  if (v[0] !== 1 || v[3] !== 1) fail(ctx, `${key} on batch or channel axes`);
  return [v[1]!, v[2]!];
}

function checkNhwc(ctx: OpContext): void {
  const format = ctx.attrs.string('data_format', 'NHWC');
  if (format !== 'NHWC') fail(ctx, `data_format ${format} (only NHWC graphs are supported)`);
}

/**
 * Reads a grappler fused op list (`_FusedConv2D`, `_FusedMatMul`...): BiasAdd first, then an optional
 * activation. Its extra operands follow the regular inputs from `firstArg`: the bias, then PReLU's
 * slopes; `num_args` says how many there are and is checked against what the op list needs.
 */
function fusedParts(ctx: OpContext, firstArg: number): { bias?: Float32Array; activation?: FusedActivation } {
  const ops = ctx.attrs.strings('fused_ops');
  if (ops.length === 0) return {};
  if (ops[0] === 'FusedBatchNorm') fail(ctx, 'fused batch normalisation is not supported');
  const hasBias = ops[0] === 'BiasAdd';
  const rest = hasBias ? ops.slice(1) : ops;
  if (rest.length > 1) fail(ctx, `fused ops ${ops.join('+')}`);
  const act = rest[0];
  const needed = (hasBias ? 1 : 0) + (act === 'Prelu' ? 1 : 0);
  const numArgs = ctx.attrs.int('num_args', needed);
  if (numArgs !== needed) fail(ctx, `num_args ${numArgs} but fused ops ${ops.join('+')} need ${needed}`);
  const bias = hasBias ? floats(ctx, firstArg) : undefined;
  switch (act) {
    case undefined:
      return { bias };
    case 'Relu':
      return { bias, activation: { kind: 'relu' } };
    case 'Relu6':
      return { bias, activation: { kind: 'relu6' } };
    case 'Sigmoid':
      return { bias, activation: { kind: 'sigmoid' } };
    case 'LeakyRelu':
      return { bias, activation: { kind: 'leakyRelu', alpha: ctx.attrs.float('leakyrelu_alpha', 0.2) } };
    case 'Prelu':
      return { bias, activation: { kind: 'prelu', alpha: floats(ctx, firstArg + (hasBias ? 1 : 0)) } };
    default:
      return fail(ctx, `fused activation ${act}`);
  }
}

export function conv2d(ctx: OpContext): TfValue {
  checkNhwc(ctx);
  const x = input(ctx, 0);
  const filter = constInput(ctx, 1, 'float32');
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const channels = x.shape[3]!;
  if (channels % ci !== 0) fail(ctx, `input has ${channels} channels, filter expects ${ci}`);
  const { bias, activation } = ctx.node.op === 'Conv2D' ? {} : fusedParts(ctx, 2);
  return {
    kind: 'tensor',
    ...conv2dNhwc(ctx.b, x, {
      weight: hwioToOihw(filter.values as Float32Array, filter.shape),
      weightDims: [co, ci, kh, kw],
      bias,
      strides: spatialPair(ctx, 'strides'),
      dilations: spatialPair(ctx, 'dilations'),
      padding: tfPadding(ctx),
      group: channels / ci,
      activation,
      name: ctx.name,
    }),
  };
}

export function depthwiseConv2d(ctx: OpContext): TfValue {
  checkNhwc(ctx);
  const x = input(ctx, 0);
  const filter = constInput(ctx, 1, 'float32');
  const [kh, kw, c, m] = filter.shape as [number, number, number, number];
  if (x.shape[3] !== c) fail(ctx, `input has ${x.shape[3]} channels, filter expects ${c}`);
  const { bias, activation } = ctx.node.op === 'DepthwiseConv2dNative' ? {} : fusedParts(ctx, 2);
  return {
    kind: 'tensor',
    ...conv2dNhwc(ctx.b, x, {
      weight: depthwiseToOihw(filter.values as Float32Array, filter.shape),
      weightDims: [c * m, 1, kh, kw],
      bias,
      strides: spatialPair(ctx, 'strides'),
      dilations: spatialPair(ctx, 'dilations'),
      padding: tfPadding(ctx),
      group: c,
      activation,
      name: ctx.name,
    }),
  };
}

export const pool =
  (kind: 'max' | 'avg'): OpHandler =>
  (ctx) => {
    checkNhwc(ctx);
    const padding = ctx.attrs.string('padding');
    if (padding !== 'SAME' && padding !== 'VALID') fail(ctx, `padding ${padding}`);
    return {
      kind: 'tensor',
      ...pool2dNhwc(ctx.b, input(ctx, 0), {
        kind,
        kernel: spatialPair(ctx, 'ksize'),
        strides: spatialPair(ctx, 'strides'),
        padding: padding as 'SAME' | 'VALID',
        name: ctx.name,
      }),
    };
  };

export function matMul(ctx: OpContext): TfValue {
  const a = input(ctx, 0);
  const bConst = constInput(ctx, 1, 'float32');
  if (a.shape.length !== 2 || bConst.shape.length !== 2) fail(ctx, 'only 2-D matrix products are supported');
  if (ctx.attrs.bool('transpose_a', false)) fail(ctx, 'transpose_a on the batch operand');
  let [k, m] = bConst.shape as [number, number];
  let weight = bConst.values as Float32Array;
  if (ctx.attrs.bool('transpose_b', false)) {
    const t = new Float32Array(weight.length); // stored [m, k] → [k, m]
    for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) t[j * k + i] = weight[i * m + j]!;
    weight = t;
    [k, m] = [m, k];
  }
  if (a.shape[1] !== k) fail(ctx, `[${a.shape}] × [${k},${m}]`);
  let y = ctx.b.node('MatMul', [a.name, ctx.b.addInitializer(`${ctx.name}/weight`, weight, [k, m])], {}, ctx.name);
  if (ctx.node.op === '_FusedMatMul') {
    const { bias, activation } = fusedParts(ctx, 2);
    if (bias) y = ctx.b.node('Add', [y, ctx.b.addInitializer(`${ctx.name}/bias`, bias, [m])], {}, `${ctx.name}/bias_add`);
    if (activation) y = applyActivation(ctx.b, y, activation, ctx.name, [m]);
  }
  return tensor(y, [-1, m]);
}
