/**
 * PRelu with a constant slope rewritten as (1 − α)·Relu(x) + α·x, at session creation.
 *
 * onnxruntime's CPU provider runs its fast convolutions in a blocked channel layout (NCHWc) and fuses
 * Relu into them, but has no NCHWc PRelu: each PRelu converts the tensor back to NCHW and the next
 * convolution converts it again, and the PRelu itself runs through the generic broadcasting path. In the
 * profile of MobileFaceNet and fr_feature that was over 40 % of inference. Relu, Mul and Add by a
 * per-channel constant stay in the blocked layout. Equal within float32 rounding (one rounding of a·x for
 * x < 0 against a product and a sum).
 *
 * The file on disk is not changed: its sha256 is the model's identity in store fingerprints, and this
 * is only how onnxruntime runs it.
 */
import type { onnx as OnnxTypes } from 'onnx-proto';
import { onnx } from './proto.js';

const FLOAT = 1;

export interface PreluRewrite {
  /** The rewritten model, or the input bytes when nothing was rewritten. */
  bytes: Uint8Array;
  /** How many PRelu nodes were rewritten. */
  rewritten: number;
}

function floatValues(t: OnnxTypes.ITensorProto): Float32Array | undefined {
  if (t.dataType !== FLOAT) return undefined;
  if (t.floatData?.length) return Float32Array.from(t.floatData);
  const raw = t.rawData;
  if (!raw?.length) return undefined;
  const copy = new Uint8Array(raw); // a copy: raw may sit at an unaligned offset in the file buffer
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
}

/** True when the bytes hold a PRelu op name at all: skips decoding models that have none. */
function mayHavePrelu(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes('PRelu');
}

/**
 * Rewrites every top-level PRelu whose slope is a float initializer. Graphs with PRelu inside
 * subgraphs (If/Loop) or with a computed slope keep those nodes as they are.
 */
export function rewritePrelu(bytes: Uint8Array): PreluRewrite {
  if (!mayHavePrelu(bytes)) return { bytes, rewritten: 0 };
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  // Before opset 7, Mul and Add broadcast only with an explicit attribute (and PRelu differed).
  const opset = Number(model.opsetImport?.find((o) => !o.domain)?.version ?? 0);
  if (!graph?.node || opset < 7) return { bytes, rewritten: 0 };
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const taken = new Set<string>([...inits.keys(), ...graph.node.flatMap((n) => [...(n.output ?? []), ...(n.input ?? [])])]);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const nodes: OnnxTypes.INodeProto[] = [];
  let rewritten = 0;
  for (const n of graph.node) {
    const [x, slopeName] = n.input ?? [];
    const slopeInit = n.opType === 'PRelu' && (n.domain ?? '') === '' && slopeName ? inits.get(slopeName) : undefined;
    const slope = slopeInit && floatValues(slopeInit);
    const out = n.output?.[0];
    if (!slope || !x || !out) {
      nodes.push(n);
      continue;
    }
    const base = n.name || out;
    const keepName = fresh(`${base}/prelu_one_minus_alpha`);
    const keep = Float32Array.from(slope, (a) => 1 - a);
    graph.initializer!.push(
      onnx.TensorProto.create({ name: keepName, dataType: FLOAT, dims: slopeInit.dims, rawData: new Uint8Array(keep.buffer) }),
    );
    const positive = fresh(`${base}/prelu_relu`);
    const scaledPositive = fresh(`${base}/prelu_pos`);
    const scaledAll = fresh(`${base}/prelu_all`);
    nodes.push(
      onnx.NodeProto.create({ name: positive, opType: 'Relu', input: [x], output: [positive] }),
      onnx.NodeProto.create({ name: scaledPositive, opType: 'Mul', input: [positive, keepName], output: [scaledPositive] }),
      onnx.NodeProto.create({ name: scaledAll, opType: 'Mul', input: [x, slopeName!], output: [scaledAll] }),
      onnx.NodeProto.create({ name: fresh(`${base}/prelu`), opType: 'Add', input: [scaledPositive, scaledAll], output: [out] }),
    );
    rewritten++;
  }
  if (!rewritten) return { bytes, rewritten: 0 };
  graph.node = nodes;
  return { bytes: onnx.ModelProto.encode(model).finish(), rewritten };
}
