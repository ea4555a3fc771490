/**
 * ONNX files exported with a fixed batch (PyTorch's default export: input [1,3,112,112], and a final
 * Reshape to [1, −1]) run only one face per call. This rewrites such a file so its batch is dynamic:
 * the input's and outputs' first dimension becomes `N`, and each Reshape whose constant target shape
 * starts with the fixed batch keeps the batch instead ([B, −1] → Flatten(axis 1); [B, d…] → [−1, d…]).
 * The rewrite is a guess about the graph, so the caller must prove it (batch-check.ts): the result at
 * batch K must equal the original run one batch at a time. Anything else that bakes the batch in
 * (Expand, Tile, a shape computed at run time) is not touched and shows up in that proof.
 */
import type { onnx as OnnxTypes } from 'onnx-proto';
import { onnx } from './proto.js';

type Model = OnnxTypes.IModelProto;
type Graph = OnnxTypes.IGraphProto;

export type FreeBatchResult =
  | { kind: 'dynamic' }
  | { kind: 'rewritten'; fixedBatch: number; bytes: Uint8Array; changes: string[] }
  | { kind: 'unsupported'; fixedBatch: number; reason: string };

const INT64 = 7;

const num = (v: unknown): number => (v === null || v === undefined ? 0 : typeof v === 'number' ? v : Number(String(v)));

/** The graph's real inputs: old exporters also list every initializer as an input. */
export function dataInputs(graph: Graph): OnnxTypes.IValueInfoProto[] {
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  return (graph.input ?? []).filter((i) => !inits.has(i.name));
}

/** The first dimension of the single data input when it is a fixed number, else null. */
export function fixedBatchOf(model: Model): number | null {
  const [input] = dataInputs(model.graph!);
  const dim = input?.type?.tensorType?.shape?.dim?.[0];
  if (!dim || dim.dimParam) return null;
  const b = num(dim.dimValue);
  return b > 0 ? b : null;
}

function int64Values(t: OnnxTypes.ITensorProto): number[] | undefined {
  if (t.dataType !== INT64) return undefined;
  if (t.int64Data?.length) return t.int64Data.map(num);
  const raw = t.rawData;
  if (!raw?.length) return [];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Array.from({ length: raw.byteLength / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true)));
}

function int64Tensor(name: string, values: number[]): OnnxTypes.ITensorProto {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return onnx.TensorProto.create({ name, dataType: INT64, dims: [values.length], rawData: raw });
}

/** Constant int64 values of a tensor name: an initializer or a Constant node's output. */
function constantInts(graph: Graph, name: string): number[] | undefined {
  const init = graph.initializer?.find((t) => t.name === name);
  if (init) return int64Values(init);
  const node = graph.node?.find((n) => n.opType === 'Constant' && n.output?.[0] === name);
  const value = node?.attribute?.find((a) => a.name === 'value')?.t;
  return value ? int64Values(value) : undefined;
}

function setFirstDim(dims: { dimParam?: string | null; dimValue?: unknown }[] | null | undefined, batch: number): boolean {
  const d = dims?.[0];
  if (!d || d.dimParam || num(d.dimValue) !== batch) return false;
  dims[0] = onnx.TensorShapeProto.Dimension.create({ dimParam: 'N' });
  return true;
}

export function freeBatch(bytes: Uint8Array): FreeBatchResult {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  const nodes = (graph.node ??= []);
  const initializers = (graph.initializer ??= []);
  const batch = fixedBatchOf(model);
  if (batch === null) return { kind: 'dynamic' };
  const changes: string[] = [];
  for (const input of dataInputs(graph)) if (setFirstDim(input.type?.tensorType?.shape?.dim, batch)) changes.push(`input ${input.name}: batch ${batch} → N`);
  for (const output of graph.output ?? []) if (setFirstDim(output.type?.tensorType?.shape?.dim, batch)) changes.push(`output ${output.name}: batch ${batch} → N`);
  // Intermediate shapes recorded by the exporter would contradict the new batch; they are only hints.
  graph.valueInfo = [];

  const orphans = new Set<string>();
  for (const [i, node] of nodes.entries()) {
    const inputs = node.input ?? [];
    if (node.opType !== 'Reshape' || inputs.length < 2) continue;
    const shape = constantInts(graph, inputs[1]!);
    if (!shape || shape[0] !== batch) continue;
    const rest = shape.slice(1);
    if (rest.length === 1 && rest[0] === -1) {
      nodes[i] = onnx.NodeProto.create({
        name: node.name,
        opType: 'Flatten',
        input: [inputs[0]!],
        output: node.output,
        attribute: [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 })],
      });
      orphans.add(inputs[1]!);
      changes.push(`Reshape ${node.name} [${shape}] → Flatten(axis 1)`);
    } else if (rest.every((d) => d > 0)) {
      const name = `${node.name || `reshape${i}`}/batch_free_shape`;
      initializers.push(int64Tensor(name, [-1, ...rest]));
      orphans.add(inputs[1]!);
      inputs[1] = name;
      changes.push(`Reshape ${node.name} [${shape}] → [-1,${rest}]`);
    } else {
      return { kind: 'unsupported', fixedBatch: batch, reason: `Reshape ${node.name || i} to [${shape}] fixes the batch inside the graph` };
    }
  }
  // A replaced shape constant nobody else reads would make onnxruntime warn about it at every load.
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  graph.initializer = initializers.filter((t) => !orphans.has(t.name!) || used.has(t.name!));
  return { kind: 'rewritten', fixedBatch: batch, bytes: onnx.ModelProto.encode(model).finish(), changes };
}
