/**
 * Commands that go through many photos (enroll and its bulk import, index rebuild --reembed, cluster)
 * record a photo's own failure and go on, but a model that cannot run stops them with its error (exit 13):
 * it is no fault of the photo, and recorded as one it would be skipped, or with --drop-missing deleted.
 * The pipeline is a stand-in whose detector finds one face and whose embedder fails.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterPhotos } from '../../src/app/cluster.js';
import { runDemo } from '../../src/app/demo.js';
import { embedEnrollPhoto } from '../../src/app/enroll.js';
import { rebuild } from '../../src/app/rebuild.js';
import { ExitCode, FacectlError, ModelError } from '../../src/errors.js';
import { FilesGallery } from '../../src/gallery/files.js';
import type { FacePipeline } from '../../src/pipeline/pipeline.js';
import { MODEL, newFace, unitVectors } from '../gallery/contract.js';

const face = newFace('alice', unitVectors(1)[0]!);
const failure = () => new ModelError('toy', 'it produced a zero embedding vector for a face');

/** `embedFails`: the embedder throws a ModelError; otherwise the detector finds no face. */
const pipeline = (embedFails: boolean) =>
  ({
    // The store's model (contract.ts MODEL), so that without the check rebuild would commit the dropped row.
    embedderInfo: { spec: { id: MODEL.id, dim: MODEL.dimension, thresholds: { login: { value: 0.4, provenance: 'test' } } }, fingerprint: 'toy', detector: 'blazeface' },
    decode: async () => ({ width: 200, height: 200, data: new Uint8Array(200 * 200 * 3), sha256: face.imageSha256, format: 'jpeg' }),
    detect: async () => (embedFails ? [{ box: face.box, score: 0.95, landmarks: [], quality: face.quality }] : []),
    embed: async () => {
      throw failure();
    },
    processFile: async (file: string) => {
      if (embedFails) throw failure();
      throw new FacectlError(ExitCode.NO_FACE, 'no face found', file);
    },
  }) as unknown as FacePipeline;

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => null, (e: unknown) => e);
}

describe('a model failure stops a many-photo command; a photo failure is recorded', () => {
  it('enroll (and bulk import): the photo without a face is a problem, the model failure is thrown', async () => {
    expect(await embedEnrollPhoto(pipeline(false), 'a.jpg', 'single')).toMatchObject({ file: 'a.jpg', code: ExitCode.NO_FACE });
    expect(await rejection(embedEnrollPhoto(pipeline(true), 'a.jpg', 'single'))).toBeInstanceOf(ModelError);
  });

  it('index rebuild --reembed --drop-missing: a model failure keeps the row instead of dropping it', async () => {
    const gallery = FilesGallery.open(path.join(mkdtempSync(path.join(os.tmpdir(), 'facectl-model-errors-')), 'store'));
    await gallery.mutate((d) => d.addFaces(MODEL, [face]));
    const options = { reembed: true, dropMissing: true, photosRoot: '/', fixPaths: false, index: 'flat' as const };
    const err = await rejection(rebuild(pipeline(true), gallery, options));
    expect((await gallery.rows()).map((r) => r.id)).toEqual(['alice']);
    expect(err).toBeInstanceOf(ModelError);
  });

  it('demo: a model failure ends it with that error, in detection or in enrolling, instead of "no face could be enrolled"', async () => {
    const detectFails = { ...pipeline(false), detect: async () => Promise.reject(failure()) } as unknown as FacePipeline;
    expect(await rejection(runDemo(detectFails, ['a.jpg', 'b.jpg']))).toBeInstanceOf(ModelError);
    expect(await rejection(runDemo(pipeline(true), ['a.jpg', 'b.jpg']))).toBeInstanceOf(ModelError);
    // A photo's own failure is a photo left out: with no face anywhere, the demo ends with exit 4.
    expect(await rejection(runDemo(pipeline(false), ['a.jpg', 'b.jpg']))).toMatchObject({ code: ExitCode.NO_FACE });
  });

  it('cluster: the photo without a face is skipped, the model failure is thrown', async () => {
    expect((await clusterPhotos(pipeline(false), ['a.jpg'])).skipped).toMatchObject([{ file: 'a.jpg', code: ExitCode.NO_FACE }]);
    expect(await rejection(clusterPhotos(pipeline(true), ['a.jpg']))).toBeInstanceOf(ModelError);
  });
});
