/**
 * Freeing a fixed batch (onnx/free-batch.ts) and the proof that it changed nothing (batch-check.ts), on
 * toy embedders shaped like the exports met in practice: PyTorch's [1,3,112,112] input with a final
 * Reshape [1, −1], TFLite-style batch 2, a graph that mixes the faces of one call (cannot be freed), and a
 * Reshape to [1, −1, 8] (not rewritten).
 */
import { describe, expect, it } from 'vitest';
import { proveBatchRewrite, quietSession, tryRun } from '../../src/models/batch-check.js';
import { OnnxGraphBuilder } from '../../src/models/onnx/graph-builder.js';
import { freeBatch } from '../../src/models/onnx/free-batch.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';

const NCHW = [3, 32, 32];
const toy = (batch: 'dynamic' | number, extra: { reshapeBatch?: boolean; mixRows?: boolean } = {}) =>
  buildToyEmbedderOnnx({ inputSize: 32, dim: 16, layout: 'NCHW', batch, ...extra });

describe('freeBatch', () => {
  it('leaves a dynamic-batch model alone', () => {
    expect(freeBatch(toy('dynamic')).kind).toBe('dynamic');
  });

  it('PyTorch-style batch 1 with Reshape [1, −1]: input, output and the Reshape freed; proved equal', async () => {
    const original = toy(1, { reshapeBatch: true });
    await expect(tryRun(original, 3, NCHW)).rejects.toThrow(); // the file itself refuses 3 faces
    const r = freeBatch(original);
    if (r.kind !== 'rewritten') throw new Error(r.kind);
    expect(r.fixedBatch).toBe(1);
    expect(r.changes.join('; ')).toMatch(/input input: batch 1 → N.*output embedding: batch 1 → N.*Flatten/);
    const session = await quietSession(r.bytes);
    expect(session.inputMetadata[0]!.isTensor && session.inputMetadata[0]!.shape[0]).toBe('N');
    expect(await tryRun(r.bytes, 3, NCHW)).toEqual([[3, 16]]);
    const proof = await proveBatchRewrite(original, r.bytes, 1, NCHW);
    expect(proof.equal).toBe(true);
    expect(proof.maxRelativeError).toBeLessThanOrEqual(1e-5);
  });

  it('batch 2 (as MobileFaceNet.tflite): [2, −1] freed; proof pads the odd face', async () => {
    const original = toy(2, { reshapeBatch: true });
    const r = freeBatch(original);
    if (r.kind !== 'rewritten') throw new Error(r.kind);
    const proof = await proveBatchRewrite(original, r.bytes, 2, NCHW);
    expect(proof.rows % 2).toBe(1);
    expect(proof.equal).toBe(true);
  });

  it('a large fixed batch (256 faces × 1024-d per run of the original) is proved too', async () => {
    const original = buildToyEmbedderOnnx({ inputSize: 8, dim: 1024, layout: 'NCHW', batch: 256, reshapeBatch: true });
    const r = freeBatch(original);
    if (r.kind !== 'rewritten') throw new Error(r.kind);
    expect((await proveBatchRewrite(original, r.bytes, 256, [3, 8, 8])).equal).toBe(true);
  });

  it('a graph that mixes the faces of one call is rewritten but the proof says not equal', async () => {
    const original = toy(1, { mixRows: true });
    const r = freeBatch(original);
    if (r.kind !== 'rewritten') throw new Error(r.kind);
    const proof = await proveBatchRewrite(original, r.bytes, 1, NCHW);
    expect(proof.equal).toBe(false);
    expect(proof.maxRelativeError).toBeGreaterThan(1e-3);
  });

  it('a Reshape that keeps the batch with other free dimensions ([1, −1, 8]) is reported, not guessed', () => {
    const b = new OnnxGraphBuilder('reshape-3d');
    b.addInput('input', [1, 16]);
    b.exposeAs(b.node('Reshape', ['input', b.constInt64('shape', [1, -1, 8], [3])], {}, 'r'), 'out', [1, 2, 8]);
    const r = freeBatch(b.toBytes());
    expect(r.kind).toBe('unsupported');
    if (r.kind === 'unsupported') expect(r.reason).toMatch(/Reshape \S*r to \[1,-1,8\] fixes the batch/);
  });
});
