/**
 * Peephole rewrites of TF.js graphs before translation, for patterns the TF export spelled out op by
 * op and onnxruntime cannot fuse once translated:
 *
 * - `Maximum(Minimum(Relu?(x), hi), lo)` (Keras ReLU6 / clip_by_value) → one clip, which onnxruntime
 *   fuses into the preceding convolution; as separate Min/Max ops they break its blocked-layout chain.
 * - `Max(0, x) + g · Min(0, x)` (MXNet-style PReLU) → `Prelu(x, g)`.
 *
 * Both are exact rewrites (same value for every finite input). Nodes the rewrite bypasses are left in
 * place and simply never reached from the outputs.
 */
import { parseInputRef, type TfNode } from './tf-node.js';

/** The synthetic op `_Clip` (attrs clip_min / clip_max) produced here; tf-ops.ts translates it. */
export const CLIP_OP = '_Clip';

/** Returns the value of a single-element Const node, or undefined. */
export type ScalarOf = (nodeName: string) => number | undefined;
/** True when the node is a Const (of any shape). */
export type IsConst = (nodeName: string) => boolean;

export function fuseTfPatterns(nodes: readonly TfNode[], scalarOf: ScalarOf, isConst: IsConst): TfNode[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const consumers = new Map<string, number>();
  for (const n of nodes) {
    for (const ref of (n.input ?? []).map(parseInputRef)) if (!ref.control) consumers.set(ref.node, (consumers.get(ref.node) ?? 0) + 1);
  }
  const dataInputs = (n: TfNode) => (n.input ?? []).map(parseInputRef).filter((r) => !r.control && r.index === 0).map((r) => r.node);
  /** The node `name` when it is an `op` consumed only once (so rewriting around it changes nothing else). */
  const soleUse = (name: string, op: string): TfNode | undefined => {
    const n = byName.get(name);
    return n && n.op === op && consumers.get(name) === 1 ? n : undefined;
  };
  /** For a binary node with one scalar-const input: [scalar, the other input]. */
  const splitScalar = (n: TfNode): [number, string] | undefined => {
    const [a, b] = dataInputs(n);
    if (a === undefined || b === undefined) return undefined;
    const sa = scalarOf(a);
    if (sa !== undefined) return [sa, b];
    const sb = scalarOf(b);
    return sb !== undefined ? [sb, a] : undefined;
  };

  const clip = (n: TfNode): TfNode | undefined => {
    const outer = splitScalar(n);
    if (!outer) return undefined;
    const [lo, inner] = outer;
    const min = soleUse(inner, 'Minimum');
    const innerSplit = min && splitScalar(min);
    if (!innerSplit) return undefined;
    const [hi, y] = innerSplit;
    if (!(lo <= hi)) return undefined;
    const relu = lo >= 0 ? soleUse(y, 'Relu') : undefined; // Relu before a clip at ≥ 0 changes nothing
    const x = relu ? dataInputs(relu)[0]! : y;
    return { name: n.name, op: CLIP_OP, input: [x], attr: { clip_min: { f: lo }, clip_max: { f: hi } } };
  };

  const prelu = (n: TfNode): TfNode | undefined => {
    const [a, b] = dataInputs(n);
    for (const [maxName, mulName] of [[a, b], [b, a]] as const) {
      const max = maxName !== undefined ? soleUse(maxName, 'Maximum') : undefined;
      const mul = mulName !== undefined ? soleUse(mulName, 'Mul') : undefined;
      const maxSplit = max && splitScalar(max);
      if (!maxSplit || maxSplit[0] !== 0 || !mul) continue;
      const x = maxSplit[1];
      const [m0, m1] = dataInputs(mul);
      for (const [gamma, minName] of [[m0, m1], [m1, m0]] as const) {
        const min = minName !== undefined ? soleUse(minName, 'Minimum') : undefined;
        const minSplit = min && splitScalar(min);
        if (gamma !== undefined && isConst(gamma) && minSplit && minSplit[0] === 0 && minSplit[1] === x) {
          return { name: n.name, op: 'Prelu', input: [x, gamma] };
        }
      }
    }
    return undefined;
  };

  return nodes.map((n) => (n.op === 'Maximum' ? clip(n) : n.op === 'AddV2' || n.op === 'Add' ? prelu(n) : undefined) ?? n);
}
