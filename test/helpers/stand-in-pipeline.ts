/**
 * A stand-in FacePipeline for enroll and bulk-import tests that need no model: every file shows one
 * usable face, whose embedding is a unit vector seeded by the file's sha256 (so the same bytes give the
 * same face, and different photos different people), labelled with the toy model of test/gallery/contract.ts.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ExitCode, FacectlError } from '../../src/errors.js';
import type { FacePipeline } from '../../src/pipeline/pipeline.js';
import { MODEL, newFace, unitVectors } from '../gallery/contract.js';

const template = newFace('x', new Float32Array(MODEL.dimension));

export function standInPipeline(): FacePipeline {
  return {
    embedderInfo: { spec: { id: MODEL.id, dim: MODEL.dimension, thresholds: { login: { value: 0.4, provenance: 'test' } } }, fingerprint: 'toy', detector: 'blazeface' },
    decode: async (file: string) => {
      const bytes = await readFile(file).catch(() => {
        throw new FacectlError(ExitCode.NOT_FOUND, 'no such file', file);
      });
      return { width: 200, height: 200, data: new Uint8Array(200 * 200 * 3), sha256: createHash('sha256').update(bytes).digest('hex'), format: 'jpeg' };
    },
    detect: async () => [{ box: { x: 50, y: 50, width: 100, height: 100 }, score: 0.95, landmarks: [], quality: template.quality }],
    embed: async (image: { sha256: string }, faces: object[]) =>
      faces.map((f) => ({ ...f, embedding: unitVectors(1, MODEL.dimension, parseInt(image.sha256.slice(0, 8), 16))[0]! })),
  } as unknown as FacePipeline;
}
