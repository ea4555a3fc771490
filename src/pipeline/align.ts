/**
 * Alignment geometry: a least-squares similarity transform from detected landmarks to an embedder's
 * template, and a bilinear warp that produces the embedder's input crop. Coordinates follow the OpenCV
 * convention (pixel (i, j) sits at x = i, y = j), the one the ArcFace and dlib templates were made with.
 * The template itself belongs to the embedder (see src/models/registry.ts), never to this file.
 */
import type { Point, RgbImage } from './types.js';

/** x' = a·x − b·y + tx ; y' = b·x + a·y + ty (rotation + uniform scale + translation). */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

export interface AlignTemplate {
  /** Output crop size in pixels. */
  width: number;
  height: number;
  /** Where each of the five landmarks (FivePoints order) lands in the crop. */
  points: readonly (readonly [number, number])[];
}

/**
 * Umeyama's closed form for the similarity that maps `from` onto `to` with least squared error
 * (what skimage's SimilarityTransform.estimate computes for insightface's norm_crop).
 */
export function estimateSimilarity(from: readonly Point[], to: readonly Point[]): Similarity {
  const n = from.length;
  if (n < 2 || n !== to.length) throw new Error('estimateSimilarity needs two equal lists of at least 2 points');
  let fx = 0, fy = 0, gx = 0, gy = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i]!.x; fy += from[i]!.y; gx += to[i]!.x; gy += to[i]!.y;
  }
  fx /= n; fy /= n; gx /= n; gy /= n;
  // Σ over points of (to−ḡ)·(from−f̄) in complex form gives the optimal rotation·scale directly.
  let sxx = 0, sxy = 0, varFrom = 0;
  for (let i = 0; i < n; i++) {
    const px = from[i]!.x - fx, py = from[i]!.y - fy;
    const qx = to[i]!.x - gx, qy = to[i]!.y - gy;
    sxx += px * qx + py * qy;
    sxy += px * qy - py * qx;
    varFrom += px * px + py * py;
  }
  if (varFrom === 0) throw new Error('estimateSimilarity: source points coincide');
  const a = sxx / varFrom;
  const b = sxy / varFrom;
  return { a, b, tx: gx - (a * fx - b * fy), ty: gy - (b * fx + a * fy) };
}

export function applySimilarity(t: Similarity, p: Point): Point {
  return { x: t.a * p.x - t.b * p.y + t.tx, y: t.b * p.x + t.a * p.y + t.ty };
}

export function invertSimilarity(t: Similarity): Similarity {
  const d = t.a * t.a + t.b * t.b;
  const a = t.a / d, b = -t.b / d;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}

/** Scale factor of a similarity (output pixels per input pixel). */
export const similarityScale = (t: Similarity): number => Math.hypot(t.a, t.b);

/**
 * Where and how a warp writes: into `dst` at `offset` (default: a new array), each value mapped to
 * `value · scale + bias` (default 0..255 unchanged). Models want −1..1 or 0..1 input; doing it here saves
 * a second pass over every pixel and a temporary array.
 */
export interface WarpOutput {
  dst?: Float32Array;
  offset?: number;
  scale?: number;
  bias?: number;
}

/**
 * Warp `image` into a width×height crop through `toCrop` (source → crop), bilinear, black outside.
 * Returns interleaved RGB float32 (HWC), 0..255 unless `output` rescales it, ready for an NHWC model input.
 * When the crop shrinks the face by more than 2× the source is box-filtered first, so a large face
 * is not aliased into a speckled chip (dlib's extract_image_chip does the same with a pyramid).
 */
export function warpAffine(image: RgbImage, toCrop: Similarity, width: number, height: number, output: WarpOutput = {}): Float32Array {
  const shrink = 1 / similarityScale(toCrop);
  if (shrink >= 2) {
    const factor = Math.floor(shrink);
    const small = boxDownsample(image, factor, cropBounds(toCrop, width, height, image));
    const scaled: Similarity = { a: toCrop.a * factor, b: toCrop.b * factor, tx: 0, ty: 0 };
    // Source pixel p maps to small pixel (p − origin − (factor−1)/2) / factor.
    const offX = small.originX + (factor - 1) / 2, offY = small.originY + (factor - 1) / 2;
    scaled.tx = toCrop.a * offX - toCrop.b * offY + toCrop.tx;
    scaled.ty = toCrop.b * offX + toCrop.a * offY + toCrop.ty;
    return warpBilinear(small.image, scaled, width, height, output);
  }
  return warpBilinear(image, toCrop, width, height, output);
}

/**
 * Bilinear resampling, black outside the image. Written for V8: one monomorphic Uint8Array source,
 * the source position advanced incrementally, and a branch-free 4-tap path for interior pixels.
 */
function warpBilinear(image: RgbImage, toCrop: Similarity, width: number, height: number, output: WarpOutput): Float32Array {
  const inv = invertSimilarity(toCrop);
  const out = output.dst ?? new Float32Array(width * height * 3);
  const base = output.offset ?? 0, scale = output.scale ?? 1, bias = output.bias ?? 0;
  const data = image.data, W = image.width, H = image.height, stride = W * 3;
  for (let v = 0; v < height; v++) {
    let sx = -inv.b * v + inv.tx;
    let sy = inv.a * v + inv.ty;
    for (let u = 0, o = base + v * width * 3; u < width; u++, o += 3, sx += inv.a, sy += inv.b) {
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {
        const i = y0 * stride + x0 * 3, j = i + stride;
        const w00 = (1 - fx) * (1 - fy) * scale, w01 = fx * (1 - fy) * scale, w10 = (1 - fx) * fy * scale, w11 = fx * fy * scale;
        out[o] = w00 * data[i]! + w01 * data[i + 3]! + w10 * data[j]! + w11 * data[j + 3]! + bias;
        out[o + 1] = w00 * data[i + 1]! + w01 * data[i + 4]! + w10 * data[j + 1]! + w11 * data[j + 4]! + bias;
        out[o + 2] = w00 * data[i + 2]! + w01 * data[i + 5]! + w10 * data[j + 2]! + w11 * data[j + 5]! + bias;
        continue;
      }
      let r = 0, g = 0, b = 0;
      if (x0 >= -1 && y0 >= -1 && x0 < W && y0 < H) {
        // Border pixels: only the taps that fall inside the image contribute.
        for (let dy = 0; dy < 2; dy++) {
          const y = y0 + dy;
          if (y < 0 || y >= H) continue;
          const wy = dy ? fy : 1 - fy;
          for (let dx = 0; dx < 2; dx++) {
            const x = x0 + dx;
            if (x < 0 || x >= W) continue;
            const w = wy * (dx ? fx : 1 - fx), i = y * stride + x * 3;
            r += w * data[i]!;
            g += w * data[i + 1]!;
            b += w * data[i + 2]!;
          }
        }
      }
      out[o] = r * scale + bias;
      out[o + 1] = g * scale + bias;
      out[o + 2] = b * scale + bias;
    }
  }
  return out;
}

interface Bounds { x0: number; y0: number; x1: number; y1: number }

/** Source-image rectangle (clipped, with a margin) that the crop reads from. */
function cropBounds(toCrop: Similarity, width: number, height: number, image: RgbImage): Bounds {
  const inv = invertSimilarity(toCrop);
  const corners = [[0, 0], [width, 0], [0, height], [width, height]].map(([u, v]) => applySimilarity(inv, { x: u!, y: v! }));
  const margin = 2 / similarityScale(toCrop);
  const xs = corners.map((c) => c.x), ys = corners.map((c) => c.y);
  return {
    x0: Math.max(0, Math.floor(Math.min(...xs) - margin)),
    y0: Math.max(0, Math.floor(Math.min(...ys) - margin)),
    x1: Math.min(image.width, Math.ceil(Math.max(...xs) + margin)),
    y1: Math.min(image.height, Math.ceil(Math.max(...ys) + margin)),
  };
}

/**
 * Average factor×factor blocks of the given region (rows summed first, then columns: one pass over the
 * source); returns the small image and its source origin. Results are rounded to 8 bits (≤ 0.5 level).
 */
function boxDownsample(image: RgbImage, factor: number, r: Bounds): { image: RgbImage; originX: number; originY: number } {
  const w = Math.max(1, Math.floor((r.x1 - r.x0) / factor));
  const h = Math.max(1, Math.floor((r.y1 - r.y0) / factor));
  const data = new Uint8Array(w * h * 3);
  const src = image.data, stride = image.width * 3;
  const rowSum = new Float64Array(w * 3);
  for (let y = 0; y < h; y++) {
    rowSum.fill(0);
    const yStart = r.y0 + y * factor, yEnd = Math.min(image.height, yStart + factor);
    for (let sy = yStart; sy < yEnd; sy++) {
      let i = sy * stride + r.x0 * 3;
      for (let x = 0; x < w; x++) {
        let s0 = 0, s1 = 0, s2 = 0;
        for (let dx = 0; dx < factor; dx++, i += 3) {
          s0 += src[i]!; s1 += src[i + 1]!; s2 += src[i + 2]!;
        }
        rowSum[3 * x] += s0; rowSum[3 * x + 1] += s1; rowSum[3 * x + 2] += s2;
      }
    }
    const count = factor * (yEnd - yStart);
    const o = y * w * 3;
    for (let k = 0; k < w * 3; k++) data[o + k] = Math.round(rowSum[k]! / count);
  }
  return { image: { data, width: w, height: h }, originX: r.x0, originY: r.y0 };
}

/** Similarity taking five landmarks onto a template's points. */
export function templateTransform(landmarks: readonly Point[], template: AlignTemplate): Similarity {
  return estimateSimilarity(landmarks, template.points.map(([x, y]) => ({ x, y })));
}

/** The full align stage: landmarks → template crop (HWC float RGB 0..255). */
export function alignFace(image: RgbImage, landmarks: readonly Point[], template: AlignTemplate): Float32Array {
  return warpAffine(image, templateTransform(landmarks, template), template.width, template.height);
}
