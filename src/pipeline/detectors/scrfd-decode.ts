/**
 * SCRFD (insightface) output decoding: for each stride (8, 16, 32) a score per anchor, four distances
 * (left, top, right, bottom) from the anchor centre and, in the "_kps" models, five keypoint offsets —
 * all in units of the stride. Anchor centres are the cell corners (x·stride, y·stride), row-major, each
 * repeated once per anchor (two per cell), as insightface's scrfd.py lays them out. The outputs are
 * told apart by their shapes, not their (numeric, export-dependent) names.
 */
import { ModelError } from '../../errors.js';
import type { RawFace } from './raw-face.js';

export interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

export const SCRFD_STRIDES = [8, 16, 32];

/** Sort the 6 or 9 outputs into per-stride (scores, boxes, keypoints) by last dimension and anchor count. */
export function groupScrfdOutputs(outputs: readonly OutputTensor[], inputW: number, inputH: number, model = 'scrfd') {
  const byWidth = (w: number) => outputs.filter((o) => o.dims[o.dims.length - 1] === w || (w === 1 && o.dims.length === 1));
  const scores = byWidth(1), boxes = byWidth(4), kps = byWidth(10);
  if (scores.length !== 3 || boxes.length !== 3 || !(kps.length === 3 || kps.length === 0))
    throw new ModelError(model, `expected 3 score, 3 box and 3 keypoint outputs, got shapes ${JSON.stringify(outputs.map((o) => o.dims))}`);
  const anchors = (o: OutputTensor, width: number) => o.data.length / width;
  return SCRFD_STRIDES.map((stride) => {
    // A stride-s feature map has ceil(size / s) cells a side (padded convolutions), floor only for sizes s divides.
    const cells = Math.ceil(inputH / stride) * Math.ceil(inputW / stride);
    const s = scores.find((o) => anchors(o, 1) % cells === 0 && anchors(o, 1) / cells <= 3 && anchors(o, 1) >= cells);
    const perCell = s ? anchors(s, 1) / cells : 0;
    const count = cells * perCell;
    const b = boxes.find((o) => anchors(o, 4) === count);
    const k = kps.find((o) => anchors(o, 10) === count);
    if (!s || !b || (kps.length && !k)) throw new ModelError(model, `no outputs for stride ${stride} of a ${inputW}×${inputH} input`);
    return { stride, perCell, scores: s.data, boxes: b.data, kps: k?.data ?? null };
  });
}

/** Every anchor scoring at least `minScore`, as a face in input pixels (keypoints empty without a keypoint head). */
export function decodeScrfd(outputs: readonly OutputTensor[], inputW: number, inputH: number, minScore: number, model = 'scrfd'): RawFace[] {
  const faces: RawFace[] = [];
  for (const { stride, perCell, scores, boxes, kps } of groupScrfdOutputs(outputs, inputW, inputH, model)) {
    const cols = Math.ceil(inputW / stride);
    for (let i = 0; i < scores.length; i++) {
      const score = scores[i]!;
      if (!(score >= minScore)) continue; // a NaN score is no face
      const cell = Math.floor(i / perCell);
      const cx = (cell % cols) * stride, cy = Math.floor(cell / cols) * stride;
      const d = (k: number) => boxes[i * 4 + k]! * stride;
      const x1 = cx - d(0), y1 = cy - d(1), x2 = cx + d(2), y2 = cy + d(3);
      const points = kps ? Array.from({ length: 5 }, (_, p) => ({ x: cx + kps[i * 10 + 2 * p]! * stride, y: cy + kps[i * 10 + 2 * p + 1]! * stride })) : [];
      faces.push({ box: { x: x1, y: y1, width: x2 - x1, height: y2 - y1 }, score, points });
    }
  }
  return faces;
}
