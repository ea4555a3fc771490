/**
 * The default detector: BlazeFace proposes faces, FaceMesh confirms and refines them into five landmarks.
 * BlazeFace sees a fixed 256×256 view, so faces of any size in photos of any size are handled with
 * several views of the same image: the whole photo (letterboxed), overlapping tiles for small faces in
 * large photos, and a zoomed-out view with a border for tight crops where the face fills the frame.
 */
import ort from 'onnxruntime-node';
import { ModelError } from '../../errors.js';
import { getBuiltinModel } from '../../models/builtin.js';
import { LANDMARKER } from '../../models/registry.js';
import { resolveBuiltin } from '../../models/resolve.js';
import { applySimilarity, invertSimilarity, warpAffine, type Similarity } from '../align.js';
import { MESH_INPUT, MESH_POINTS, fivePointsFromMesh, headPose, meshBox, meshCrop, meshToImage } from '../landmarks.js';
import { getSession, runSession } from '../runtime.js';
import { StageTimer } from '../timing.js';
import type { DetectedFace, RgbImage } from '../types.js';
import { blazefaceAnchors, decodeDetections, joinBlazefaceOutputs, weightedNms, type RawDetection } from './blazeface-decode.js';
import { iou, overlapOfSmaller } from './nms.js';
import { DEFAULT_DETECT_OPTIONS, type DetectOptions, type FaceDetector } from './types.js';

/** BlazeFace + FaceMesh thresholds: each model's own, and the one on the combined score. */
export interface BlazeFaceThresholds {
  /** BlazeFace score threshold 0..1. */
  minProposalScore: number;
  /** FaceMesh face-presence threshold 0..1 (rejects detector false positives). */
  minMeshScore: number;
  /** Threshold on the final score √(detector × mesh): both models must be fairly sure. */
  minFaceScore: number;
}

/**
 * Tuned on real photos: every face of the 7,701 LFW photos in pairs.txt but 2 scores ≥ 0.65, while the
 * one false positive left in ../shared/datasets/edge-cases (a building, expression/happy.jpg) scores 0.57.
 */
export const BLAZEFACE_THRESHOLDS: BlazeFaceThresholds = { minProposalScore: 0.35, minMeshScore: 0.5, minFaceScore: 0.6 };

const IOU_MERGE = 0.3;

/** The BlazeFace models as built-in detectors: the 256×256 back-camera one (default) and the 128×128 front one. */
export type BlazeFaceModelId = 'blazeface' | 'blazeface-front';

/** A BlazeFace detector with FaceMesh refining its boxes; sessions are shared per process. */
export async function loadBlazeFace(modelId: BlazeFaceModelId = 'blazeface'): Promise<BlazeFaceDetector> {
  const [det, mesh] = await Promise.all([resolveBuiltin(modelId), resolveBuiltin(LANDMARKER.builtin)]);
  const [detSession, meshSession] = await Promise.all([getSession(det.path), getSession(mesh.path)]);
  const inputSize = Number(getBuiltinModel(modelId).input.dims[1]); // NHWC [N, size, size, 3]
  return new BlazeFaceDetector(detSession, meshSession, ort.Tensor, inputSize, modelId);
}

/** A 256×256 view of the image: `toView` maps image pixels into it. */
interface View {
  toView: Similarity;
}

export class BlazeFaceDetector implements FaceDetector {
  readonly inputSize: number;
  readonly identity: string;
  private readonly anchors: Float32Array;

  constructor(
    private readonly detectorSession: ort.InferenceSession,
    private readonly meshSession: ort.InferenceSession,
    private readonly ortTensor: typeof ort.Tensor,
    inputSize = 256,
    readonly id: string = 'blazeface',
  ) {
    this.inputSize = inputSize;
    this.identity = id;
    this.anchors = blazefaceAnchors(inputSize);
  }

  /**
   * `minScore` sets the final-score threshold; BlazeFace then proposes at least as low, since the final
   * score is √(detector × mesh).
   */
  async detect(image: RgbImage, options: Partial<DetectOptions> = {}, timer = new StageTimer()): Promise<DetectedFace[]> {
    const opt = { ...DEFAULT_DETECT_OPTIONS, ...options };
    const t = { ...BLAZEFACE_THRESHOLDS };
    if (opt.minScore !== undefined) {
      t.minFaceScore = opt.minScore;
      t.minProposalScore = Math.min(opt.minScore, BLAZEFACE_THRESHOLDS.minProposalScore);
    }
    const size = this.inputSize;
    const propose = (views: View[]) => timer.time('detect', () => this.propose(image, views, t.minProposalScore));
    const whole = [letterboxView(image, size)];
    let proposals: RawDetection[];
    if (opt.mode === 'thorough') {
      proposals = await propose([...whole, ...tileViews(image, size)]);
      if (!proposals.length) proposals = await propose(zoomOutViews(image, size));
    } else {
      proposals = await propose(whole);
      if (!proposals.length) proposals = await propose([...zoomOutViews(image, size), ...tileViews(image, size)]);
    }
    proposals.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
    const refine = (p: RawDetection[], minMesh: number) =>
      timer.time('landmarks', () => this.refine(image, p.slice(0, opt.maxFaces), minMesh, opt.includeMesh ?? false));
    let faces = await refine(proposals, t.minMeshScore);
    // Last resort for tight face crops (ORL, ID photos) where BlazeFace finds no face: offer the whole
    // frame to FaceMesh, whose own face-presence score must then be high on its own.
    if (!faces.some((f) => f.score >= t.minFaceScore)) faces = await refine([wholeFrameProposal(image)], WHOLE_FRAME_MIN_MESH_SCORE);
    return dedupe(faces.filter((f) => f.score >= t.minFaceScore)).sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  }

  /** Run BlazeFace on every view in one batch; return merged detections in image pixels. */
  private async propose(image: RgbImage, views: View[], minScore: number): Promise<RawDetection[]> {
    const size = this.inputSize;
    const batch = new Float32Array(views.length * size * size * 3);
    // BlazeFace takes RGB in −1..1, written straight into the batch.
    views.forEach((v, i) => warpAffine(image, v.toView, size, size, { dst: batch, offset: i * size * size * 3, scale: 1 / 127.5, bias: -1 }));
    const input = new this.ortTensor('float32', batch, [views.length, size, size, 3]);
    const out = await runSession(this.detectorSession, { [this.detectorSession.inputNames[0]!]: input }, this.id);
    const found: RawDetection[] = [];
    views.forEach((v, i) => {
      const perView = Object.values(out).map((t) => {
        const per = (t.data as Float32Array).length / views.length;
        return { data: (t.data as Float32Array).subarray(i * per, (i + 1) * per), dims: t.dims };
      });
      const table = joinBlazefaceOutputs(perView);
      const back = invertSimilarity(v.toView);
      for (const d of weightedNms(decodeDetections(table, this.anchors, minScore), IOU_MERGE)) {
        const tl = applySimilarity(back, { x: d.box.x, y: d.box.y });
        const scale = 1 / v.toView.a;
        found.push({
          score: d.score,
          box: { x: tl.x, y: tl.y, width: d.box.width * scale, height: d.box.height * scale },
          keypoints: d.keypoints.map((p) => applySimilarity(back, p)),
        });
      }
    });
    return weightedNms(found, IOU_MERGE);
  }

  /** FaceMesh on every proposal in one batch: keep confirmed faces with their five points. */
  private async refine(image: RgbImage, proposals: RawDetection[], minMeshScore: number, includeMesh: boolean): Promise<DetectedFace[]> {
    if (!proposals.length) return [];
    const crops = proposals.map((p) => meshCrop(image, p.box, p.keypoints[0]!, p.keypoints[1]!));
    const n = crops.length, per = MESH_INPUT * MESH_INPUT * 3;
    const batch = new Float32Array(n * per);
    crops.forEach((c, i) => batch.set(c.input, i * per));
    const input = new this.ortTensor('float32', batch, [n, MESH_INPUT, MESH_INPUT, 3]);
    const out = await runSession(this.meshSession, { [this.meshSession.inputNames[0]!]: input }, LANDMARKER.id);
    const tensors = Object.values(out);
    const meshT = tensors.find((t) => t.dims[t.dims.length - 1] === MESH_POINTS * 3);
    const flagT = tensors.find((t) => t.dims[t.dims.length - 1] === 1);
    if (!meshT || !flagT) throw new ModelError(LANDMARKER.id, `expected a [N, ${MESH_POINTS * 3}] mesh and a [N, 1] score, got ${JSON.stringify(tensors.map((x) => x.dims))}`);
    const faces: DetectedFace[] = [];
    for (let i = 0; i < n; i++) {
      const meshScore = (flagT.data as Float32Array)[i]!;
      if (meshScore < minMeshScore) continue;
      const raw = (meshT.data as Float32Array).subarray(i * MESH_POINTS * 3, (i + 1) * MESH_POINTS * 3);
      const mesh = meshToImage(raw, crops[i]!.toCrop);
      const landmarks = fivePointsFromMesh(mesh);
      const box = meshBox(mesh);
      const pose = headPose(landmarks);
      const score = Math.sqrt(proposals[i]!.score * meshScore); // both models must agree
      faces.push({
        box,
        score,
        landmarks,
        quality: { score, eyeDistancePx: pose.eyeDistancePx, sizePx: Math.max(box.width, box.height), rollDeg: pose.rollDeg, yawDeg: pose.yawDeg },
        ...(includeMesh ? { mesh } : {}),
      });
    }
    return faces;
  }
}

/** The whole photo, scaled to fit and centred. */
function letterboxView(image: RgbImage, size: number): View {
  const s = size / Math.max(image.width, image.height);
  return { toView: { a: s, b: 0, tx: (size - s * image.width) / 2, ty: (size - s * image.height) / 2 } };
}

/** The whole photo with a border all round (`zoom`× its size): a face filling the frame becomes detectable. */
function zoomOutView(image: RgbImage, size: number, zoom = 2): View {
  const s = size / (zoom * Math.max(image.width, image.height));
  return { toView: { a: s, b: 0, tx: (size - s * image.width) / 2, ty: (size - s * image.height) / 2 } };
}

/** FaceMesh alone must be this sure before a whole-frame proposal counts as a face. */
const WHOLE_FRAME_MIN_MESH_SCORE = 0.9;

/** The frame as one face box (its ×1.4 mesh crop is then the whole image), eyes assumed level. */
function wholeFrameProposal(image: RgbImage): RawDetection {
  const side = Math.max(image.width, image.height) / 1.4;
  const x = (image.width - side) / 2, y = (image.height - side) / 2;
  const keypoints = [{ x: x + side * 0.3, y: y + side * 0.4 }, { x: x + side * 0.7, y: y + side * 0.4 }];
  return { box: { x, y, width: side, height: side }, score: 1, keypoints };
}

/** Tight crops (ORL, passport-style photos) need the face shrunk to a size BlazeFace was trained on. */
const zoomOutViews = (image: RgbImage, size: number): View[] => [zoomOutView(image, size, 1.5), zoomOutView(image, size, 2.2)];

/**
 * Overlapping square tiles (half the photo's longer side, 25 % overlap) for photos much larger than the
 * detector input, where a small face would shrink below BlazeFace's reach in the whole-photo view.
 */
function tileViews(image: RgbImage, size: number): View[] {
  const long = Math.max(image.width, image.height);
  if (long < 2 * size) return [];
  const views: View[] = [];
  for (let tile = long / 2; tile >= size * 1.5; tile /= 2) {
    const step = tile * 0.75;
    const xs = positions(image.width, tile, step), ys = positions(image.height, tile, step);
    for (const oy of ys)
      for (const ox of xs) {
        const s = size / tile;
        views.push({ toView: { a: s, b: 0, tx: -s * ox, ty: -s * oy } });
      }
    if (views.length >= 24) break; // two levels at most: 2×2..3×3 then up to 5×5 tiles
  }
  return views;
}

function positions(extent: number, tile: number, step: number): number[] {
  if (extent <= tile) return [(extent - tile) / 2];
  const out: number[] = [];
  for (let p = 0; p + tile < extent; p += step) out.push(p);
  out.push(extent - tile);
  return out;
}

/**
 * Views overlap, so one face can be refined twice; and a crop of part of a face (the eyes seen through a
 * small tile) can yield a second, nested "face". Keep the better-scored of any two faces that overlap or
 * where one lies mostly inside the other.
 */
function dedupe(faces: DetectedFace[]): DetectedFace[] {
  const sorted = [...faces].sort((a, b) => b.score - a.score);
  const kept: DetectedFace[] = [];
  for (const f of sorted) if (!kept.some((k) => iou(k.box, f.box) > 0.4 || overlapOfSmaller(k.box, f.box) > 0.5)) kept.push(f);
  return kept;
}
