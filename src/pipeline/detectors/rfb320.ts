/**
 * The Ultra-Light-Fast RFB-320 detector shipped as faceplugin-face-recognition-js's fr_detect.onnx, with
 * five points from the package's 68-point model (fr_landmark.onnx). The ONNX graph decodes its 4,420
 * priors itself (its `boxes` are corners in 0..1 of the 320×240 input; lib/fr_detect.js uses them as they
 * are, its own prior decoding is dead code), scores are softmaxed. Input: RGB (pixel − 127) / 128, NCHW.
 */
import ort from 'onnxruntime-node';
import { ModelError } from '../../errors.js';
import { resolveBuiltin } from '../../models/resolve.js';
import { warpAffine, type Similarity } from '../align.js';
import { headPose } from '../landmarks.js';
import { getSession, runSession } from '../runtime.js';
import { StageTimer } from '../timing.js';
import type { Box, DetectedFace, FivePoints, Point, RgbImage } from '../types.js';
import { nms } from './nms.js';
import { DEFAULT_DETECT_OPTIONS, type DetectOptions, type FaceDetector } from './types.js';

const INPUT_W = 320, INPUT_H = 240, PRIORS = 4420;
const LANDMARK_INPUT = 64;
/** lib/fr_detect.js: confidence 0.65, NMS 0.4. */
export const RFB_MIN_SCORE = 0.65;
const NMS_IOU = 0.4;

export async function loadRfb320(): Promise<Rfb320Detector> {
  const [det, marks] = await Promise.all([resolveBuiltin('rfb320'), resolveBuiltin('fr-landmark')]);
  const [detSession, markSession] = await Promise.all([getSession(det.path), getSession(marks.path, { autoThreads: 1 })]);
  return new Rfb320Detector(detSession, markSession);
}

/** NHWC RGB crop → NCHW planes. */
function toPlanes(hwc: Float32Array, w: number, h: number): Float32Array {
  const plane = w * h, out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[c * plane + p] = hwc[p * 3 + c]!;
  return out;
}

/** Raw detections → boxes in image pixels (`toView` maps image → 320×240 input), score-thresholded, NMS'd. */
export function decodeRfb(scores: Float32Array, boxes: Float32Array, toView: Similarity, minScore: number): { box: Box; score: number }[] {
  if (scores.length !== PRIORS * 2 || boxes.length !== PRIORS * 4)
    throw new ModelError('rfb320', `expected ${PRIORS} priors, got scores of ${scores.length / 2} and boxes of ${boxes.length / 4}`);
  const found: { box: Box; score: number }[] = [];
  for (let i = 0; i < PRIORS; i++) {
    const score = scores[2 * i + 1]!;
    if (score < minScore) continue;
    const x1 = (boxes[4 * i]! * INPUT_W - toView.tx) / toView.a, y1 = (boxes[4 * i + 1]! * INPUT_H - toView.ty) / toView.a;
    const x2 = (boxes[4 * i + 2]! * INPUT_W - toView.tx) / toView.a, y2 = (boxes[4 * i + 3]! * INPUT_H - toView.ty) / toView.a;
    if (x2 > x1 && y2 > y1) found.push({ box: { x: x1, y: y1, width: x2 - x1, height: y2 - y1 }, score });
  }
  return nms(found, NMS_IOU);
}

/**
 * iBUG 68 points → the five in FivePoints order: eye centres (points 36–41 are the image-left eye,
 * 42–47 the image-right one), nose tip (30), mouth corners (48, 54).
 */
export function fivePointsFrom68(p: readonly Point[]): FivePoints {
  const mean = (from: number, to: number): Point => {
    let x = 0, y = 0;
    for (let i = from; i <= to; i++) (x += p[i]!.x), (y += p[i]!.y);
    return { x: x / (to - from + 1), y: y / (to - from + 1) };
  };
  return [mean(36, 41), mean(42, 47), p[30]!, p[48]!, p[54]!];
}

export class Rfb320Detector implements FaceDetector {
  readonly id = 'rfb320';
  readonly identity = 'rfb320';

  constructor(
    private readonly detector: ort.InferenceSession,
    private readonly landmarker: ort.InferenceSession,
  ) {}

  async detect(image: RgbImage, options: Partial<DetectOptions> = {}, timer = new StageTimer()): Promise<DetectedFace[]> {
    const opt = { ...DEFAULT_DETECT_OPTIONS, ...options };
    // Letterboxed rather than stretched to 4:3 as lib/fr_detect.js does, so faces keep their shape.
    const s = Math.min(INPUT_W / image.width, INPUT_H / image.height);
    const toView: Similarity = { a: s, b: 0, tx: (INPUT_W - s * image.width) / 2, ty: (INPUT_H - s * image.height) / 2 };
    const found = await timer.time('detect', async () => {
      const hwc = warpAffine(image, toView, INPUT_W, INPUT_H, { scale: 1 / 128, bias: -127 / 128 });
      const feeds = { [this.detector.inputNames[0]!]: new ort.Tensor('float32', toPlanes(hwc, INPUT_W, INPUT_H), [1, 3, INPUT_H, INPUT_W]) };
      const out = await runSession(this.detector, feeds, 'rfb320');
      if (!out.scores || !out.boxes) throw new ModelError('rfb320', `expected outputs scores and boxes, got ${Object.keys(out).join(', ')}`);
      return decodeRfb(out.scores.data as Float32Array, out.boxes.data as Float32Array, toView, opt.minScore ?? RFB_MIN_SCORE);
    });
    found.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
    const faces: DetectedFace[] = [];
    for (const d of found.slice(0, opt.maxFaces)) faces.push(await timer.time('landmarks', () => this.landmarks(image, d.box, d.score)));
    return faces;
  }

  /** 68 points on a 64×64 grey crop of the box made square (lib/fr_landmark.js), reduced to five. */
  private async landmarks(image: RgbImage, box: Box, score: number): Promise<DetectedFace> {
    const side = box.height; // lib/fr_detect.js squares the box on its height, centred
    const x0 = box.x + box.width / 2 - side / 2, y0 = box.y;
    const a = LANDMARK_INPUT / side;
    const rgb = warpAffine(image, { a, b: 0, tx: -a * x0, ty: -a * y0 }, LANDMARK_INPUT, LANDMARK_INPUT);
    const grey = new Float32Array(LANDMARK_INPUT * LANDMARK_INPUT);
    for (let p = 0; p < grey.length; p++) grey[p] = (0.299 * rgb[3 * p]! + 0.587 * rgb[3 * p + 1]! + 0.114 * rgb[3 * p + 2]!) / 256;
    const feeds = { [this.landmarker.inputNames[0]!]: new ort.Tensor('float32', grey, [1, 1, LANDMARK_INPUT, LANDMARK_INPUT]) };
    const out = Object.values(await runSession(this.landmarker, feeds, 'fr-landmark'))[0];
    if (!out || out.data.length !== 136) throw new ModelError('fr-landmark', `expected 136 values, got ${out?.data.length ?? 0}`);
    const v = out.data as Float32Array;
    const points = Array.from({ length: 68 }, (_, i) => ({ x: x0 + v[2 * i]! * side, y: y0 + v[2 * i + 1]! * side }));
    const landmarks = fivePointsFrom68(points);
    const pose = headPose(landmarks);
    return {
      box,
      score,
      landmarks,
      quality: { score, eyeDistancePx: pose.eyeDistancePx, sizePx: Math.max(box.width, box.height), rollDeg: pose.rollDeg, yawDeg: pose.yawDeg },
    };
  }
}
