/**
 * The values and context the TF op translations work with: a runtime tensor (ONNX value name + static
 * shape, -1 for the batch) or a TF constant kept as data until an op needs it.
 */
import type { OnnxGraphBuilder } from './graph-builder.js';
import type { Value } from './nhwc-layers.js';
import type { TfAttrs, TfNode } from './tf-node.js';

export interface TensorValue extends Value {
  kind: 'tensor';
}

/** A TF Const, kept as data until an op needs it as a runtime input (then it becomes an initializer). */
export interface ConstValue {
  kind: 'const';
  tfName: string;
  dtype: 'float32' | 'int32';
  shape: number[];
  values: Float32Array | Int32Array;
  onnxName?: string;
}

export type TfValue = TensorValue | ConstValue;

export interface OpContext {
  b: OnnxGraphBuilder;
  node: TfNode;
  attrs: TfAttrs;
  inputs: TfValue[];
  /** Readable base name for the ONNX nodes this TF node becomes. */
  name: string;
}

export type OpHandler = (ctx: OpContext) => TfValue;

export class UnsupportedTfGraphError extends Error {}

export const fail = (ctx: OpContext, why: string): never => {
  throw new UnsupportedTfGraphError(`node ${ctx.node.name} (${ctx.node.op}): ${why}`);
};

export const tensor = (name: string, shape: number[]): TensorValue => ({ kind: 'tensor', name, shape });

/** The input as a runtime value; float constants become (shared) initializers. */
export function asTensor(ctx: OpContext, v: TfValue): TensorValue {
  if (v.kind === 'tensor') return v;
  if (v.dtype !== 'float32') fail(ctx, `int32 constant ${v.tfName} used as a float tensor`);
  v.onnxName ??= ctx.b.addInitializer(v.tfName, v.values as Float32Array, v.shape);
  return tensor(v.onnxName, v.shape);
}

export function input(ctx: OpContext, i: number): TensorValue {
  const v = ctx.inputs[i] ?? fail(ctx, `missing input ${i}`);
  return asTensor(ctx, v);
}

export function constInput(ctx: OpContext, i: number, dtype: 'float32' | 'int32'): ConstValue {
  const v = ctx.inputs[i];
  if (!v || v.kind !== 'const') return fail(ctx, `input ${i} must be a constant`);
  if (v.dtype !== dtype) return fail(ctx, `constant ${v.tfName} is ${v.dtype}, expected ${dtype}`);
  return v;
}

export const floats = (ctx: OpContext, i: number): Float32Array => constInput(ctx, i, 'float32').values as Float32Array;
export const ints = (ctx: OpContext, i: number): number[] => Array.from(constInput(ctx, i, 'int32').values);

/** Numpy broadcasting of static shapes (-1, the batch, wins over 1). */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1 && x !== -1 && y !== -1) throw new UnsupportedTfGraphError(`cannot broadcast [${a}] with [${b}]`);
    out.push(x === 1 ? y : y === 1 ? x : x === -1 || y === -1 ? -1 : x);
  }
  return out;
}

export const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);
