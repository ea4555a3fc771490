/** Types shared by every pipeline stage. Coordinates are image pixels, origin top-left, x right, y down. */

export interface Point {
  x: number;
  y: number;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Five landmarks in a fixed order, "left" meaning the image's left:
 * [leftEye, rightEye, noseTip, mouthLeft, mouthRight] (eye centres, nose tip, mouth corners).
 */
export type FivePoints = [Point, Point, Point, Point, Point];

/** Decoded image: interleaved 8-bit RGB, row-major (HWC), EXIF orientation already applied. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Signals a caller uses to accept or reject a face before trusting its embedding. */
export interface FaceQuality {
  /** Detector confidence 0..1. */
  score: number;
  /** Inter-ocular distance in source pixels (the face's usable resolution). */
  eyeDistancePx: number;
  /** Side of the face box in source pixels. */
  sizePx: number;
  /** In-plane rotation in degrees (positive: head tilted clockwise in the image). */
  rollDeg: number;
  /** Rough left/right turn in degrees from landmark asymmetry (0 = frontal). */
  yawDeg: number;
  /** Variance of the Laplacian on the aligned crop (low = blurred). */
  sharpness?: number;
}

export interface DetectedFace {
  box: Box;
  score: number;
  landmarks: FivePoints;
  quality: FaceQuality;
  /** FaceMesh's 468 points in image pixels, only when asked for (DetectOptions.includeMesh). */
  mesh?: Point[];
}

export interface EmbeddedFace extends DetectedFace {
  /** L2-normalised embedding of the aligned face. */
  embedding: Float32Array;
}
