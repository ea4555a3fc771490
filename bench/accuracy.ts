/**
 * npm run bench:accuracy — how the default pipeline was chosen: LFW View 2 (pairs.txt, 10 folds,
 * LFW protocol) accuracy of detector / landmark / alignment / embedder variants, all through the real
 * pipeline code. Faces are detected once per detector and reused by every variant on it.
 *
 *   npx tsx bench/accuracy.ts [--folds 10] [--variants default,no-flip,...] [--json out.json]
 * Takes about 40 minutes for every variant on a 2-core machine (faceres alone is ~15 of them).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { imagesOfPairs, readPairsFile, verificationMetrics } from '../src/eval/index.js';
import { resolveEmbedder } from '../src/models/resolve.js';
import type { EmbedderSpec } from '../src/models/registry.js';
import { arcfaceTemplate } from '../src/models/templates.js';
import { alignFace } from '../src/pipeline/align.js';
import { decodeImageFile, type DecodedImage } from '../src/pipeline/decode.js';
import { FaceEmbedder } from '../src/pipeline/embedder.js';
import { fivePointsFromMesh } from '../src/pipeline/landmarks.js';
import { loadBlazeFace } from '../src/pipeline/detectors/blazeface.js';
import { getSession } from '../src/pipeline/runtime.js';
import { selectFace } from '../src/pipeline/select.js';
import type { Point } from '../src/pipeline/types.js';
import { datasetsDir } from '../test/helpers/shared.js';
import { arg } from './lib/args.js';

type Landmarks = 'mesh-five' | 'mesh-dlib5';
interface Variant {
  name: string;
  detector: 'blazeface' | 'blazeface-front';
  landmarks: Landmarks;
  embedder: string;
  flip: boolean;
  template?: (spec: EmbedderSpec) => EmbedderSpec['template'];
  note: string;
}

const VARIANTS: Variant[] = [
  { name: 'default', detector: 'blazeface', landmarks: 'mesh-five', embedder: 'dlib-resnet', flip: true, note: 'dlib chip 150, flip TTA (the default)' },
  { name: 'no-flip', detector: 'blazeface', landmarks: 'mesh-five', embedder: 'dlib-resnet', flip: false, note: 'same without the mirrored embedding' },
  { name: 'arcface-template', detector: 'blazeface', landmarks: 'mesh-five', embedder: 'dlib-resnet', flip: true, template: (s) => arcfaceTemplate(s.inputSize), note: 'ArcFace 112 template scaled to 150 instead of the dlib chip' },
  { name: 'dlib5-points', detector: 'blazeface', landmarks: 'mesh-dlib5', embedder: 'dlib-resnet', flip: true, note: 'eye centres from the 6 dlib-equivalent mesh points, nose = mesh 4' },
  { name: 'front-detector', detector: 'blazeface-front', landmarks: 'mesh-five', embedder: 'dlib-resnet', flip: true, note: 'BlazeFace front (128×128) detector' },
  { name: 'mobileface', detector: 'blazeface', landmarks: 'mesh-five', embedder: 'mobileface', flip: true, note: 'human mobileface 256-d, ArcFace 112' },
  { name: 'faceres', detector: 'blazeface', landmarks: 'mesh-five', embedder: 'faceres', flip: true, note: 'human faceres 1024-d, ArcFace + 15 % margin, BGR' },
];

const folds = Number(arg('folds', '10'));
const wanted = arg('variants', VARIANTS.map((v) => v.name).join(',')).split(',');
const variants = VARIANTS.filter((v) => wanted.includes(v.name));

const lfw = path.join(datasetsDir, 'lfw');
const protocol = readPairsFile(path.join(lfw, 'pairs.txt'));
const pairs = protocol.pairs.filter((p) => p.fold < folds);
const images = imagesOfPairs(pairs);

const mean = (m: readonly Point[], idx: number[]): Point => ({ x: idx.reduce((s, i) => s + m[i]!.x, 0) / idx.length, y: idx.reduce((s, i) => s + m[i]!.y, 0) / idx.length });
function landmarksOf(mesh: readonly Point[], kind: Landmarks): Point[] {
  if (kind === 'mesh-five') return fivePointsFromMesh(mesh);
  return [mean(mesh, [33, 160, 158, 133, 153, 144]), mean(mesh, [362, 385, 387, 263, 373, 380]), mesh[4]!, mesh[61]!, mesh[291]!];
}

/** Detect once per detector: the face nearest the centre, with its mesh. */
const detections = new Map<string, Map<string, Point[] | null>>();
async function detectAll(detectorId: Variant['detector']): Promise<Map<string, Point[] | null>> {
  const cached = detections.get(detectorId);
  if (cached) return cached;
  const detector = await loadBlazeFace(detectorId);
  const out = new Map<string, Point[] | null>();
  const t0 = performance.now();
  for (const rel of images) {
    const image = await decodeImageFile(path.join(lfw, rel));
    const face = selectFace(await detector.detect(image, { includeMesh: true }), image, 'center');
    out.set(rel, face?.mesh ?? null);
  }
  process.stderr.write(`${detectorId}: ${images.length} images in ${((performance.now() - t0) / 1000).toFixed(0)} s, ${[...out.values()].filter((m) => !m).length} without a face\n`);
  detections.set(detectorId, out);
  return out;
}

const results: { variant: Variant; accuracy: number; se: number; auc: number; tarAt1e3: number | null; noFace: number }[] = [];
for (const v of variants) {
  const meshes = await detectAll(v.detector);
  const resolved = await resolveEmbedder(v.embedder, v.detector);
  const spec: EmbedderSpec = { ...resolved.spec, flip: v.flip, template: v.template ? v.template(resolved.spec) : resolved.spec.template };
  const embedder = new FaceEmbedder(spec, await getSession(resolved.path), ort.Tensor);
  const vectors = new Map<string, Float32Array>();
  const batch: { rel: string; crop: Float32Array }[] = [];
  const flush = async () => {
    const out = await embedder.embedCrops(batch.map((b) => b.crop));
    batch.forEach((b, i) => vectors.set(b.rel, out[i]!));
    batch.length = 0;
  };
  for (const rel of images) {
    const mesh = meshes.get(rel);
    if (!mesh) continue;
    const image: DecodedImage = await decodeImageFile(path.join(lfw, rel));
    batch.push({ rel, crop: alignFace(image, landmarksOf(mesh, v.landmarks), spec.template) });
    if (batch.length === 16) await flush();
  }
  await flush();
  const scores = pairs.map((p) => {
    const a = vectors.get(p.a), b = vectors.get(p.b);
    return a && b ? a.reduce((s, x, i) => s + x * b[i]!, 0) : -1; // a failed image scores as a non-match
  });
  const m = verificationMetrics({ scores, same: pairs.map((p) => p.same), folds: pairs.map((p) => p.fold), foldCount: folds, fprTargets: [1e-3] });
  results.push({
    variant: v,
    // One fold has no other folds to fit a threshold on: report the best single threshold's accuracy then.
    accuracy: folds > 1 ? (m.kFold?.mean ?? NaN) : m.bestThreshold.accuracy,
    se: folds > 1 ? (m.kFold?.standardError ?? NaN) : 0,
    auc: m.rocAuc,
    tarAt1e3: m.tprAtFpr[0]?.tpr ?? null,
    noFace: [...meshes.values()].filter((x) => !x).length,
  });
  const r = results.at(-1)!;
  process.stderr.write(`${v.name}: ${(100 * r.accuracy).toFixed(2)}%\n`);
}

console.log(`# LFW View 2 (${pairs.length} pairs, ${folds}-fold, threshold per fold from the other folds), ${images.length} photos, ${os.cpus().length} cores\n`);
console.log('| variant | detector | landmarks | embedder | flip | accuracy (mean ± SE) | ROC-AUC | TAR @ FAR 1e-3 | no face | notes |');
console.log('|---|---|---|---|---|---:|---:|---:|---:|---|');
for (const r of results) {
  const v = r.variant;
  const tar = r.tarAt1e3 === null ? 'n/a' : `${(100 * r.tarAt1e3).toFixed(1)} %`;
  console.log(`| ${v.name} | ${v.detector} | ${v.landmarks} | ${v.embedder} | ${v.flip ? 'yes' : 'no'} | ${(100 * r.accuracy).toFixed(2)} ± ${(100 * r.se).toFixed(2)} % | ${r.auc.toFixed(4)} | ${tar} | ${r.noFace} | ${v.note} |`);
}
const json = arg('json', '');
if (json) writeFileSync(json, JSON.stringify(results, null, 2));
