import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ExitCode, FacectlError } from '../../src/errors.js';
import { quietSession } from '../../src/models/batch-check.js';
import { OnnxGraphBuilder } from '../../src/models/onnx/graph-builder.js';
import { buildToyEmbedderOnnx } from '../../src/models/onnx/toy-embedder.js';
import type { EmbedderSpec } from '../../src/models/registry.js';
import { FaceEmbedder, writeNetworkInput } from '../../src/pipeline/embedder.js';

// A 2×2 crop, HWC RGB: pixel p has channels (10p+1, 10p+2, 10p+3).
const crop = new Float32Array([1, 2, 3, 11, 12, 13, 21, 22, 23, 31, 32, 33]);
const spec = (over: Partial<EmbedderSpec>) => ({ inputSize: 2, mean: 0, std: 1, channels: 'RGB', layout: 'NHWC', ...over }) as EmbedderSpec;

describe('writeNetworkInput', () => {
  it('copies an RGB NHWC crop unchanged at the offset', () => {
    const dst = new Float32Array(13).fill(-7);
    writeNetworkInput(crop, spec({}), dst, 1);
    expect(Array.from(dst)).toEqual([-7, ...crop]);
  });

  it('mirrors left↔right', () => {
    const dst = new Float32Array(12);
    writeNetworkInput(crop, spec({}), dst, 0, true);
    expect(Array.from(dst)).toEqual([11, 12, 13, 1, 2, 3, 31, 32, 33, 21, 22, 23]);
  });

  it('normalises, swaps to BGR and lays out NCHW planes', () => {
    const dst = new Float32Array(12);
    writeNetworkInput(crop, spec({ mean: 1, std: 2, channels: 'BGR', layout: 'NCHW' }), dst, 0);
    // B plane first: (3−1)/2, (13−1)/2, ...; then G; then R.
    expect(Array.from(dst)).toEqual([1, 6, 11, 16, 0.5, 5.5, 10.5, 15.5, 0, 5, 10, 15]);
  });
});

describe('FaceEmbedder.embedCrops on a model with a fixed batch', () => {
  const toySpec = (over: Partial<EmbedderSpec>) =>
    ({ id: 'toy', inputSize: 32, mean: 127.5, std: 127.5, channels: 'RGB', layout: 'NCHW', dim: 16, flip: true, ...over }) as EmbedderSpec;
  const crops = [0, 1, 2].map((k) => Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => (Math.sin(i * 0.37 + k * 2.1) + 1) * 127.5));

  it('runs faces at its batch (last group padded): 3 faces × 2 views at batch 4 equal each face alone at batch 4', async () => {
    // mixRows would make padding rows leak into real ones; this toy keeps rows apart, at fixed batch 4.
    const session = await quietSession(buildToyEmbedderOnnx({ inputSize: 32, dim: 16, batch: 4, reshapeBatch: true }));
    const embedder = new FaceEmbedder(toySpec({ fixedBatch: 4 }), session, ort.Tensor);
    const together = await embedder.embedCrops(crops);
    expect(together).toHaveLength(3);
    for (const [i, crop] of crops.entries()) {
      const [alone] = await embedder.embedCrops([crop]);
      for (let d = 0; d < 16; d++) expect(together[i]![d]).toBeCloseTo(alone![d]!, 6);
    }
  });

  it('a model that fails to run is a model error (exit 13), not an internal error', async () => {
    const session = await quietSession(buildToyEmbedderOnnx({ inputSize: 32, dim: 16, batch: 1, reshapeBatch: true }));
    const embedder = new FaceEmbedder(toySpec({}), session, ort.Tensor); // fixedBatch not declared: 6 rows at once
    const err = await embedder.embedCrops(crops).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.MODEL_ERROR);
    expect((err as FacectlError).message).toMatch(/^model toy cannot run: Got invalid dimensions for input/);
  });

  it('an output of the wrong size is a model error too', async () => {
    const session = await quietSession(buildToyEmbedderOnnx({ inputSize: 32, dim: 8 }));
    const err = await new FaceEmbedder(toySpec({}), session, ort.Tensor).embedCrops(crops).catch((e: unknown) => e);
    expect((err as FacectlError).code).toBe(ExitCode.MODEL_ERROR);
    expect((err as FacectlError).message).toMatch(/no 16-d output for 6 faces \(it gave \[6,8\]\)/);
  });
});

describe('FaceEmbedder.embedCrops on a model whose vector has no direction', () => {
  const spec = { id: 'dark', inputSize: 8, mean: 127.5, std: 127.5, channels: 'RGB', layout: 'NCHW', dim: 4, flip: true } as EmbedderSpec;
  const grey = (level: number) => new Float32Array(8 * 8 * 3).fill(level);
  /** Channel means (−1 for a black crop, +1 for a white one) through `op`, then a positive 3×4 MatMul. */
  async function embedder(op: 'Relu' | 'Sqrt'): Promise<FaceEmbedder> {
    const b = new OnnxGraphBuilder('dark');
    b.addInput('input', ['N', 3, 8, 8]);
    const means = b.node('Flatten', [b.node('GlobalAveragePool', ['input'], {}, 'gap')], { axis: 1 }, 'flat');
    // Relu after the MatMul: a dark crop gives the zero vector. Sqrt before it: a dark crop gives NaN.
    const w = b.constFloat('w', Array.from({ length: 12 }, (_, i) => 1 + i / 12), [3, 4]);
    const out = op === 'Relu' ? b.node('Relu', [b.node('MatMul', [means, w], {}, 'fc')], {}, 'relu') : b.node('MatMul', [b.node('Sqrt', [means], {}, 'sqrt'), w], {}, 'fc');
    b.exposeAs(out, 'embedding', ['N', 4]);
    return new FaceEmbedder(spec, await quietSession(b.toBytes()), ort.Tensor);
  }

  it('a zero vector is a model error (exit 13) saying so, not a vector to store or compare', async () => {
    const e = await embedder('Relu');
    const [bright] = await e.embedCrops([grey(255)]);
    expect(Math.hypot(...bright!)).toBeCloseTo(1, 6);
    const err = await e.embedCrops([grey(255), grey(0)]).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(FacectlError);
    expect((err as FacectlError).code).toBe(ExitCode.MODEL_ERROR);
    expect((err as FacectlError).message).toBe('model dark cannot run: it produced a zero embedding vector for a face');
  });

  it('a non-finite vector is a model error too', async () => {
    const err = await (await embedder('Sqrt')).embedCrops([grey(0)]).catch((x: unknown) => x);
    expect((err as FacectlError).code).toBe(ExitCode.MODEL_ERROR);
    expect((err as FacectlError).message).toBe('model dark cannot run: it produced a non-finite embedding vector for a face');
  });
});
