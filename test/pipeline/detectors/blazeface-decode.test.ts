import { describe, expect, it } from 'vitest';
import { blazefaceAnchors, decodeDetections, joinBlazefaceOutputs, weightedNms } from '../../../src/pipeline/detectors/blazeface-decode.js';
import { iou } from '../../../src/pipeline/detectors/nms.js';

describe('BlazeFace decoding', () => {
  it('lays out 896 anchors for 256 input: 16×16×2 then 8×8×6', () => {
    const a = blazefaceAnchors(256);
    expect(a.length / 2).toBe(896);
    expect([a[0], a[1]]).toEqual([8, 8]);
    expect([a[2 * 512], a[2 * 512 + 1]]).toEqual([16, 16]);
  });

  it('joins four outputs by size (512 grid first) and decodes box and keypoints around the anchor', () => {
    const anchors = blazefaceAnchors(256);
    const s512 = new Float32Array(512).fill(-10), r512 = new Float32Array(512 * 16);
    const s384 = new Float32Array(384).fill(-10), r384 = new Float32Array(384 * 16);
    s384[5] = 3; // one confident anchor in the coarse grid
    r384.set([2, -1, 40, 50, 0, 0, 10, 0, 5, 5, 5, 10, -15, 0, 15, 0], 5 * 16);
    const table = joinBlazefaceOutputs([
      { data: r384, dims: [1, 384, 16] }, { data: s512, dims: [1, 512, 1] }, { data: s384, dims: [1, 384, 1] }, { data: r512, dims: [1, 512, 16] },
    ]);
    const dets = decodeDetections(table, anchors, 0.5);
    expect(dets).toHaveLength(1);
    const [ax, ay] = [anchors[2 * (512 + 5)]!, anchors[2 * (512 + 5) + 1]!];
    expect(dets[0]!.box).toEqual({ x: ax + 2 - 20, y: ay - 1 - 25, width: 40, height: 50 });
    expect(dets[0]!.keypoints[1]).toEqual({ x: ax + 10, y: ay });
    expect(dets[0]!.score).toBeCloseTo(1 / (1 + Math.exp(-3)), 6);
  });

  it('a box with no area ends weighted NMS instead of looping forever, and decoding drops such boxes', () => {
    const flat = { score: 0.9, box: { x: 10, y: 10, width: 0, height: 5 }, keypoints: [] };
    const face = { score: 0.8, box: { x: 50, y: 50, width: 20, height: 20 }, keypoints: [] };
    expect(weightedNms([face, flat], 0.3).map((d) => d.score)).toEqual([0.9, 0.8]);
    // What `detect --min-score 0` met: every anchor decoded, some with a width or height of 0 or less.
    const anchors = blazefaceAnchors(256);
    const table = new Float32Array((anchors.length / 2) * 17); // per anchor: score, box (4), 6 keypoints (12)
    for (let i = 0; i < anchors.length / 2; i++) table.set([0, 0, 0, i % 3 === 0 ? 0 : 20, i % 5 === 0 ? -4 : 20], i * 17);
    const decoded = decodeDetections(table, anchors, 0);
    expect(decoded.length).toBe(anchors.length / 2 - [...Array(anchors.length / 2).keys()].filter((i) => i % 3 === 0 || i % 5 === 0).length);
    expect(decoded.every((d) => d.box.width > 0 && d.box.height > 0)).toBe(true);
  });

  it('weighted NMS merges overlapping boxes and keeps separate faces', () => {
    const kp = Array.from({ length: 6 }, () => ({ x: 0, y: 0 }));
    const d = (x: number, score: number) => ({ box: { x, y: 0, width: 10, height: 10 }, score, keypoints: kp });
    const kept = weightedNms([d(0, 0.9), d(1, 0.6), d(50, 0.7)], 0.3);
    expect(kept).toHaveLength(2);
    expect(kept[0]!.score).toBe(0.9);
    expect(kept[0]!.box.x).toBeCloseTo(0.6 / 1.5, 6);
    expect(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 0, width: 10, height: 10 })).toBeCloseTo(50 / 150, 6);
  });
});
