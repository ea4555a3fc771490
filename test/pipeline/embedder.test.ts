import { describe, expect, it } from 'vitest';
import type { EmbedderSpec } from '../../src/models/registry.js';
import { writeNetworkInput } from '../../src/pipeline/embedder.js';

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
