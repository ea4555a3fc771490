/**
 * TF.js graph model (model.json: modelTopology.node[] + weightsManifest) → ONNX.
 * The graph keeps TF's NHWC layout and input semantics; the batch dimension becomes dynamic ('N').
 * Op translations live in onnx/tf-ops.ts; this file reads the model, walks the graph from the
 * requested outputs (unused branches are dropped) and names the ONNX inputs and outputs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { OnnxGraphBuilder, type Dim } from './onnx/graph-builder.js';
import type { Value } from './onnx/nhwc-layers.js';
import { TF_OP_HANDLERS, UnsupportedTfGraphError, type ConstValue, type TfValue } from './onnx/tf-ops.js';
import { fuseTfPatterns } from './onnx/tf-fusions.js';
import { TfAttrs, parseInputRef, type TfNode } from './onnx/tf-node.js';
import { loadWeights, type TfjsWeightsManifest, type WeightMap } from './tfjs-weights.js';

interface TfSignature {
  inputs?: Record<string, { name: string }>;
  outputs?: Record<string, { name: string }>;
}

export interface TfjsGraphModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology: { node: TfNode[] };
  weightsManifest: TfjsWeightsManifest;
  signature?: TfSignature;
  userDefinedMetadata?: { signature?: TfSignature };
}

export interface TfjsGraphConvertOptions {
  graphName?: string;
  /** ONNX name of the single graph input (default: the placeholder's name). */
  inputName?: string;
  /** TF tensors to expose, in order, with their ONNX names. Default: the signature's outputs. */
  outputs?: { tf: string; name: string }[];
  /** Adds derived values (e.g. a concatenation) before serialising; `outputs` maps ONNX output names to values. */
  extend?: (b: OnnxGraphBuilder, outputs: ReadonlyMap<string, Value>) => void;
  /** Stored in the ONNX file (provenance). */
  docString?: string;
}

export interface ConvertedGraph {
  bytes: Uint8Array;
  input: Value;
  outputs: Value[];
  nodeCount: number;
}

/** A TF shape with the dynamic batch (-1) shown as 'N'. */
export const toDims = (shape: readonly number[]): Dim[] => shape.map((d) => (d === -1 ? 'N' : d));

/** Drops the "StatefulPartitionedCall/functional_1/" noise from TF names. */
const shortName = (tfName: string): string =>
  tfName.replace(/^StatefulPartitionedCall\//, '').replace(/^(functional|model)_\d+\//, '');

const stripPort = (tensorName: string): string => parseInputRef(tensorName).node;

function defaultOutputs(model: TfjsGraphModelJson): { tf: string; name: string }[] {
  const signature = model.signature ?? model.userDefinedMetadata?.signature;
  const entries = Object.entries(signature?.outputs ?? {});
  if (entries.length) return entries.map(([key, o]) => ({ tf: o.name, name: stripPort(key).replace(/[^A-Za-z0-9_]/g, '_') }));
  // No signature: every non-constant node nothing else consumes.
  const consumed = new Set(model.modelTopology.node.flatMap((n) => (n.input ?? []).map((i) => parseInputRef(i).node)));
  return model.modelTopology.node
    .filter((n) => !consumed.has(n.name) && n.op !== 'Const')
    .map((n) => ({ tf: n.name, name: n.name.replace(/[^A-Za-z0-9_]/g, '_') }));
}

function constValue(node: TfNode, weights: WeightMap): ConstValue {
  const w = weights.get(node.name);
  if (w) return { kind: 'const', tfName: shortName(node.name), dtype: w.dtype, shape: w.shape, values: w.values };
  // Small constants can be inlined in the node instead of the weights file.
  const t = new TfAttrs(node).tensor('value');
  const shape = (t?.tensorShape?.dim ?? []).map((d) => Number(d.size));
  const count = shape.reduce((a, b) => a * b, 1);
  if (t?.dtype === 'DT_FLOAT' && t.floatVal) {
    return { kind: 'const', tfName: shortName(node.name), dtype: 'float32', shape, values: Float32Array.from({ length: count }, (_, i) => t.floatVal![Math.min(i, t.floatVal!.length - 1)]!) };
  }
  if (t?.dtype === 'DT_INT32' && t.intVal) {
    return { kind: 'const', tfName: shortName(node.name), dtype: 'int32', shape, values: Int32Array.from({ length: count }, (_, i) => t.intVal![Math.min(i, t.intVal!.length - 1)]!) };
  }
  throw new UnsupportedTfGraphError(`constant ${node.name} has no value in the weights`);
}

/** Converts a parsed graph model with its decoded weights. Throws MODEL_ERROR on anything unsupported. */
export function convertTfjsGraph(model: TfjsGraphModelJson, weights: WeightMap, options: TfjsGraphConvertOptions = {}): ConvertedGraph {
  const original = new Map(model.modelTopology.node.map((n) => [n.name, n]));
  const isConst = (name: string) => original.get(name)?.op === 'Const';
  const scalarOf = (name: string): number | undefined => {
    if (!isConst(name)) return undefined;
    const c = constValue(original.get(name)!, weights);
    return c.values.length === 1 ? c.values[0] : undefined;
  };
  const nodes = new Map(fuseTfPatterns(model.modelTopology.node, scalarOf, isConst).map((n) => [n.name, n]));
  const b = new OnnxGraphBuilder(options.graphName ?? 'tfjs-graph', {
    docString: options.docString ?? `converted from a TF.js graph model (${model.convertedBy ?? model.generatedBy ?? 'unknown source'})`,
  });
  const values = new Map<string, TfValue>();
  let graphInput: Value | undefined;

  const evaluate = (name: string, trail: Set<string>): TfValue => {
    const done = values.get(name);
    if (done) return done;
    const node = nodes.get(name);
    if (!node) throw new UnsupportedTfGraphError(`node ${name} is referenced but not defined`);
    if (trail.has(name)) throw new UnsupportedTfGraphError(`cycle through node ${name}`);
    trail.add(name);
    let value: TfValue;
    if (node.op === 'Const') {
      value = constValue(node, weights);
    } else if (node.op === 'Placeholder') {
      if (graphInput) throw new UnsupportedTfGraphError('graphs with several inputs are not supported');
      const shape = new TfAttrs(node).shape('shape');
      if (!shape || shape.slice(1).some((d) => d <= 0)) {
        throw new UnsupportedTfGraphError(`input ${name} needs a fixed shape apart from the batch (got [${shape ?? '?'}])`);
      }
      graphInput = { name: b.addInput(options.inputName ?? name, toDims([-1, ...shape.slice(1)])), shape: [-1, ...shape.slice(1)] };
      value = { kind: 'tensor', ...graphInput };
    } else {
      const handler = TF_OP_HANDLERS[node.op];
      if (!handler) throw new UnsupportedTfGraphError(`node ${name}: TF op ${node.op} is not supported`);
      const inputs = (node.input ?? [])
        .map(parseInputRef)
        .filter((ref) => !ref.control)
        .map((ref) => {
          if (ref.index !== 0) throw new UnsupportedTfGraphError(`node ${name}: multi-output producers are not supported`);
          return evaluate(ref.node, trail);
        });
      value = handler({ b, node, attrs: new TfAttrs(node), inputs, name: shortName(name) });
    }
    trail.delete(name);
    values.set(name, value);
    return value;
  };

  const exposed = new Map<string, Value>();
  for (const out of options.outputs ?? defaultOutputs(model)) {
    const value = evaluate(stripPort(out.tf), new Set());
    if (value.kind !== 'tensor') throw new UnsupportedTfGraphError(`output ${out.tf} is a constant`);
    b.exposeAs(value.name, out.name, toDims(value.shape));
    exposed.set(out.name, { name: out.name, shape: value.shape });
  }
  if (!graphInput) throw new UnsupportedTfGraphError('the outputs do not depend on any input');
  options.extend?.(b, exposed);
  return { bytes: b.toBytes(), input: graphInput, outputs: [...exposed.values()], nodeCount: b.nodeCount };
}

/** Reads model.json and its weight shards (paths relative to the json). */
export function readTfjsGraphModel(modelJsonPath: string): { model: TfjsGraphModelJson; weights: WeightMap } {
  let model: TfjsGraphModelJson;
  try {
    model = JSON.parse(readFileSync(modelJsonPath, 'utf8')) as TfjsGraphModelJson;
  } catch {
    throw new FacectlError(ExitCode.MODEL_ERROR, 'TF.js model.json missing or not JSON', modelJsonPath);
  }
  if (!Array.isArray(model.modelTopology?.node) || !Array.isArray(model.weightsManifest)) {
    throw new FacectlError(ExitCode.MODEL_ERROR, 'not a TF.js graph model (no modelTopology.node or weightsManifest)', modelJsonPath);
  }
  return { model, weights: loadWeights(model.weightsManifest, path.dirname(modelJsonPath)) };
}

/** Reads and converts a TF.js graph model file; conversion problems become MODEL_ERROR naming the file. */
export function convertTfjsGraphModelFile(modelJsonPath: string, options: TfjsGraphConvertOptions = {}): ConvertedGraph {
  const { model, weights } = readTfjsGraphModel(modelJsonPath);
  try {
    return convertTfjsGraph(model, weights, { graphName: path.basename(modelJsonPath, '.json'), ...options });
  } catch (err) {
    if (err instanceof FacectlError) throw err;
    throw new FacectlError(ExitCode.MODEL_ERROR, `cannot convert to ONNX: ${(err as Error).message}`, modelJsonPath);
  }
}
