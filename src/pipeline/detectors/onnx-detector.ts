/**
 * User ONNX detectors registered with `facectl models add`: SCRFD and YOLOv5-face files, recognised by
 * their outputs (src/models/model-router.ts). The photo is scaled to fit the model's input (top-left,
 * padded, as insightface does), normalised the way each family was trained, decoded (scrfd-decode.ts,
 * yolo5face-decode.ts), suppressed (NMS) and mapped back to image pixels.
 */
import ort from 'onnxruntime-node';
import type { UserDetectorSpec } from '../../models/user-models.js';
import { verifyUserModelFile } from '../../models/user-models.js';
import { warpAffine } from '../align.js';
import { headPose } from '../landmarks.js';
import { getSession, runSession } from '../runtime.js';
import { StageTimer } from '../timing.js';
import type { DetectedFace, FivePoints, RgbImage } from '../types.js';
import { nms } from './nms.js';
import type { RawFace } from './raw-face.js';
import { decodeScrfd, type OutputTensor } from './scrfd-decode.js';
import { DEFAULT_DETECT_OPTIONS, type DetectOptions, type FaceDetector } from './types.js';
import { decodeYolo5Face } from './yolo5face-decode.js';

/** Per family: input normalisation, default thresholds (the reference code's), decoder. */
const FAMILIES = {
  // insightface scrfd.py: blobFromImage(1/128, mean 127.5, swapRB), det_thresh 0.5, nms 0.4
  scrfd: { mean: 127.5, std: 128, minScore: 0.5, nmsIou: 0.4, decode: (o: OutputTensor[], w: number, h: number, min: number, id: string) => decodeScrfd(o, w, h, min, id) },
  // yolov5-face detect_face.py: RGB / 255, conf 0.3 … 0.6 (0.5 here), iou 0.5
  'yolov5-face': { mean: 0, std: 255, minScore: 0.5, nmsIou: 0.5, decode: (o: OutputTensor[], _w: number, _h: number, min: number, id: string) => decodeYolo5Face(o[0]!, min, id) },
} as const;

export type DetectorFamily = keyof typeof FAMILIES;

/** Faces in input pixels from one run's outputs (in the model's output order); ModelError when they fit no layout of the family. */
export function decodeDetectorOutputs(family: DetectorFamily, outputs: OutputTensor[], inputW: number, inputH: number, id: string, minScore: number = FAMILIES[family].minScore): RawFace[] {
  return FAMILIES[family].decode(outputs, inputW, inputH, minScore, id);
}

export async function loadUserDetector(spec: UserDetectorSpec): Promise<OnnxFaceDetector> {
  const file = await verifyUserModelFile(spec);
  return new OnnxFaceDetector(await getSession(file.path), spec, `${spec.id}:${file.sha256.slice(0, 16)}`);
}

export class OnnxFaceDetector implements FaceDetector {
  readonly id: string;

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly spec: Pick<UserDetectorSpec, 'id' | 'family' | 'inputWidth' | 'inputHeight'>,
    readonly identity: string,
  ) {
    this.id = spec.id;
  }

  async detect(image: RgbImage, options: Partial<DetectOptions> = {}, timer = new StageTimer()): Promise<DetectedFace[]> {
    const opt = { ...DEFAULT_DETECT_OPTIONS, ...options };
    const family = FAMILIES[this.spec.family];
    const { inputWidth: w, inputHeight: h } = this.spec;
    const s = Math.min(w / image.width, h / image.height);
    const raw = await timer.time('detect', async () => {
      const hwc = warpAffine(image, { a: s, b: 0, tx: 0, ty: 0 }, w, h, { scale: 1 / family.std, bias: -family.mean / family.std });
      const planes = new Float32Array(3 * w * h);
      for (let p = 0; p < w * h; p++) for (let c = 0; c < 3; c++) planes[c * w * h + p] = hwc[3 * p + c]!;
      const out = await runSession(this.session, { [this.session.inputNames[0]!]: new ort.Tensor('float32', planes, [1, 3, h, w]) }, this.id);
      const tensors = this.session.outputNames.map((n) => ({ data: out[n]!.data as Float32Array, dims: out[n]!.dims }));
      return decodeDetectorOutputs(this.spec.family, tensors, w, h, this.id, opt.minScore ?? family.minScore);
    });
    return nms(strongest(raw.filter(usable), PRE_NMS_TOP_K), family.nmsIou)
      .map((f) => toImage(f, s))
      .sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height)
      .slice(0, opt.maxFaces);
  }
}

/**
 * Candidates NMS looks at, best score first (insightface's pre-NMS top-k, YOLOv5's max_det): NMS is
 * quadratic, and a user's model may output a million boxes (a 553-byte file kept `detect` busy for minutes).
 * Real detectors' candidates above the score threshold are far fewer (YOLOv5-face has 25,200 anchors in all).
 */
export const PRE_NMS_TOP_K = 5000;

/** The `k` best-scoring faces (all of them when there are fewer), in score order. */
const strongest = (faces: RawFace[], k: number): RawFace[] => (faces.length <= k ? faces : [...faces].sort((a, b) => b.score - a.score).slice(0, k));

/**
 * A face alignment and the store can take (a user's model may give anything): a finite score, a finite box of
 * positive width and height (a NaN box made `enroll` an internal error; a negative one was stored), and five
 * finite points that do not all coincide.
 */
function usable(f: RawFace): boolean {
  const { x, y, width, height } = f.box;
  if (!Number.isFinite(f.score) || ![x, y, width, height].every(Number.isFinite) || !(width > 0 && height > 0)) return false;
  if (f.points.length !== 5 || !f.points.every((p) => Number.isFinite(p.x) && Number.isFinite(p.y))) return false;
  return f.points.some((p) => p.x !== f.points[0]!.x || p.y !== f.points[0]!.y);
}

function toImage(f: RawFace, s: number): DetectedFace {
  const box = { x: f.box.x / s, y: f.box.y / s, width: f.box.width / s, height: f.box.height / s };
  const landmarks = f.points.map((p) => ({ x: p.x / s, y: p.y / s })) as FivePoints;
  const pose = headPose(landmarks);
  return {
    box,
    score: f.score,
    landmarks,
    quality: { score: f.score, eyeDistancePx: pose.eyeDistancePx, sizePx: Math.max(box.width, box.height), rollDeg: pose.rollDeg, yawDeg: pose.yawDeg },
  };
}
