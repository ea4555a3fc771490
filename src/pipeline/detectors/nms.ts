/** Box overlap and non-maximum suppression shared by the detectors. */
import type { Box, Point } from '../types.js';

export function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x), y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width), y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** Intersection area over the smaller box's area (MTCNN's "Min" NMS, nested-box removal). */
export function overlapOfSmaller(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / Math.min(a.width * a.height, b.width * b.height);
}

/**
 * Classic (hard) NMS: best score first, drop every later box overlapping a kept one by more than
 * `threshold` under `overlap` (IoU by default). Returns the kept items in score order.
 */
export function nms<T extends { box: Box; score: number }>(items: readonly T[], threshold: number, overlap: (a: Box, b: Box) => number = iou): T[] {
  const sorted = [...items].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const d of sorted) if (!kept.some((k) => overlap(k.box, d.box) > threshold)) kept.push(d);
  return kept;
}

export interface ScoredDetection {
  box: Box;
  score: number;
  keypoints: Point[];
}
