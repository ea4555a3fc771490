/**
 * cluster's groups do not depend on the order the photos are given in: Chinese whispers visits faces in a
 * seeded order drawn over their positions, so clusterPhotos clusters them in one canonical order (real
 * path, then face number). Twelve synthetic faces of three "people" (noisy copies of three directions)
 * that gave other groups when the photos were given in reverse order.
 */
import { describe, expect, it } from 'vitest';
import { clusterPhotos } from '../../src/app/cluster.js';
import type { FacePipeline } from '../../src/pipeline/pipeline.js';

const DIM = 8;
/** The vectors: a small LCG, seed 12, three bases, each face = base + uniform noise (±0.6), unit length. */
function faceVectors(): Float32Array[] {
  let s = 12;
  const r = () => ((s = (s * 1103515245 + 12345) % 2147483648), s / 2147483648);
  const bases = Array.from({ length: 3 }, () => Array.from({ length: DIM }, () => r() - 0.5));
  return Array.from({ length: 12 }, (_, i) => {
    const v = bases[i % 3]!.map((x) => x + (r() - 0.5) * 1.2);
    const norm = Math.hypot(...v);
    return Float32Array.from(v, (x) => x / norm);
  });
}

const vectors = faceVectors();
const files = vectors.map((_, i) => `/nonexistent/facectl-order/f${String(i).padStart(2, '0')}.jpg`);
const pipeline = {
  embedderInfo: { spec: { id: 'toy', dim: DIM, thresholds: { login: { value: 0.6, provenance: 'test' } } } },
  processFile: async (file: string) => ({
    faces: [
      {
        box: { x: 0, y: 0, width: 100, height: 100 },
        score: 0.99,
        quality: { eyeDistancePx: 40, score: 0.99, yawDeg: 0 },
        embedding: vectors[files.indexOf(file)]!,
      },
    ],
  }),
} as unknown as FacePipeline;

const groupsOf = async (order: string[]) =>
  (await clusterPhotos(pipeline, order)).groups
    .map((g) => g.map((f) => files.indexOf(f.file)).sort((a, b) => a - b).join(','))
    .sort();

describe('clusterPhotos', () => {
  it('gives the same groups whatever the order of the photos', async () => {
    const forward = await groupsOf(files);
    expect(await groupsOf([...files].reverse())).toEqual(forward);
    expect(await groupsOf([...files.slice(6), ...files.slice(0, 6)])).toEqual(forward);
  });
});
