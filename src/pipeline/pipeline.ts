/**
 * The one pipeline every command shares: decode → detect → 5-point align → embed → L2-normalise.
 * Models are prepared (converted on first use) and their sessions created once per process.
 */
import ort from 'onnxruntime-node';
import { ExitCode, FacectlError } from '../errors.js';
import { resolveEmbedder, type EmbedderOverrides, type ResolvedEmbedder } from '../models/resolve.js';
import { decodeImageBytes, decodeImageFile, type DecodedImage } from './decode.js';
import { loadDetector } from './detectors/registry.js';
import type { DetectOptions, FaceDetector } from './detectors/types.js';
import { FaceEmbedder } from './embedder.js';
import { EnsembleEmbedder, type Embedder } from './ensemble.js';
import { SHARPNESS_TEMPLATE, sharpness } from './quality.js';
import { alignFace } from './align.js';
import { selectFace } from './select.js';
import { getSession } from './runtime.js';
import { StageTimer } from './timing.js';
import type { DetectedFace, EmbeddedFace, RgbImage } from './types.js';

export interface PipelineOptions {
  /** Embedder id (built-in or registered); default DEFAULT_EMBEDDER (registry.ts). */
  embedder?: string;
  /** The embedder run otherwise than its spec says (bench/fit-ensemble.ts: members without the mirrored face). */
  embedderOverrides?: EmbedderOverrides;
  /** Detector id (built-in or registered); default blazeface. */
  detector?: string;
  /** Load only the detector (the `detect` command needs no embedder). */
  detectOnly?: boolean;
}

/** The embedding stage of a resolved embedder: its session, or for an ensemble each member's. */
export async function loadEmbedder(resolved: ResolvedEmbedder): Promise<Embedder> {
  if (resolved.members) return new EnsembleEmbedder(resolved.spec, await Promise.all(resolved.members.map(loadEmbedder)));
  return new FaceEmbedder(resolved.spec, await getSession(resolved.path), ort.Tensor);
}

export class FacePipeline {
  readonly timer = new StageTimer();

  private constructor(
    readonly detector: FaceDetector,
    private readonly embedderStage: Embedder | null,
    readonly embedderInfo: ResolvedEmbedder | null,
  ) {}

  static async load(options: PipelineOptions = {}): Promise<FacePipeline> {
    const detector = await loadDetector(options.detector);
    if (options.detectOnly) return new FacePipeline(detector, null, null);
    const resolved = await resolveEmbedder(options.embedder, detector.identity, options.embedderOverrides);
    return new FacePipeline(detector, await loadEmbedder(resolved), resolved);
  }

  /** A pipeline from stages built elsewhere (benchmarks run the same stages on another engine). */
  static assemble(detector: FaceDetector, embedder: Embedder | null, info: ResolvedEmbedder | null): FacePipeline {
    return new FacePipeline(detector, embedder, info);
  }

  get embedder(): Embedder {
    if (!this.embedderStage) throw new Error('pipeline was loaded without an embedder');
    return this.embedderStage;
  }

  decode(file: string): Promise<DecodedImage> {
    return this.timer.time('decode', () => decodeImageFile(file));
  }

  decodeBytes(bytes: Uint8Array, label?: string): Promise<DecodedImage> {
    return this.timer.time('decode', () => decodeImageBytes(bytes, label));
  }

  detect(image: RgbImage, options: Partial<DetectOptions> = {}): Promise<DetectedFace[]> {
    return this.detector.detect(image, options, this.timer);
  }

  /** Align and embed the given faces of one image (batched). Adds the crop's sharpness to each face's quality. */
  async embed(image: RgbImage, faces: DetectedFace[]): Promise<EmbeddedFace[]> {
    const embedder = this.embedder;
    const crops = await this.timer.time('align', () => faces.map((f) => embedder.crop(image, f.landmarks)));
    const vectors = await this.timer.time('embed', () => embedder.embedCrops(crops));
    return faces.map((f, i) => ({
      ...f,
      quality: { ...f.quality, sharpness: sharpness(alignFace(image, f.landmarks, SHARPNESS_TEMPLATE), SHARPNESS_TEMPLATE.width, SHARPNESS_TEMPLATE.height) },
      embedding: vectors[i]!,
    }));
  }

  /**
   * Decode a photo and embed its faces. `select`: 'largest' keeps the biggest face (login), 'center' the
   * face nearest the centre (dataset photos), 'single' demands exactly one (enroll without --largest),
   * 'all' keeps every face.
   */
  async processFile(
    file: string,
    select: FaceSelection,
    detectOptions: Partial<DetectOptions> = {},
  ): Promise<{ image: DecodedImage; faces: EmbeddedFace[]; /** Faces the detector found, before `select` chose. */ detected: number }> {
    const image = await this.decode(file);
    return { image, ...(await this.processImageCounted(image, select, detectOptions, file)) };
  }

  /** processFile for a photo given by path or as its file's bytes (a request to `facectl serve`, `label` naming it in errors). */
  async processPhoto(photo: PhotoInput, select: FaceSelection): Promise<{ image: DecodedImage; faces: EmbeddedFace[]; detected: number }> {
    if (typeof photo === 'string') return this.processFile(photo, select);
    const image = await this.decodeBytes(photo.bytes, photo.label);
    return { image, ...(await this.processImageCounted(image, select, {}, photo.label)) };
  }

  async processImage(image: RgbImage, select: FaceSelection, detectOptions: Partial<DetectOptions> = {}, label?: string): Promise<EmbeddedFace[]> {
    return (await this.processImageCounted(image, select, detectOptions, label)).faces;
  }

  /** processImage, and how many faces the detector found (verify says when it chose among several). */
  private async processImageCounted(
    image: RgbImage,
    select: FaceSelection,
    detectOptions: Partial<DetectOptions>,
    label?: string,
  ): Promise<{ faces: EmbeddedFace[]; detected: number }> {
    const mode = select === 'all' ? 'thorough' : (detectOptions.mode ?? 'fast');
    const found = await this.detect(image, { ...detectOptions, mode });
    if (!found.length) throw new FacectlError(ExitCode.NO_FACE, 'no face found', label);
    if (select === 'single' && found.length > 1)
      throw new FacectlError(ExitCode.MULTIPLE_FACES, `${found.length} faces found where one was expected (use --largest to take the biggest)`, label);
    const chosen = select === 'all' ? found : [selectFace(found, image, select === 'center' ? 'center' : 'largest')!];
    return { faces: await this.embed(image, chosen), detected: found.length };
  }
}

export type FaceSelection = 'largest' | 'center' | 'single' | 'all';

/** A photo: its path, or its file's bytes with a label for errors. */
export type PhotoInput = string | { bytes: Uint8Array; label: string };
