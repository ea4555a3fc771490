/**
 * BlazeFace + FaceMesh behind the FaceDetector interface finds exactly what the code before the move
 * found (fixtures/blazeface-reference.json, written by commit 7740164's detector): the same faces in the
 * same order, every box, score, landmark and quality number equal, in both modes, on groups, small,
 * turned, rotated and tight-crop photos and on one without a face. Equal means to 1e-5 relative (1e-4 px
 * absolute): onnxruntime picks its kernels by instruction set, so the reference, written on an AVX-512
 * machine, differs from an AVX2 machine's run in the last float bits (seen: 1e-7 relative). On the
 * machine that wrote it the run is bit-identical; any change to the detection code moves numbers by far more.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeImageFile } from '../../../src/pipeline/decode.js';
import { loadDetector } from '../../../src/pipeline/detectors/registry.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../../helpers/shared.js';
import { REFERENCE_PHOTOS } from './fixtures/blazeface-photos.js';

/** Same structure and keys; numbers equal within 1e-5 relative or 1e-4 absolute. */
function expectClose(got: unknown, want: unknown, where: string): void {
  if (typeof want === 'number') {
    expect(typeof got, where).toBe('number');
    const tol = Math.max(1e-4, 1e-5 * Math.abs(want));
    expect(Math.abs((got as number) - want), `${where}: ${String(got)} vs ${want}`).toBeLessThanOrEqual(tol);
  } else if (Array.isArray(want)) {
    expect(Array.isArray(got) && got.length, `${where}: length`).toBe(want.length);
    want.forEach((w, i) => expectClose((got as unknown[])[i], w, `${where}[${i}]`));
  } else if (want && typeof want === 'object') {
    expect(Object.keys(got as object).sort(), `${where}: keys`).toEqual(Object.keys(want).sort());
    for (const [k, w] of Object.entries(want)) expectClose((got as Record<string, unknown>)[k], w, `${where}.${k}`);
  } else expect(got, where).toEqual(want);
}

const reference = JSON.parse(readFileSync(new URL('./fixtures/blazeface-reference.json', import.meta.url), 'utf8')) as Record<string, unknown>;

describe.skipIf(!hasDatasets)(`blazeface detector${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  it('finds what the pre-interface detector found on real photos (to float rounding)', async () => {
    const detector = await loadDetector('blazeface');
    expect(detector.id).toBe('blazeface');
    let faces = 0;
    for (const rel of REFERENCE_PHOTOS) {
      const image = await decodeImageFile(dataset(rel));
      for (const mode of ['fast', 'thorough'] as const) {
        const found = JSON.parse(JSON.stringify(await detector.detect(image, { mode })));
        expect(reference[`${rel}|${mode}`], `${rel} ${mode} is in the reference`).toBeDefined();
        expectClose(found, reference[`${rel}|${mode}`], `${rel} ${mode}`);
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
