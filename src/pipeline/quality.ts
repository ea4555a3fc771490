/**
 * Face quality: cheap signals that say whether an embedding can be trusted (enrollment refuses faces that
 * are too small, too blurred or too uncertain; login and eval report them).
 */
import { arcfaceTemplate } from '../models/templates.js';
import type { DetectedFace, FaceQuality } from './types.js';

/**
 * Sharpness is judged on a crop of fixed scale (the ArcFace 112 layout, eyes ≈ 35 px apart), whatever the
 * embedder: measured at the embedder's own scale, a blurred large face shrunk into the chip looks sharp.
 */
export const SHARPNESS_TEMPLATE = arcfaceTemplate(112);

/**
 * Variance of the 4-neighbour Laplacian of the luma of an HWC RGB crop, normalised by the crop's own
 * contrast so a dim photo is not mistaken for a blurred one. On SHARPNESS_TEMPLATE crops LFW's soft
 * 250×250 photos score about 0.014, sharp studio photos 0.2–0.6, a face under a 2-pixel Gaussian blur 0.003.
 */
export function sharpness(crop: Float32Array, width: number, height: number): number {
  const luma = new Float32Array(width * height);
  let mean = 0;
  for (let i = 0; i < luma.length; i++) {
    luma[i] = 0.299 * crop[3 * i]! + 0.587 * crop[3 * i + 1]! + 0.114 * crop[3 * i + 2]!;
    mean += luma[i]!;
  }
  mean /= luma.length;
  let variance = 0;
  for (const v of luma) variance += (v - mean) ** 2;
  variance /= luma.length;
  // Only the central region: the borders of a chip are background or black padding.
  const x0 = Math.floor(width * 0.2), x1 = Math.ceil(width * 0.8), y0 = Math.floor(height * 0.2), y1 = Math.ceil(height * 0.8);
  let sum = 0, sum2 = 0, n = 0;
  for (let y = Math.max(1, y0); y < Math.min(height - 1, y1); y++) {
    for (let x = Math.max(1, x0); x < Math.min(width - 1, x1); x++) {
      const i = y * width + x;
      const lap = luma[i - 1]! + luma[i + 1]! + luma[i - width]! + luma[i + width]! - 4 * luma[i]!;
      sum += lap;
      sum2 += lap * lap;
      n++;
    }
  }
  if (!n || variance <= 0) return 0;
  const lapVar = sum2 / n - (sum / n) ** 2;
  return lapVar / variance;
}

export interface QualityThresholds {
  /** Smallest inter-ocular distance in source pixels. */
  minEyeDistancePx: number;
  /** Smallest combined detector × landmark confidence. */
  minScore: number;
  /** Smallest normalised Laplacian variance (see sharpness). */
  minSharpness: number;
  /** Largest |yaw| in degrees. */
  maxYawDeg: number;
}

/** Enrollment gates: strict enough to keep bad vectors out of a gallery, loose enough for ordinary photos. */
export const ENROLL_QUALITY: QualityThresholds = { minEyeDistancePx: 20, minScore: 0.5, minSharpness: 0.004, maxYawDeg: 60 };

/** The reason a face fails the thresholds, or null when it is usable. */
export function qualityProblem(q: FaceQuality, t: QualityThresholds): string | null {
  if (q.eyeDistancePx < t.minEyeDistancePx) return `face too small (eyes ${q.eyeDistancePx.toFixed(0)} px apart, need ${t.minEyeDistancePx})`;
  if (q.score < t.minScore) return `face detected with low confidence (${q.score.toFixed(2)}, need ${t.minScore})`;
  if (q.sharpness !== undefined && q.sharpness < t.minSharpness) return `face too blurred (sharpness ${q.sharpness.toFixed(4)}, need ${t.minSharpness})`;
  if (Math.abs(q.yawDeg) > t.maxYawDeg) return `face turned too far (yaw ${q.yawDeg.toFixed(0)}°)`;
  return null;
}

export const usableFaces = <F extends DetectedFace>(faces: F[], t: QualityThresholds): F[] => faces.filter((f) => !qualityProblem(f.quality, t));
