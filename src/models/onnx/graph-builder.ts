/**
 * A small ONNX graph builder: named values, nodes, initializers, inputs/outputs with a
 * symbolic (dynamic) batch dimension, serialised with the onnx-proto schema.
 * Converters build graphs through it; nothing here knows about TF.js or any model.
 */
import { onnx } from './proto.js';

/** Opset 17: every op used here is stable in it, and onnxruntime-node 1.30 runs it fully optimised. */
export const DEFAULT_OPSET = 17;
/** IR version 8 is the one that goes with opset 17 (and the newest onnx-proto knows). */
export const IR_VERSION = 8;

export type ElemType = 'float32' | 'float16' | 'int64' | 'int32';

const ELEM_TYPE_CODE: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
};

/** A dimension: a fixed size, or a symbolic name (e.g. 'N' for the batch) left dynamic. */
export type Dim = number | string;

/** A float attribute; plain numbers are integer attributes, so floats are wrapped to be explicit. */
export class FloatAttr {
  constructor(readonly value: number) {}
}
export class FloatsAttr {
  constructor(readonly values: number[]) {}
}
export const floatAttr = (value: number): FloatAttr => new FloatAttr(value);
export const floatsAttr = (values: number[]): FloatsAttr => new FloatsAttr(values);

/** number → INT, number[] → INTS, string → STRING, FloatAttr → FLOAT, FloatsAttr → FLOATS. */
export type AttrValue = number | number[] | string | FloatAttr | FloatsAttr;

export type TensorData = Float32Array | BigInt64Array | Int32Array;

export interface BuilderOptions {
  opset?: number;
  producerName?: string;
  producerVersion?: string;
  /** Stored as the model's doc_string: where the model came from. */
  docString?: string;
}

const AttrType = onnx.AttributeProto.AttributeType;

function toAttribute(name: string, value: AttrValue): InstanceType<typeof onnx.AttributeProto> {
  if (value instanceof FloatAttr) return onnx.AttributeProto.create({ name, type: AttrType.FLOAT, f: value.value });
  if (value instanceof FloatsAttr) return onnx.AttributeProto.create({ name, type: AttrType.FLOATS, floats: value.values });
  if (typeof value === 'string') {
    return onnx.AttributeProto.create({ name, type: AttrType.STRING, s: new TextEncoder().encode(value) });
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}=${value}: use floatAttr() for non-integer values`);
    return onnx.AttributeProto.create({ name, type: AttrType.INT, i: value });
  }
  for (const v of value) if (!Number.isInteger(v)) throw new Error(`attribute ${name}: use floatsAttr() for non-integer values`);
  return onnx.AttributeProto.create({ name, type: AttrType.INTS, ints: value });
}

function elemTypeOf(data: TensorData): ElemType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof BigInt64Array) return 'int64';
  return 'int32';
}

/** Raw little-endian bytes of a typed array (every platform onnxruntime-node ships for is little-endian). */
const rawBytes = (data: TensorData): Uint8Array => new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();

function valueInfo(name: string, elemType: ElemType, dims: Dim[] | undefined) {
  const shape =
    dims === undefined
      ? undefined
      : { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: ELEM_TYPE_CODE[elemType], shape } },
  });
}

export class OnnxGraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly usedNames = new Set<string>();
  private readonly opset: number;

  constructor(
    readonly graphName: string,
    private readonly options: BuilderOptions = {},
  ) {
    this.opset = options.opset ?? DEFAULT_OPSET;
  }

  /** A value name not used yet, derived from `hint` (names must be unique across the graph). */
  uniqueName(hint: string): string {
    const base = hint.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'v';
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}__${i}`;
    this.usedNames.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.usedNames.has(name)) throw new Error(`ONNX value name "${name}" is already used`);
    this.usedNames.add(name);
    return name;
  }

  addInput(name: string, dims: Dim[], elemType: ElemType = 'float32'): string {
    this.inputs.push(valueInfo(this.claim(name), elemType, dims));
    return name;
  }

  /** Declares an existing value as a graph output (dims undefined: let the runtime infer the shape). */
  addOutput(name: string, dims?: Dim[], elemType: ElemType = 'float32'): void {
    if (!this.usedNames.has(name)) throw new Error(`graph output "${name}" is not produced by any node`);
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** Adds a constant tensor under a fresh name derived from `hint`; returns that name. */
  addInitializer(hint: string, data: TensorData, dims: readonly number[]): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`initializer ${hint}: ${data.length} values for dims [${dims.join(',')}]`);
    const name = this.uniqueName(hint);
    this.initializers.push(
      onnx.TensorProto.create({ name, dims: [...dims], dataType: ELEM_TYPE_CODE[elemTypeOf(data)], rawData: rawBytes(data) }),
    );
    return name;
  }

  constFloat(hint: string, values: ArrayLike<number>, dims: readonly number[] = [values.length]): string {
    return this.addInitializer(hint, Float32Array.from(values), dims);
  }

  constInt64(hint: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.addInitializer(hint, BigInt64Array.from(values, (v) => BigInt(v)), dims);
  }

  /**
   * Appends a node and returns its output names. Outputs are fresh names derived from `name`
   * (or the op type), unless `outputs` gives exact names (used for graph outputs).
   * An empty string in `inputs` marks an omitted optional input.
   */
  nodeOutputs(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, AttrValue> = {},
    opts: { name?: string; outputCount?: number; outputs?: string[] } = {},
  ): string[] {
    for (const input of inputs) {
      if (input !== '' && !this.usedNames.has(input)) throw new Error(`${opType}: input "${input}" is not defined`);
    }
    const hint = opts.name ?? opType;
    const outputs = opts.outputs
      ? opts.outputs.map((o) => this.claim(o))
      : Array.from({ length: opts.outputCount ?? 1 }, (_, i) => this.uniqueName(i === 0 ? hint : `${hint}:${i}`));
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        name: this.uniqueName(`node/${hint}`),
        input: [...inputs],
        output: outputs,
        attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
      }),
    );
    return outputs;
  }

  /** Appends a single-output node and returns its output name. */
  node(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, name?: string): string {
    return this.nodeOutputs(opType, inputs, attrs, { name })[0]!;
  }

  /** Makes `value` available as a graph output called `outputName` (through an Identity node). */
  exposeAs(value: string, outputName: string, dims?: Dim[], elemType: ElemType = 'float32'): void {
    this.nodeOutputs('Identity', [value], {}, { outputs: [outputName], name: outputName });
    this.addOutput(outputName, dims, elemType);
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  toModelProto(): InstanceType<typeof onnx.ModelProto> {
    if (this.inputs.length === 0 || this.outputs.length === 0) throw new Error(`graph ${this.graphName} needs inputs and outputs`);
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: this.options.producerName ?? 'facectl',
      producerVersion: this.options.producerVersion ?? '',
      docString: this.options.docString ?? '',
      opsetImport: [{ domain: '', version: this.opset }],
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
  }

  /** The serialised model, ready for onnxruntime or a file. Deterministic for the same calls. */
  toBytes(): Uint8Array {
    return onnx.ModelProto.encode(this.toModelProto()).finish();
  }
}
