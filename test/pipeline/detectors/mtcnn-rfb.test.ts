/**
 * The MTCNN and RFB-320 built-ins: their decoders on hand-computed tensors, then both detectors on real
 * photos against BlazeFace (the tested default): the same faces, landmarks within a few pixels, nothing
 * on photos without a face.
 */
import { describe, expect, it } from 'vitest';
import { decodeImageFile } from '../../../src/pipeline/decode.js';
import { pnetCandidates, pyramidScales, regress, square } from '../../../src/pipeline/detectors/mtcnn-decode.js';
import { iou } from '../../../src/pipeline/detectors/nms.js';
import { decodeRfb, fivePointsFrom68 } from '../../../src/pipeline/detectors/rfb320.js';
import { loadDetector } from '../../../src/pipeline/detectors/registry.js';
import type { DetectedFace } from '../../../src/pipeline/types.js';
import { SKIP_NO_DATA, dataset, hasDatasets } from '../../helpers/shared.js';

describe('MTCNN decoding', () => {
  it('pyramid: 12/minFace first, ×0.709 while the shorter side stays ≥ 12 px', () => {
    const s = pyramidScales(100, 60, 20);
    expect(s[0]).toBeCloseTo(0.6, 12);
    expect(s).toHaveLength(4); // shorter side 36, 25.5, 18.1, 12.8 px; 9.1 stops
  });

  it('P-Net cells (transposed [x][y] maps) → boxes in image pixels, regressed and squared', () => {
    const w = 2, h = 3;
    const prob = new Float32Array(w * h * 2), reg = new Float32Array(w * h * 4);
    prob[(1 * h + 2) * 2 + 1] = 0.9; // cell x = 1, y = 2
    prob[(0 * h + 0) * 2 + 1] = 0.5; // below the threshold
    reg.set([0.1, 0.2, -0.1, 0], (1 * h + 2) * 4);
    const [c, ...rest] = pnetCandidates(prob, reg, w, h, 0.5, 0.6);
    expect(rest).toHaveLength(0);
    expect(c).toMatchObject({ x1: 4, y1: 8, x2: 28, y2: 32 });
    expect(c!.score).toBeCloseTo(0.9, 6);
    const r = regress(c!);
    expect([r.x1, r.y1, r.x2, r.y2].map((v) => +v.toFixed(6))).toEqual([6.4, 12.8, 25.6, 32]);
    const sq = square({ ...r, x2: r.x2 + 4.8 }); // 24 × 19.2 → 24 × 24 around the centre
    expect([sq.x1, sq.y1, sq.x2, sq.y2].map((v) => +v.toFixed(6))).toEqual([6.4, 10.4, 30.4, 34.4]);
  });
});

describe('RFB-320 decoding', () => {
  it('corner boxes in 0..1 of the input → image pixels through the letterbox; threshold; NMS 0.4', () => {
    const scores = new Float32Array(4420 * 2), boxes = new Float32Array(4420 * 4);
    const put = (i: number, score: number, b: number[]) => ((scores[2 * i + 1] = score), boxes.set(b, 4 * i));
    put(7, 0.9, [0.25, 0.5, 0.5, 1]);
    put(8, 0.8, [0.26, 0.5, 0.51, 1]); // the same face, weaker: suppressed
    put(9, 0.5, [0, 0, 0.1, 0.1]); // below 0.65
    put(10, 0.7, [0.75, 0, 0.875, 0.25]);
    const found = decodeRfb(scores, boxes, { a: 0.5, b: 0, tx: 10, ty: 0 }, 0.65);
    expect(found).toHaveLength(2);
    expect(found[0]!.box).toEqual({ x: 140, y: 240, width: 160, height: 240 });
    expect(found[1]!.box).toEqual({ x: 460, y: 0, width: 80, height: 120 });
    expect(() => decodeRfb(new Float32Array(10), boxes, { a: 1, b: 0, tx: 0, ty: 0 }, 0.5)).toThrow(/4420 priors/);
  });

  it('68 points → eye centres, nose tip, mouth corners', () => {
    const p = Array.from({ length: 68 }, (_, i) => ({ x: i, y: 100 + i }));
    expect(fivePointsFrom68(p)).toEqual([{ x: 38.5, y: 138.5 }, { x: 44.5, y: 144.5 }, { x: 30, y: 130 }, { x: 48, y: 148 }, { x: 54, y: 154 }]);
  });
});

describe.skipIf(!hasDatasets)(`MTCNN and RFB-320 on real photos${hasDatasets ? '' : ` (${SKIP_NO_DATA})`}`, () => {
  /**
   * Every face of `reference` has a face in `found` with IoU ≥ 0.4 and each of the five points within a
   * quarter of the eye distance (the models place points differently on turned faces: 0.23 on one here).
   */
  function expectSameFaces(found: DetectedFace[], reference: DetectedFace[], label: string) {
    for (const ref of reference) {
      const match = found.find((f) => iou(f.box, ref.box) >= 0.4);
      expect(match, `${label}: no face at ${JSON.stringify(ref.box)}`).toBeDefined();
      const eyes = ref.quality.eyeDistancePx;
      for (let k = 0; k < 5; k++) {
        const d = Math.hypot(match!.landmarks[k]!.x - ref.landmarks[k]!.x, match!.landmarks[k]!.y - ref.landmarks[k]!.y);
        expect(d, `${label}: landmark ${k}`).toBeLessThan(0.25 * eyes);
      }
    }
  }

  for (const id of ['mtcnn', 'rfb320']) {
    it(`${id}: the faces BlazeFace finds, with landmarks in the same order and place; none on landscapes`, async () => {
      const [detector, blazeface] = await Promise.all([loadDetector(id), loadDetector('blazeface')]);
      expect(detector.id).toBe(id);
      for (const rel of ['edge-cases/multi-face/obama_and_biden.jpg', 'face-recognition-examples/barack_obama/obama.jpg', 'edge-cases/multi-face/two_people.jpg']) {
        const image = await decodeImageFile(dataset(rel));
        const found = await detector.detect(image, { mode: 'thorough' });
        expectSameFaces(found, await blazeface.detect(image, { mode: 'thorough' }), `${id} ${rel}`);
        for (const f of found) {
          expect(f.landmarks[0].x).toBeLessThan(f.landmarks[1].x); // image-left eye first
          expect(f.landmarks[3].x).toBeLessThan(f.landmarks[4].x);
          expect(f.score).toBeGreaterThan(0);
          expect(f.score).toBeLessThanOrEqual(1);
        }
      }
      // Not the cat photos: RFB-320 takes a cat's face for a face at 0.96 (bench:detectors counts it).
      for (const rel of ['edge-cases/no-face/park.jpg', 'edge-cases/no-face/view.jpg']) expect(await detector.detect(await decodeImageFile(dataset(rel))), rel).toEqual([]);
    });
  }
});
