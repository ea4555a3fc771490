/**
 * `facectl eval` as a use case: plan (dataset, pairs protocol, identification split, image list),
 * embed (through the cache), measure (verification, identification, failures), calibrate a store,
 * write the report. The CLI parses options into an EvalRequest and prints the EvalOutcome.
 */
import path from 'node:path';
import { errorLine, ExitCode, FacectlError, printable } from '../errors.js';
import {
  EmbeddingCache,
  collectFailures,
  defaultCacheDir,
  evaluateIdentification,
  evaluateVerification,
  findPairsFile,
  generatePairs,
  imagesOfPairs,
  makeIdentificationSplit,
  findMissingPairImages,
  readPairsFile,
  prepareReportsFolder,
  discardReportsFolder,
  publishReport,
  renderEvalCharts,
  leftOutOfScan,
  scanIdentityFolders,
  summarizeFailures,
  stageReport,
  DEFAULT_FPIR_TARGETS,
  type ChartImage,
  type EmbeddingLookup,
  type EvalMetrics,
  type FolderDataset,
  type IdentificationReport,
  type IdentificationSplit,
  type ImageFailure,
  type PairProtocol,
  type ReportsFolder,
  type StagedReport,
  type VerificationResult,
  type WrittenReport,
} from '../eval/index.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import type { Gallery } from '../gallery/types.js';
import { checkCalibrationTarget } from './calibrate.js';
import { chooseCalibration, writeCalibration, type CalibrationOutcome } from './eval-calibration.js';
import { embedImages, embeddingCacheKey, ensembleFromMembers, type EmbedImagesResult, type EmbedProgress } from './embed-images.js';

export type IdentificationScope = 'pairs' | 'full' | 'none';

/** An evaluation, its options already parsed and range-checked. */
export interface EvalRequest {
  datasetDir: string;
  /** Pairs file; default <dataset>/pairs.txt when present, else generated pairs. */
  pairsFile?: string;
  verification: boolean;
  /** Default: 'pairs' with a pairs file, else 'full'. */
  identification?: IdentificationScope;
  gallerySize?: number;
  openSetFraction?: number;
  seed: number;
  maxIdentities?: number;
  face: 'center' | 'largest';
  /** Threshold for the open-set accept/reject table. */
  threshold?: number;
  /** Extra FPIR operating point; with `calibrate`, the 1:N rate to calibrate for. */
  targetFpir?: number;
  /** Write the threshold at this rate into a store: FPR over impostor pairs, unless targetFpir is set. */
  calibrate?: { gallery: Gallery; targetFpr: number };
  cache: boolean;
  charts: boolean;
  reportsDir: string;
  /** Recorded in the report so the numbers can be reproduced. */
  provenance: { command: string; versions: Record<string, string> };
}

/** What will be measured: decided before any model is loaded, so bad options fail fast. */
export interface EvalPlan {
  root: string;
  dataset: FolderDataset;
  protocol: PairProtocol | null;
  split: IdentificationSplit | null;
  images: string[];
  /** The pairs file read (verification, or --identification pairs), recorded in the report. */
  pairsFile: { path: string; sha256: string } | null;
  /** Made and checked writable while planning; a failed run removes what it made (discardPlan). */
  reports: ReportsFolder;
  /** What the folder scan left out that could have been photos (empty identity folders, subfolders), in words; null when nothing or a pairs file chose the photos. */
  notEvaluated: string | null;
}

export interface EvalMeasurement {
  metrics: EvalMetrics;
  verification?: VerificationResult;
  identification?: IdentificationReport;
  failures: ImageFailure[];
}

export interface EvalOutcome {
  plan: EvalPlan;
  embedded: EmbedImagesResult;
  metrics: EvalMetrics;
  calibrated: CalibrationOutcome | null;
  report: WrittenReport;
  /** Why the charts could not be drawn (the report was written without them), or null. */
  chartsFailed: string | null;
}

export function planEval(req: EvalRequest): EvalPlan {
  const root = path.resolve(req.datasetDir);
  const dataset = limitIdentities(scanIdentityFolders(root), req.maxIdentities);
  // A pairs file serves verification and '--identification pairs' (its photos); without either it would do nothing.
  if (!req.verification && req.pairsFile !== undefined && req.identification !== 'pairs')
    throw new FacectlError(ExitCode.USAGE, `--pairs does nothing with --no-verification unless --identification pairs (identification over its photos)`);
  const pairsFile = req.verification || req.identification === 'pairs' ? findPairsFile(root, req.pairsFile) : null;
  if (!req.verification && req.identification === 'pairs' && !pairsFile)
    throw new FacectlError(ExitCode.USAGE, `--identification pairs with --no-verification needs a pairs file (--pairs, or pairs.txt in ${root}); --identification full uses every photo`);
  if (pairsFile && req.maxIdentities !== undefined)
    throw new FacectlError(ExitCode.USAGE, `--max-identities cannot shorten a pairs protocol (${pairsFile}); use --no-verification or a dataset without pairs.txt`);
  const pairs = pairsFile ? readPairsFile(pairsFile) : req.verification ? generatePairs(dataset, { seed: req.seed }) : null;
  if (pairsFile && pairs) refuseMissingPairImages(pairs, pairsFile, root);
  const protocol = req.verification ? pairs : null;
  const split = identificationSplit(dataset, pairs, req.identification ?? (pairsFile ? 'pairs' : 'full'), req);
  const images = [...new Set([...(protocol ? imagesOfPairs(protocol.pairs) : []), ...(split ? splitImages(split) : [])])];
  if (!images.length) throw new FacectlError(ExitCode.USAGE, 'nothing to evaluate: no pairs and no identification images');
  // Last, so that nothing else planned can fail after the folder is made; a step after planning that fails calls discardPlan.
  const reports = prepareReportsFolder(req.reportsDir);
  const pairsRecord = pairs?.file && pairs.sha256 ? { path: pairs.file, sha256: pairs.sha256 } : null;
  return { root, dataset, protocol, split, images, pairsFile: pairsRecord, reports, notEvaluated: pairsFile ? null : leftOutOfScan(dataset) };
}


/** A run that failed after planning (the model would not load, a model error while embedding): the report folders it made, if still empty, go. */
export function discardPlan(plan: EvalPlan): void {
  discardReportsFolder(plan.reports);
}

/**
 * A pair whose photo is missing would score as a failure and still count: a pairs file meant for another
 * folder (or a dataset copied in part) would print figures about nothing. NOT_FOUND, naming the first.
 */
function refuseMissingPairImages(protocol: PairProtocol, pairsFile: string, root: string): void {
  const missing = findMissingPairImages(protocol, root);
  if (missing.length)
    throw new FacectlError(ExitCode.NOT_FOUND, `${missing.length} photo(s) named by ${pairsFile} are not in ${root} (first: ${printable(missing[0]!)}): is --dataset the folder it was written for?`);
}

/** The identification split over every image ('full') or only the pairs' images ('pairs': with verification, no extra embedding). */
function identificationSplit(dataset: FolderDataset, protocol: PairProtocol | null, scope: IdentificationScope, req: EvalRequest): IdentificationSplit | null {
  if (scope === 'none') return null;
  if (scope === 'pairs' && !protocol) throw new Error('identification over the pairs without a pairs protocol'); // planEval refuses it first
  const source = scope === 'pairs' ? restrictTo(dataset, imagesOfPairs(protocol!.pairs)) : dataset;
  return makeIdentificationSplit(source, { gallerySize: req.gallerySize, openSetFraction: req.openSetFraction, seed: req.seed });
}

/** Every planned image through the pipeline, with the embedding cache in front unless disabled. */
export async function embedPlan(pipeline: FacePipeline, plan: EvalPlan, req: EvalRequest, onProgress?: (p: EmbedProgress) => void): Promise<EmbedImagesResult> {
  const info = pipeline.embedderInfo!;
  const cache = req.cache ? await EmbeddingCache.openTrusted(defaultCacheDir(), embeddingCacheKey(pipeline, req.face), info.spec.dim) : null;
  // An ensemble also reads its members' caches: evaluated after them, it embeds nothing.
  const opened = cache && info.members ? await Promise.all(info.members.map((m) => EmbeddingCache.openTrusted(defaultCacheDir(), embeddingCacheKey({ embedderInfo: m }, req.face), m.spec.dim))) : [];
  const members = opened.every((m): m is EmbeddingCache => m !== null) ? opened : [];
  if (members !== opened) for (const m of opened) m?.close(); // one member's folder not trusted: the members' caches are not used
  const compose = members.length ? ensembleFromMembers(members, info.spec.members!.map((m) => m.weight)) : null;
  try {
    return await embedImages(pipeline, plan.root, plan.images, { policy: req.face, cache, compose, onProgress });
  } finally {
    cache?.close();
    for (const m of members) m.close();
  }
}

/** Verification, identification and failure metrics from the embeddings. */
export function measure(plan: EvalPlan, lookup: EmbeddingLookup, req: Pick<EvalRequest, 'threshold' | 'targetFpir'>): EvalMeasurement {
  const verification = plan.protocol ? evaluateVerification(plan.protocol, lookup) : undefined;
  const fpirTargets = [...new Set([...DEFAULT_FPIR_TARGETS, ...(req.targetFpir ? [req.targetFpir] : [])])];
  const identification = plan.split ? evaluateIdentification(plan.split, lookup, { threshold: req.threshold, fpirTargets }) : undefined;
  const failures = collectFailures(plan.images, lookup);
  return { metrics: { verification: verification?.report, identification, failures: summarizeFailures(failures, plan.images.length) }, verification, identification, failures };
}

/** Puts the staged report under its name; should that fail once the threshold is in the store, the error says it is. */
function publishIn(staged: StagedReport, thresholdWritten: boolean): WrittenReport {
  try {
    return publishReport(staged);
  } catch (err) {
    if (thresholdWritten && err instanceof FacectlError) throw new FacectlError(err.code, `${err.message}; the threshold was written to the store`, err.file);
    throw err;
  }
}

/**
 * Charts (unless disabled), metrics.json, report.md and failures.csv into a hidden folder of the reports
 * folder (stageReport; publishReport gives it its name once the threshold is in the store). Charts are
 * only pictures of the metrics: if drawing fails, the report (whose threshold goes into the store next)
 * is written without them.
 */
function writeEvalReport(
  pipeline: FacePipeline,
  plan: EvalPlan,
  m: EvalMeasurement,
  embedded: EmbedImagesResult,
  calibrated: { value: number } | null,
  req: EvalRequest,
  timings: { metricsMs: number; started: number },
): { staged: StagedReport; chartsFailed: string | null } {
  const model = pipeline.embedderInfo!;
  const subtitle = `${path.basename(plan.root)} · ${model.spec.id}`;
  const threshold = calibrated ? { value: calibrated.value, label: `calibrated threshold ${calibrated.value.toFixed(3)}` } : undefined;
  let charts: ChartImage[] = [];
  let chartsFailed: string | null = null;
  try {
    if (req.charts) charts = renderEvalCharts({ verification: m.verification, identification: m.identification, subtitle, threshold });
  } catch (err) {
    chartsFailed = errorLine(err);
  }
  const staged = stageReport(plan.reports, {
    metrics: m.metrics,
    charts,
    failures: m.failures,
    command: req.provenance.command,
    versions: req.provenance.versions,
    dataset: { name: path.basename(plan.root), path: plan.root, identities: identitiesOf(plan.images), images: plan.images.length, ...(plan.pairsFile ? { pairsFile: plan.pairsFile } : {}), ...(plan.notEvaluated ? { notEvaluated: plan.notEvaluated } : {}) },
    model: { id: model.spec.id, hash: model.fingerprint, detector: pipeline.detector.id },
    timings: { embedding: Math.round(embedded.seconds * 1000), metrics: Math.round(timings.metricsMs), total: Math.round(performance.now() - timings.started) },
    throughput: { imagesEmbedded: embedded.embedded, imagesFromCache: embedded.cached, imagesPerSecond: embedded.imagesPerSecond },
  });
  return { staged, chartsFailed };
}

export interface EvalHooks {
  onEmbedProgress?: (p: EmbedProgress) => void;
  /** Embedding is done; metrics, calibration and the report follow. */
  onEmbedded?: (r: EmbedImagesResult) => void;
}

export async function runEval(pipeline: FacePipeline, plan: EvalPlan, req: EvalRequest, hooks: EvalHooks = {}): Promise<EvalOutcome> {
  try {
    return await evaluate(pipeline, plan, req, hooks);
  } catch (err) {
    discardPlan(plan);
    throw err;
  }
}

async function evaluate(pipeline: FacePipeline, plan: EvalPlan, req: EvalRequest, hooks: EvalHooks): Promise<EvalOutcome> {
  // A store built with another model or detector refuses the threshold: say so before hours of embedding.
  if (req.calibrate) await checkCalibrationTarget(req.calibrate.gallery, pipeline.embedderInfo!);
  const started = performance.now();
  const embedded = await embedPlan(pipeline, plan, req, hooks.onEmbedProgress);
  hooks.onEmbedded?.(embedded);
  const metricsStart = performance.now();
  const m = measure(plan, (img) => embedded.results.get(img), req);
  // The report first, the threshold after it: a report that cannot be written must leave the store as it was.
  // And the report appears under its name only once the threshold is in the store: one that says "written"
  // while the store is unchanged (a kill between the two) must not exist. A kill after the store's commit
  // but before the rename leaves the threshold written and only a hidden .<name>.partial-… folder, which a
  // later eval removes (its process is gone): no report, rather than one that lies.
  const pending = chooseCalibration(plan, m, req);
  const calibrated = pending?.outcome ?? null;
  const { staged, chartsFailed } = writeEvalReport(pipeline, plan, m, embedded, calibrated, req, { metricsMs: performance.now() - metricsStart, started });
  await writeCalibration(pipeline, pending, req, staged);
  const report = publishIn(staged, pending?.outcome.written === true);
  return { plan, embedded, metrics: m.metrics, calibrated, report, chartsFailed };
}

/** The first `max` identities (natural order), for a quick evaluation of a large set. */
/** How many people the evaluated photos show (`<identity>/<image>` paths): with a pairs file, fewer than the folder holds. */
const identitiesOf = (images: readonly string[]): number => new Set(images.map((image) => image.slice(0, image.indexOf('/')))).size;

function limitIdentities(dataset: FolderDataset, max: number | undefined): FolderDataset {
  if (max === undefined || dataset.identities.length <= max) return dataset;
  const identities = dataset.identities.slice(0, max);
  return { ...dataset, identities, imageCount: identities.reduce((n, id) => n + id.images.length, 0) };
}

/** The dataset limited to the given images (identification over the verification images costs nothing extra). */
function restrictTo(dataset: FolderDataset, images: readonly string[]): FolderDataset {
  const keep = new Set(images);
  const identities = dataset.identities
    .map((id) => ({ ...id, images: id.images.filter((img) => keep.has(img)) }))
    .filter((id) => id.images.length > 0);
  return { ...dataset, identities, imageCount: identities.reduce((n, id) => n + id.images.length, 0) };
}

function splitImages(split: IdentificationSplit): string[] {
  return [...split.gallery.flatMap((g) => g.images), ...split.matedProbes.map((p) => p.image), ...split.nonMatedProbes.map((p) => p.image)];
}
