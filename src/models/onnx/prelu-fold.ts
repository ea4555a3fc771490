/**
 * Where a PRelu's per-channel factor can go: into the input channels of the convolutions that read its
 * output. A convolution is linear in its input and pads with zeros, so conv(s ⊙ z) equals conv′(z) whose
 * weights for input channel c are multiplied by s_c (the bias is added after and stays as it is).
 *
 * Used by prelu-rewrite.ts to run PRelu(y) = s ⊙ (Relu(y) + m ⊙ y), s = 1 − α, m = α / (1 − α), with s
 * moved into the next convolutions: one per-channel multiply fewer per PRelu.
 */
import type { onnx as OnnxTypes } from 'onnx-proto';

type Node = OnnxTypes.INodeProto;
type Tensor = OnnxTypes.ITensorProto;

const FLOAT = 1;

/** A tensor's float values (a copy), or undefined for other types and data held outside the model. */
export function floatValues(t: Tensor): Float32Array | undefined {
  if (t.dataType !== FLOAT || t.dataLocation === 1) return undefined;
  if (t.floatData?.length) return Float32Array.from(t.floatData);
  const raw = t.rawData;
  if (!raw?.length) return undefined;
  const copy = new Uint8Array(raw); // a copy: raw may sit at an unaligned offset in the file buffer
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
}

/** The graph seen from its tensors: who reads each one, and what is an initializer. */
export interface GraphIndex {
  readers: Map<string, Node[]>;
  inits: Map<string, Tensor>;
  /** How many node inputs name each initializer (one copy may serve several convolutions). */
  initUses: Map<string, number>;
  graphOutputs: Set<string>;
}

export function indexGraph(graph: OnnxTypes.IGraphProto): GraphIndex {
  const readers = new Map<string, Node[]>();
  const initUses = new Map<string, number>();
  for (const n of graph.node ?? [])
    for (const i of n.input ?? []) {
      readers.set(i, [...(readers.get(i) ?? []), n]);
      initUses.set(i, (initUses.get(i) ?? 0) + 1);
    }
  return {
    readers,
    inits: new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t])),
    initUses,
    graphOutputs: new Set((graph.output ?? []).map((o) => o.name ?? '')),
  };
}

const intAttr = (n: Node, name: string): number | undefined => {
  const a = n.attribute?.find((x) => x.name === name);
  return a?.i === undefined || a.i === null ? undefined : Number(a.i);
};

/** A convolution that reads the PRelu's output (perhaps through a Transpose) as its data input. */
export interface ConvTarget {
  conv: Node;
  weights: Float32Array;
  dims: number[];
  group: number;
}

/**
 * The convolutions to fold a per-channel factor into, or undefined when the PRelu's output has any
 * other reader, is a graph output, or its channel axis is not the convolutions' channel axis.
 *
 * @param slopeDims the slope's shape: channels along one axis, right-aligned against the data (ONNX
 *   broadcasting); [C] on NHWC data reaches the convolutions through a Transpose to NCHW.
 */
export function convTargets(index: GraphIndex, output: string, slopeDims: readonly number[]): ConvTarget[] | undefined {
  const channels = slopeDims.reduce((a, d) => a * d, 1);
  const slopeAxis = slopeDims.findIndex((d) => d !== 1); // from the left of the slope's own dims
  // Which axis of a rank-R tensor holds the channels; any axis will do for one shared slope.
  const matches = (axisOf: (rank: number) => number, rank: number): boolean =>
    channels === 1 || axisOf(rank) === rank - slopeDims.length + slopeAxis;
  const targets: ConvTarget[] = [];
  const addConv = (conv: Node, value: string, axisOf: (rank: number) => number): boolean => {
    const [x, w, ...rest] = conv.input ?? [];
    if (conv.opType !== 'Conv' || (conv.domain ?? '') !== '' || x !== value || !w || rest.includes(value)) return false;
    const init = index.inits.get(w);
    const weights = init && floatValues(init);
    const dims = init?.dims?.map(Number) ?? [];
    const group = intAttr(conv, 'group') ?? 1;
    if (!weights || dims.length < 3 || !matches(axisOf, dims.length)) return false;
    if (channels !== 1 && dims[1]! * group !== channels) return false;
    targets.push({ conv, weights, dims, group });
    return true;
  };
  if (index.graphOutputs.has(output)) return undefined;
  for (const reader of index.readers.get(output) ?? []) {
    if (reader.opType === 'Transpose' && (reader.domain ?? '') === '') {
      const t = reader.output?.[0];
      const perm = reader.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number);
      const after = t ? (index.readers.get(t) ?? []) : [];
      if (!t || !perm || index.graphOutputs.has(t) || !after.length) return undefined;
      // The convolution's channel axis 1 is axis perm[1] of the PRelu's output.
      if (!after.every((c) => addConv(c, t, (rank) => (rank === perm.length ? perm[1]! : -1)))) return undefined;
    } else if (!addConv(reader, output, () => 1)) return undefined;
  }
  return targets.length ? targets : undefined;
}

/**
 * Multiplies each target's weights for input channel c by scale[c] (one value: all channels), in
 * place when the weight tensor serves only that convolution, else into a fresh copy of its own.
 */
export function scaleConvInputs(
  graph: OnnxTypes.IGraphProto,
  index: GraphIndex,
  targets: readonly ConvTarget[],
  scale: Float32Array,
  freshName: (base: string) => string,
): void {
  for (const { conv, weights, dims, group } of targets) {
    const [outChannels, perGroup] = [dims[0]!, dims[1]!];
    const spatial = dims.slice(2).reduce((a, d) => a * d, 1);
    const outPerGroup = outChannels / group;
    for (let o = 0; o < outChannels; o++)
      for (let j = 0; j < perGroup; j++) {
        const s = scale.length === 1 ? scale[0]! : scale[Math.floor(o / outPerGroup) * perGroup + j]!;
        const at = (o * perGroup + j) * spatial;
        for (let k = 0; k < spatial; k++) weights[at + k]! *= s;
      }
    const name = conv.input![1]!;
    const bytes = new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
    const uses = index.initUses.get(name) ?? 0;
    if (uses <= 1) {
      const init = index.inits.get(name)!;
      init.floatData = [];
      init.rawData = bytes;
    } else {
      const fresh = freshName(`${name}/prelu_scaled`);
      const copy = { name: fresh, dataType: FLOAT, dims, rawData: bytes } as Tensor;
      graph.initializer!.push(copy);
      index.inits.set(fresh, copy);
      index.initUses.set(fresh, 1);
      index.initUses.set(name, uses - 1);
      conv.input![1] = fresh;
    }
  }
}
