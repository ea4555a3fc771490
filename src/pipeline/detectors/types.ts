/**
 * The FaceDetector interface every detector implements (BlazeFace + FaceMesh, MTCNN, RFB-320, user ONNX
 * detectors): an image in, faces out in original-image pixels, each with a box, a score and the five
 * points alignment needs, in the order of `FivePoints` (image-left eye, image-right eye, nose tip,
 * image-left mouth corner, image-right mouth corner).
 */
import type { StageTimer } from '../timing.js';
import type { DetectedFace, RgbImage } from '../types.js';

/**
 * Bump when detection, landmark or alignment code changes the faces (and so the embeddings) a photo
 * gets. It is part of every store fingerprint and eval cache key (src/models/registry.ts), so a store
 * refuses, and the cache never reuses, embeddings made by older code.
 */
export const DETECTION_REVISION = 2;

export interface DetectOptions {
  /** Keep faces whose final score is at least this (0..1); absent: the detector's own tuned threshold. */
  minScore?: number;
  /**
   * 'fast': the main face is enough (enroll, login: a cheaper search where the detector has one).
   * 'thorough': every face, small ones in large photos too (detect, --all-faces).
   */
  mode: 'fast' | 'thorough';
  /** At most this many faces are returned (largest first). */
  maxFaces: number;
  /** Keep dense landmarks on each face where the detector has them (FaceMesh's 468 points). */
  includeMesh?: boolean;
}

export const DEFAULT_DETECT_OPTIONS: DetectOptions = { mode: 'fast', maxFaces: 64 };

export interface FaceDetector {
  /** The id users pass to --detector. */
  readonly id: string;
  /**
   * What, besides the code revision, decides the faces found: built-ins are their id (their weights
   * are pinned npm files), user detectors add the file's sha256. Part of the store fingerprint.
   */
  readonly identity: string;
  /** Faces sorted largest first, scores 0..1, coordinates in `image` pixels. */
  detect(image: RgbImage, options?: Partial<DetectOptions>, timer?: StageTimer): Promise<DetectedFace[]>;
}
