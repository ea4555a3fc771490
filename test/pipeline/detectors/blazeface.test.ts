/**
 * BlazeFace + FaceMesh behind the FaceDetector interface finds exactly what the code before the move
 * found (fixtures/blazeface-reference.json, written by commit 7740164's detector): every box, score,
 * landmark and quality number equal, bit for bit, in both modes, on groups, small, turned, rotated and
 * tight-crop photos and on one without a face.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeImageFile } from '../../../src/pipeline/decode.js';
import { loadDetector } from '../../../src/pipeline/detectors/registry.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../../helpers/shared.js';
import { REFERENCE_PHOTOS } from './fixtures/blazeface-photos.js';

const reference = JSON.parse(readFileSync(new URL('./fixtures/blazeface-reference.json', import.meta.url), 'utf8')) as Record<string, unknown>;

describe.skipIf(!hasDatasets)(`blazeface detector${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  it('is bit-identical to the pre-interface detector on real photos', async () => {
    const detector = await loadDetector('blazeface');
    expect(detector.id).toBe('blazeface');
    let faces = 0;
    for (const rel of REFERENCE_PHOTOS) {
      const image = await decodeImageFile(dataset(rel));
      for (const mode of ['fast', 'thorough'] as const) {
        const found = JSON.parse(JSON.stringify(await detector.detect(image, { mode })));
        expect(found, `${rel} ${mode}`).toEqual(reference[`${rel}|${mode}`]);
        faces += found.length;
      }
    }
    expect(faces).toBeGreaterThan(20); // the reference is not a set of empty lists
  });

  it('minScore sets the final threshold: lower finds at least as many faces, higher fewer', async () => {
    const detector = await loadDetector('blazeface');
    const image = await decodeImageFile(dataset('edge-cases/multi-face/group_1.jpg'));
    const base = await detector.detect(image, { mode: 'thorough' });
    const strict = await detector.detect(image, { mode: 'thorough', minScore: 0.97 });
    expect(strict.length).toBeLessThan(base.length);
    for (const f of strict) expect(f.score).toBeGreaterThanOrEqual(0.97);
  });
});
