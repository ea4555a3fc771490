/** Types of the gallery store: what one enrolled face row holds, the model binding, the threshold. */
import type { Box, FaceQuality } from '../pipeline/types.js';

/** The embedder a store is bound to: embeddings from another model are not comparable. */
export interface ModelInfo {
  /** Short model id, e.g. "dlib-resnet-v1" (1..64 UTF-8 bytes, no control characters). */
  id: string;
  /** Content hash of the model file, e.g. "sha256:…" (1..128 UTF-8 bytes). */
  hash: string;
  /** Embedding length. */
  dimension: number;
}

/** Where the login threshold came from, so a report can say whether to trust it. */
export type ThresholdSource = 'default' | 'calibrated' | 'manual';

export interface ThresholdInfo {
  /** Cosine similarity at or above which a face is accepted. */
  value: number;
  source: ThresholdSource;
  /** Calibration data set (e.g. "lfw-pairs"), when calibrated. */
  dataset?: string;
  /** False-positive rate the calibration targeted, when calibrated (an FPIR when basis is 'open-set'). */
  targetFpr?: number;
  /** What the rate counts: impostor pairs ('pairs', 1:1 verification) or non-mated probes against a gallery ('open-set', 1:N). */
  basis?: 'pairs' | 'open-set';
  /** ISO 8601 date the threshold was set. */
  date: string;
  /** Model id the threshold was chosen for. */
  model: string;
}

/** One enrolled face: a row of data.csv. */
export interface FaceRow {
  /** Identity id (validated, see validate.ts). */
  id: string;
  /** Free-text display name of the identity (same on every row of one id). */
  name: string;
  /** Absolute path of the photo the face came from (facectl 0.1.0 stored it as typed: maybe relative). */
  sourcePath: string;
  /** sha256 (hex) of the photo's bytes. */
  imageSha256: string;
  /** Face box in source pixels. */
  box: Box;
  quality: FaceQuality;
  /** Row of embeddings.f32 holding this face's embedding. */
  embeddingIndex: number;
  /** Model id the embedding was computed with. */
  modelId: string;
  /** ISO 8601 time the face was added. */
  addedAt: string;
}

/** A face to enroll: a row without its dump position, plus the embedding itself. */
export interface NewFace extends Omit<FaceRow, 'embeddingIndex' | 'modelId' | 'addedAt'> {
  /** The face's embedding (normalised again on write; must be finite and non-zero). */
  embedding: Float32Array;
  /** Defaults to the commit time. */
  addedAt?: string;
}

/** One identity derived from its rows: the vector is the normalised mean of its normalised embeddings. */
export interface Identity {
  id: string;
  name: string;
  faceCount: number;
  /** L2-normalised mean embedding (a view into the snapshot's identity matrix: do not modify). */
  vector: Float32Array;
  /** Indexes into snapshot.rows of this identity's faces, in file order. */
  rowIndexes: number[];
}
