import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import { rowCosines } from './compare.js';
import { createSession } from './session.js';

describe('buildToyEmbedderOnnx', () => {
  it('is an ArcFace-shaped NCHW embedder: [N,3,112,112] → [N,512], dynamic batch', async () => {
    const session = await createSession(buildToyEmbedderOnnx({ inputSize: 112, dim: 512, layout: 'NCHW' }));
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['embedding']);
    const per = 3 * 112 * 112;
    const x = Float32Array.from({ length: 3 * per }, (_, i) => ((i * 7919) % 256) - (i < per ? 0 : i < 2 * per ? 40 : 90));
    const out = (await session.run({ input: new ort.Tensor('float32', x, [3, 3, 112, 112]) })).embedding!;
    expect(out.dims).toEqual([3, 512]);
    const e = out.data as Float32Array;
    expect(e.every(Number.isFinite)).toBe(true);
    // Different images give different embeddings.
    const [c01] = rowCosines(e.subarray(0, 512), e.subarray(512, 1024), 512);
    expect(c01).toBeLessThan(0.9999);
  });

  it('is deterministic per seed and honours the options', async () => {
    const a = buildToyEmbedderOnnx({ seed: 7 });
    expect(Buffer.from(a).equals(Buffer.from(buildToyEmbedderOnnx({ seed: 7 })))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(buildToyEmbedderOnnx({ seed: 8 })))).toBe(false);
    const session = await createSession(
      buildToyEmbedderOnnx({ inputSize: 96, dim: 128, layout: 'NHWC', batch: 1, inputName: 'data', outputName: 'fc1' }),
    );
    const input = session.inputMetadata[0] as { name: string; shape?: (number | string)[] };
    expect(input.name).toBe('data');
    expect(input.shape).toEqual([1, 96, 96, 3]);
    const out = (await session.run({ data: new ort.Tensor('float32', new Float32Array(96 * 96 * 3).fill(100), [1, 96, 96, 3]) })).fc1!;
    expect(out.dims).toEqual([1, 128]);
  });
});
