/**
 * TF-semantics convolution and pooling on NHWC values, emitted as ONNX (which is NCHW):
 * each op is wrapped in a Transpose pair, which onnxruntime's transpose optimiser cancels
 * between consecutive layers. Filters are rearranged here, once, at conversion time.
 */
import { floatAttr, type OnnxGraphBuilder } from './graph-builder.js';

/** A value in the graph with its static shape; -1 marks the dynamic batch dimension. */
export interface Value {
  name: string;
  shape: number[];
}

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];

/** [top, left, bottom, right] padding of the two spatial axes. */
export type SpatialPads = [number, number, number, number];

/** TF "SAME" padding of one axis: output ceil(in/stride); the odd pixel goes at the end. */
export function tfSamePads(inSize: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + effective - inSize, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

export type TfPadding = 'SAME' | 'VALID' | SpatialPads;

/** Resolves TF padding for an NHWC input of spatial size [h, w] into explicit pads. */
export function resolvePads(
  padding: TfPadding,
  [h, w]: [number, number],
  [kh, kw]: [number, number],
  [sh, sw]: [number, number],
  [dh, dw]: [number, number] = [1, 1],
): SpatialPads {
  if (padding === 'VALID') return [0, 0, 0, 0];
  if (padding !== 'SAME') return padding;
  const [top, bottom] = tfSamePads(h, kh, sh, dh);
  const [left, right] = tfSamePads(w, kw, sw, dw);
  return [top, left, bottom, right];
}

export function convOutputSize(inSize: number, kernel: number, stride: number, padBegin: number, padEnd: number, dilation = 1): number {
  if (inSize === -1) return -1; // a dynamic spatial size stays dynamic
  return Math.floor((inSize + padBegin + padEnd - ((kernel - 1) * dilation + 1)) / stride) + 1;
}

/**
 * The ONNX padding attributes of TF padding: explicit pads for known sizes; for a dynamic spatial size
 * (−1), TF "SAME" is ONNX auto_pad SAME_UPPER (the odd pixel at the end, as TF puts it).
 */
export function padAttrs(
  padding: TfPadding,
  [h, w]: [number, number],
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number] = [1, 1],
): { attrs: { pads: number[] } | { auto_pad: string }; pads: SpatialPads } {
  if (padding === 'SAME' && (h === -1 || w === -1)) return { attrs: { auto_pad: 'SAME_UPPER' }, pads: [0, 0, 0, 0] };
  const pads = resolvePads(padding, [h, w], kernel, strides, dilations);
  return { attrs: { pads: [...pads] }, pads };
}

/** TF conv filter HWIO [kh, kw, in, out] → ONNX OIHW [out, in, kh, kw]. */
export function hwioToOihw(data: Float32Array, [kh, kw, ci, co]: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh!; y++)
    for (let x = 0; x < kw!; x++)
      for (let i = 0; i < ci!; i++)
        for (let o = 0; o < co!; o++) out[((o * ci! + i) * kh! + y) * kw! + x] = data[((y * kw! + x) * ci! + i) * co! + o]!;
  return out;
}

/**
 * TF depthwise filter [kh, kw, C, M] → ONNX grouped-conv weight [C·M, 1, kh, kw] (group = C).
 * TF's output channel c·M + m reads input channel c, which is exactly ONNX group c's m-th output.
 */
export function depthwiseToOihw(data: Float32Array, [kh, kw, c, m]: readonly number[]): Float32Array {
  return hwioToOihw(data, [kh!, kw!, 1, c! * m!]);
}

/** An activation applied right after a conv, in NCHW (so onnxruntime can fuse it into the conv). */
export type FusedActivation =
  | { kind: 'relu' }
  | { kind: 'relu6' }
  | { kind: 'sigmoid' }
  | { kind: 'leakyRelu'; alpha: number }
  | { kind: 'prelu'; alpha: Float32Array };

export interface Conv2dSpec {
  /** OIHW weight (already rearranged) and its dims. */
  weight: Float32Array;
  weightDims: [number, number, number, number];
  bias?: Float32Array;
  strides: [number, number];
  dilations?: [number, number];
  padding: TfPadding;
  group?: number;
  activation?: FusedActivation;
  name: string;
}

/**
 * Applies `activation` to `x`. A PReLU slope vector is laid out as `alphaDims`
 * ([C,1,1] after an NCHW conv, [C] on a [N,C] matrix) so it broadcasts along the channels.
 */
export function applyActivation(b: OnnxGraphBuilder, x: string, activation: FusedActivation, name: string, alphaDims: number[]): string {
  switch (activation.kind) {
    case 'relu':
      return b.node('Relu', [x], {}, `${name}/relu`);
    case 'relu6':
      return b.node('Clip', [x, b.constFloat(`${name}/zero`, [0], []), b.constFloat(`${name}/six`, [6], [])], {}, `${name}/relu6`);
    case 'sigmoid':
      return b.node('Sigmoid', [x], {}, `${name}/sigmoid`);
    case 'leakyRelu':
      return b.node('LeakyRelu', [x], { alpha: floatAttr(activation.alpha) }, `${name}/leaky_relu`);
    case 'prelu':
      return preluAsRelu(b, x, activation.alpha, activation.alpha.length === 1 ? [1] : alphaDims, name);
  }
}

/**
 * PReLU written as (1 − α)·Relu(x) + α·x: equal within float32 rounding, and onnxruntime keeps these
 * ops in its blocked (NCHWc) conv layout where a PRelu op forces a layout round trip; measured on
 * facemesh (1 thread): 9.0 ms with PRelu, 4.7 ms like this.
 */
export function preluAsRelu(b: OnnxGraphBuilder, x: string, alpha: Float32Array, alphaDims: readonly number[], name: string): string {
  const positive = b.node('Relu', [x], {}, `${name}/prelu_relu`);
  const keep = b.addInitializer(`${name}/prelu_one_minus_alpha`, Float32Array.from(alpha, (a) => 1 - a), alphaDims);
  const slope = b.addInitializer(`${name}/prelu_alpha`, alpha, alphaDims);
  const scaledPositive = b.node('Mul', [positive, keep], {}, `${name}/prelu_pos`);
  const scaledAll = b.node('Mul', [x, slope], {}, `${name}/prelu_all`);
  return b.node('Add', [scaledPositive, scaledAll], {}, `${name}/prelu`);
}

/** TF Conv2D / DepthwiseConv2dNative (+bias, +activation) on an NHWC value. */
export function conv2dNhwc(b: OnnxGraphBuilder, x: Value, spec: Conv2dSpec): Value {
  const [n, h, w] = x.shape as [number, number, number, number];
  const [o, , kh, kw] = spec.weightDims;
  const dilations = spec.dilations ?? [1, 1];
  const { attrs: padding, pads } = padAttrs(spec.padding, [h, w], [kh, kw], spec.strides, dilations);
  const inputs = [b.node('Transpose', [x.name], { perm: NHWC_TO_NCHW }, `${spec.name}/to_nchw`)];
  inputs.push(b.addInitializer(`${spec.name}/weight`, spec.weight, spec.weightDims));
  if (spec.bias) inputs.push(b.addInitializer(`${spec.name}/bias`, spec.bias, [o]));
  let y = b.node(
    'Conv',
    inputs,
    {
      kernel_shape: [kh, kw],
      strides: spec.strides,
      dilations,
      ...padding,
      group: spec.group ?? 1,
    },
    spec.name,
  );
  if (spec.activation) y = applyActivation(b, y, spec.activation, spec.name, [o, 1, 1]);
  const outH = convOutputSize(h, kh, spec.strides[0], pads[0], pads[2], dilations[0]);
  const outW = convOutputSize(w, kw, spec.strides[1], pads[1], pads[3], dilations[1]);
  return { name: b.node('Transpose', [y], { perm: NCHW_TO_NHWC }, `${spec.name}/to_nhwc`), shape: [n, outH, outW, o] };
}

export interface Pool2dSpec {
  kind: 'max' | 'avg';
  kernel: [number, number];
  strides: [number, number];
  padding: TfPadding;
  name: string;
}

/**
 * TF MaxPool / AvgPool on an NHWC value. Padded cells never count, as in TF:
 * ONNX MaxPool ignores pads and AveragePool's count_include_pad defaults to 0.
 */
export function pool2dNhwc(b: OnnxGraphBuilder, x: Value, spec: Pool2dSpec): Value {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [kh, kw] = spec.kernel;
  const { attrs: padding, pads } = padAttrs(spec.padding, [h, w], spec.kernel, spec.strides);
  const t = b.node('Transpose', [x.name], { perm: NHWC_TO_NCHW }, `${spec.name}/to_nchw`);
  const y = b.node(
    spec.kind === 'max' ? 'MaxPool' : 'AveragePool',
    [t],
    { kernel_shape: [kh, kw], strides: spec.strides, ...padding },
    spec.name,
  );
  const outH = convOutputSize(h, kh, spec.strides[0], pads[0], pads[2]);
  const outW = convOutputSize(w, kw, spec.strides[1], pads[1], pads[3]);
  return { name: b.node('Transpose', [y], { perm: NCHW_TO_NHWC }, `${spec.name}/to_nhwc`), shape: [n, outH, outW, c] };
}
