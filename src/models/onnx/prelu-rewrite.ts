/**
 * PRelu with a constant slope rewritten, at session creation, into ops onnxruntime's fast convolution
 * layout keeps.
 *
 * onnxruntime's CPU provider runs its fast convolutions in a blocked channel layout (NCHWc) and fuses
 * Relu into them, but has no NCHWc PRelu: each PRelu converts the tensor back to NCHW and the next
 * convolution converts it again, and the PRelu itself runs through the generic broadcasting path. In the
 * profile of MobileFaceNet and fr_feature that was over 40 % of inference. Relu, Mul and Add by a
 * per-channel constant stay in the blocked layout (onnxruntime runs each Mul as a 1×1 depthwise
 * convolution and fuses the Add into it). Two forms, the same function within float32 rounding:
 *
 * - folded, when every reader of the PRelu is a convolution (perhaps behind a Transpose) and no slope is
 *   1: PRelu(y) = s ⊙ (Relu(y) + m ⊙ y) with s = 1 − α and m = α / s, s moved into the readers' weights
 *   (prelu-fold.ts). Relu, one Mul, one Add.
 * - split, anywhere else: (1 − α) ⊙ Relu(y) + α ⊙ y. Relu, two Muls, one Add.
 *
 * The file on disk is not changed: its sha256 is the model's identity in store fingerprints, and this
 * is only how onnxruntime runs it. Rewrites are kept on disk (prelu-cache.ts): bump
 * PRELU_REWRITE_VERSION there whenever this output changes.
 */
import type { onnx as OnnxTypes } from 'onnx-proto';
import { convTargets, floatValues, indexGraph, scaleConvInputs } from './prelu-fold.js';
import { mayHavePrelu } from './prelu-scan.js';
import { onnx } from './proto.js';

const FLOAT = 1;
/**
 * |1 − α| below this would make m = α / (1 − α) huge (the error stays relative to the output, but m·y
 * could overflow for large activations): that PRelu takes the split form. A slope of exactly 1 must.
 */
const MIN_KEEP = 1e-6;

export interface PreluRewriteOptions {
  /** Fold the per-channel factor into the next convolutions where possible (default true). */
  fold?: boolean;
}

export interface PreluRewrite {
  /** The rewritten model, or the input bytes when nothing was rewritten. */
  bytes: Uint8Array;
  /** How many PRelu nodes were rewritten. */
  rewritten: number;
  /** How many of them in the folded form (the rest split). */
  folded: number;
}

/**
 * Rewrites every top-level PRelu whose slope is a float initializer. Graphs with PRelu inside
 * subgraphs (If/Loop) or with a computed slope keep those nodes as they are.
 */
export function rewritePrelu(bytes: Uint8Array, options: PreluRewriteOptions = {}): PreluRewrite {
  const none = { bytes, rewritten: 0, folded: 0 };
  if (!mayHavePrelu(bytes)) return none;
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  // Before opset 7, Mul and Add broadcast only with an explicit attribute (and PRelu differed).
  const opset = Number(model.opsetImport?.find((o) => !o.domain)?.version ?? 0);
  if (!graph?.node || opset < 7) return none;
  const index = indexGraph(graph);
  const taken = new Set<string>([...index.inits.keys(), ...graph.node.flatMap((n) => [...(n.output ?? []), ...(n.input ?? [])])]);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const constant = (name: string, like: OnnxTypes.ITensorProto, values: Float32Array): string => {
    const tensor = onnx.TensorProto.create({ name: fresh(name), dataType: FLOAT, dims: like.dims, rawData: new Uint8Array(values.buffer) });
    graph.initializer!.push(tensor);
    return tensor.name;
  };
  const nodes: OnnxTypes.INodeProto[] = [];
  let [rewritten, folded] = [0, 0];
  for (const n of graph.node) {
    const [x, slopeName] = n.input ?? [];
    const slopeInit = n.opType === 'PRelu' && (n.domain ?? '') === '' && slopeName ? index.inits.get(slopeName) : undefined;
    const slope = slopeInit && floatValues(slopeInit);
    const out = n.output?.[0];
    if (!slope || !x || !out) {
      nodes.push(n);
      continue;
    }
    const base = n.name || out;
    const keep = Float32Array.from(slope, (a) => 1 - a);
    const targets = options.fold !== false && keep.every((s) => Math.abs(s) >= MIN_KEEP) ? convTargets(index, out, slopeInit.dims!.map(Number)) : undefined;
    const positive = fresh(`${base}/prelu_relu`);
    nodes.push(onnx.NodeProto.create({ name: positive, opType: 'Relu', input: [x], output: [positive] }));
    if (targets) {
      scaleConvInputs(graph, index, targets, keep, fresh);
      const m = constant(`${base}/prelu_alpha_over_keep`, slopeInit, Float32Array.from(slope, (a, c) => a / keep[c]!));
      const scaledAll = fresh(`${base}/prelu_all`);
      nodes.push(
        onnx.NodeProto.create({ name: scaledAll, opType: 'Mul', input: [x, m], output: [scaledAll] }),
        onnx.NodeProto.create({ name: fresh(`${base}/prelu`), opType: 'Add', input: [scaledAll, positive], output: [out] }),
      );
      index.initUses.set(slopeName!, (index.initUses.get(slopeName!) ?? 1) - 1);
      folded++;
    } else {
      const keepName = constant(`${base}/prelu_one_minus_alpha`, slopeInit, keep);
      const scaledPositive = fresh(`${base}/prelu_pos`);
      const scaledAll = fresh(`${base}/prelu_all`);
      nodes.push(
        onnx.NodeProto.create({ name: scaledPositive, opType: 'Mul', input: [positive, keepName], output: [scaledPositive] }),
        onnx.NodeProto.create({ name: scaledAll, opType: 'Mul', input: [x, slopeName!], output: [scaledAll] }),
        onnx.NodeProto.create({ name: fresh(`${base}/prelu`), opType: 'Add', input: [scaledPositive, scaledAll], output: [out] }),
      );
    }
    rewritten++;
  }
  if (!rewritten) return none;
  graph.node = nodes;
  // Slopes no node reads any more (folded) go, unless the graph also lists them as inputs (old IR).
  const inputs = new Set((graph.input ?? []).map((i) => i.name));
  graph.initializer = graph.initializer!.filter((t) => index.initUses.get(t.name ?? '') !== 0 || inputs.has(t.name));
  return { bytes: onnx.ModelProto.encode(model).finish(), rewritten, folded };
}
