/**
 * `models add` refuses a model whose outputs cannot be embeddings (exit 13): a value that is not finite, a
 * row of zeros, or the same vector for different probe faces (an output that ignores its input). An audit
 * added such a model and `verify` said SAME 1.0000 for two different people.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { OnnxGraphBuilder } from '../../src/models/onnx/graph-builder.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'facectl-user-models-outputs-'));
const env = { FACECTL_USER_MODELS_DIR: path.join(tmp, 'user-models') };

/** input → global average → MatMul → `end` (a constant, zeros, NaN): [N, 64]. */
function model(end: 'constant' | 'zeros' | 'nan'): Uint8Array {
  const b = new OnnxGraphBuilder(end);
  b.addInput('input', ['N', 3, 112, 112]);
  const pooled = b.node('Flatten', [b.node('GlobalAveragePool', ['input'], {}, 'gap')], { axis: 1 }, 'flat');
  let y = b.node('MatMul', [pooled, b.constFloat('w', Array.from({ length: 192 }, (_, i) => Math.sin(i + 1)), [3, 64])], {}, 'fc');
  y = b.node('Mul', [y, b.constFloat('zero', [0], [])], {}, 'times_zero');
  if (end === 'constant') y = b.node('Add', [y, b.constFloat('bias', Array.from({ length: 64 }, (_, i) => Math.cos(i)), [64])], {}, 'bias');
  if (end === 'nan') y = b.node('Div', [y, b.constFloat('den', [0], [])], {}, 'zero_by_zero');
  b.exposeAs(y, 'embedding', ['N', 64]);
  return b.toBytes();
}

describe('models add refuses outputs that cannot be embeddings', () => {
  it.each([
    ['constant', /its output is the same for different faces \(it ignores its input\): not an embedding/],
    ['zeros', /its output is all zeros for a face: not an embedding/],
    ['nan', /its output holds values that are not finite numbers \(NaN or infinity\): not an embedding/],
  ] as const)('%s', (end, reason) => {
    const file = path.join(tmp, `${end}.onnx`);
    writeFileSync(file, model(end));
    const r = runCli(['models', 'add', file], env);
    expect(r.code, r.stderr).toBe(ExitCode.MODEL_ERROR);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(reason);
  });

  it('a model whose output follows its input is added', () => {
    const file = path.join(tmp, 'toy.onnx');
    writeFileSync(file, buildToyEmbedderOnnx({ inputSize: 112, dim: 64 }));
    const r = runCli(['models', 'add', file], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(runCli(['models', 'list', '--json'], env).stdout).models.map((m: { id: string }) => m.id)).not.toContain('constant');
  });
});
