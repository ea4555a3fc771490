import { describe, expect, it } from 'vitest';
import { CLIP_OP, fuseTfPatterns } from '../../src/models/onnx/tf-fusions.js';
import type { TfNode } from '../../src/models/onnx/tf-node.js';

const n = (name: string, op: string, ...input: string[]): TfNode => ({ name, op, input });
const scalars: Record<string, number> = { zero: 0, six: 6, neg: -1 };
const scalarOf = (name: string) => scalars[name];
const isConst = (name: string) => name in scalars || name === 'gamma';
const fuse = (nodes: TfNode[]) => fuseTfPatterns(nodes, scalarOf, isConst);

describe('fuseTfPatterns', () => {
  it('turns Relu → Minimum(6) → Maximum(0) into one clip of the Relu input', () => {
    const out = fuse([n('x', 'Placeholder'), n('r', 'Relu', 'x'), n('min', 'Minimum', 'r', 'six'), n('max', 'Maximum', 'min', 'zero')]);
    expect(out[3]).toEqual({ name: 'max', op: CLIP_OP, input: ['x'], attr: { clip_min: { f: 0 }, clip_max: { f: 6 } } });
  });

  it('keeps the Relu when the lower bound is negative, and leaves shared values alone', () => {
    const negative = fuse([n('x', 'Placeholder'), n('r', 'Relu', 'x'), n('min', 'Minimum', 'six', 'r'), n('max', 'Maximum', 'neg', 'min')]);
    expect(negative[3]).toMatchObject({ op: CLIP_OP, input: ['r'] });
    const shared = [n('x', 'Placeholder'), n('min', 'Minimum', 'x', 'six'), n('max', 'Maximum', 'min', 'zero'), n('other', 'Sigmoid', 'min')];
    expect(fuse(shared)).toEqual(shared);
  });

  it('turns Max(0, x) + gamma · Min(0, x) into Prelu(x, gamma), in either operand order', () => {
    const graph = [
      n('x', 'Placeholder'),
      n('max', 'Maximum', 'zero', 'x'),
      n('min', 'Minimum', 'x', 'zero'),
      n('mul', 'Mul', 'min', 'gamma'),
      n('add', 'AddV2', 'mul', 'max'),
    ];
    expect(fuse(graph)[4]).toEqual({ name: 'add', op: 'Prelu', input: ['x', 'gamma'] });
    // Different x on the two branches is not a PReLU.
    const wrong = graph.map((node) => (node.name === 'min' ? n('min', 'Minimum', 'y', 'zero') : node));
    expect(fuse([n('y', 'Placeholder'), ...wrong])[5]!.op).toBe('AddV2');
  });
});
