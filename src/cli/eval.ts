/**
 * `facectl eval --dataset <dir>`: verification (pairs file or generated pairs, LFW 10-fold protocol)
 * and identification (closed and open set) through the real pipeline; charts and a report under reports/.
 */
import path from 'node:path';
import type { Command } from 'commander';
import ora from 'ora';
import { embedImages, embeddingCacheKey } from '../app/embed-images.js';
import { calibrateStoreThreshold } from '../app/calibrate.js';
import { ExitCode, FacectlError } from '../errors.js';
import {
  EmbeddingCache,
  calibrateThreshold,
  collectFailures,
  defaultCacheDir,
  evaluateIdentification,
  evaluateVerification,
  findPairsFile,
  formatSummaryTable,
  generatePairs,
  imagesOfPairs,
  makeIdentificationSplit,
  readPairsFile,
  renderEvalCharts,
  scanIdentityFolders,
  summarizeFailures,
  writeReport,
  DEFAULT_FPIR_TARGETS,
  type EvalMetrics,
  type FolderDataset,
  type IdentificationReport,
  type PairProtocol,
  type VerificationResult,
} from '../eval/index.js';
import { resolveStoreDir } from '../store/index.js';
import { action, loadPipeline, note, numberOption, printJson, withGlobalOptions, type GlobalOptions } from './common.js';
import { runtimeVersions } from './versions.js';

interface EvalOpts extends GlobalOptions {
  dataset: string;
  pairs?: string;
  identification: 'pairs' | 'full' | 'none';
  verification: boolean;
  gallerySize?: string;
  openSetFraction?: string;
  seed?: string;
  face: 'center' | 'largest';
  threshold?: string;
  calibrate?: boolean;
  targetFpr?: string;
  store?: string;
  reports: string;
  cache: boolean;
  charts: boolean;
  maxIdentities?: string;
  targetFpir?: string;
}

export function registerEval(program: Command): void {
  withGlobalOptions(
    program
      .command('eval')
      .description('measure accuracy on a dataset: LFW-style 10-fold verification, TPR@FPR, ROC-AUC, rank-1/5, open-set DIR@FPIR; charts + report')
      .requiredOption('--dataset <dir>', 'folder-per-identity dataset (<dir>/<person>/<image>)')
      .option('--pairs <file>', 'pairs file (LFW pairs.txt format); default <dataset>/pairs.txt if present, else generated pairs')
      .option('--model <id>', 'embedder (default dlib-resnet)')
      .option('--identification <scope>', "identification images: 'pairs' (the verification images; default with a pairs file), 'full' (every image), 'none'")
      .option('--no-verification', 'skip verification')
      .option('--gallery-size <k>', 'photos averaged per enrolled identity', '1')
      .option('--open-set-fraction <f>', 'identities held out as never enrolled', '0.1')
      .option('--seed <n>', 'seed for generated pairs and splits', '42')
      .option('--max-identities <n>', 'only the first n identity folders (a quick look; without a pairs file)')
      .option('--face <policy>', "which face of a photo: 'center' (dataset photos) or 'largest'", 'center')
      .option('--threshold <t>', 'threshold for the open-set accept/reject table (default: the FPIR 1% one)')
      .option('--calibrate', 'write the threshold at --target-fpr into the store manifest (login uses it)')
      .option('--target-fpr <p>', 'false positive rate over impostor pairs to calibrate for (1:1 verification)', '1e-3')
      .option('--target-fpir <p>', 'calibrate for this false positive identification rate instead (1:N login against a gallery like the eval split)')
      .option('--store <dir>', 'store to calibrate (default $FACECTL_STORE or ~/.local/share/facectl/store)')
      .option('--reports <dir>', 'where report folders go', 'reports')
      .option('--no-cache', 'do not read or write the embedding cache')
      .option('--no-charts', 'skip PNG charts'),
  ).action(action(runEval));
}

async function runEval(opts: EvalOpts): Promise<void> {
  const started = performance.now();
  const root = path.resolve(opts.dataset);
  const dataset = limitIdentities(scanIdentityFolders(root), numberOption('--max-identities', opts.maxIdentities, 2, 1e9));
  const pairsFile = opts.verification ? findPairsFile(root, opts.pairs) : null;
  if (pairsFile && opts.maxIdentities !== undefined)
    throw new FacectlError(ExitCode.USAGE, `--max-identities cannot shorten a pairs protocol (${pairsFile}); use --no-verification or a dataset without pairs.txt`);
  const seed = numberOption('--seed', opts.seed, 0, 2 ** 31) ?? 42;
  const protocol: PairProtocol | null = !opts.verification ? null : pairsFile ? readPairsFile(pairsFile) : generatePairs(dataset, { seed });
  const scope = (opts.identification ?? (pairsFile ? 'pairs' : 'full')) as EvalOpts['identification'];
  if (!['pairs', 'full', 'none'].includes(scope)) throw new FacectlError(ExitCode.USAGE, `--identification must be pairs, full or none, got "${scope}"`);
  if (opts.face !== 'center' && opts.face !== 'largest') throw new FacectlError(ExitCode.USAGE, `--face must be center or largest, got "${opts.face}"`);

  const split =
    scope === 'none'
      ? null
      : makeIdentificationSplit(scope === 'pairs' && protocol ? restrictTo(dataset, imagesOfPairs(protocol.pairs)) : dataset, {
          gallerySize: numberOption('--gallery-size', opts.gallerySize, 1, 1000),
          openSetFraction: numberOption('--open-set-fraction', opts.openSetFraction, 0, 0.9),
          seed,
        });
  const images = [...new Set([...(protocol ? imagesOfPairs(protocol.pairs) : []), ...(split ? splitImages(split) : [])])];
  if (!images.length) throw new FacectlError(ExitCode.USAGE, 'nothing to evaluate: no pairs and no identification images');

  const pipeline = await loadPipeline(opts);
  const model = pipeline.embedderInfo!;
  const cache = opts.cache ? EmbeddingCache.open(defaultCacheDir(), embeddingCacheKey(pipeline, opts.face), model.spec.dim) : null;
  const spinner = opts.quiet || opts.json ? null : ora({ text: `embedding ${images.length} images`, stream: process.stderr }).start();
  const embedStart = performance.now();
  const embedded = await embedImages(pipeline, root, images, {
    policy: opts.face,
    cache,
    onProgress: (p) => {
      if (!spinner || (p.done % 25 !== 0 && p.done !== p.total)) return;
      const elapsed = (performance.now() - embedStart) / 1000;
      const eta = p.done ? (elapsed / p.done) * (p.total - p.done) : 0;
      spinner.text = `embedding ${p.done}/${p.total} images · ${p.cached} cached · ${p.failed} without a face · ${p.imagesPerSecond.toFixed(1)} img/s · ETA ${formatSeconds(eta)}`;
    },
  });
  cache?.close();
  spinner?.succeed(`embedded ${images.length} images (${embedded.cached} from cache) in ${formatSeconds(embedded.seconds)}`);

  const lookup = (img: string) => embedded.results.get(img);
  const metricsStart = performance.now();
  const verification = protocol ? evaluateVerification(protocol, lookup) : undefined;
  const threshold = numberOption('--threshold', opts.threshold, -1, 1);
  const fpir = numberOption('--target-fpir', opts.targetFpir, 1e-9, 0.5);
  const fpirTargets = [...new Set([...DEFAULT_FPIR_TARGETS, ...(fpir ? [fpir] : [])])];
  const identification = split ? evaluateIdentification(split, lookup, { threshold, fpirTargets }) : undefined;
  const failures = collectFailures(images, lookup);
  const metrics: EvalMetrics = { verification: verification?.report, identification, failures: summarizeFailures(failures, images.length) };

  let calibrated: { value: number; store: string } | null = null;
  if (opts.calibrate) {
    const c = calibrate(opts, verification, identification);
    metrics.calibration = { ...c.calibration, basis: c.basis };
    const store = resolveStoreDir(opts.store);
    await calibrateStoreThreshold(store, model, { value: c.calibration.threshold, dataset: path.basename(root), targetFpr: c.target, basis: c.basis });
    calibrated = { value: c.calibration.threshold, store };
  }
  const metricsMs = performance.now() - metricsStart;

  const subtitle = `${path.basename(root)} · ${model.spec.id}`;
  const chartThreshold = calibrated ? { value: calibrated.value, label: `calibrated threshold ${calibrated.value.toFixed(3)}` } : undefined;
  const charts = opts.charts ? renderEvalCharts({ verification, identification, subtitle, threshold: chartThreshold }) : [];
  const report = writeReport(opts.reports, {
    metrics,
    charts,
    failures,
    command: ['facectl', ...process.argv.slice(2)].join(' '),
    versions: runtimeVersions(),
    dataset: { name: path.basename(root), path: root, identities: dataset.identities.length, images: images.length },
    model: { id: model.spec.id, hash: model.fingerprint },
    timings: {
      embedding: Math.round(embedded.seconds * 1000),
      metrics: Math.round(metricsMs),
      total: Math.round(performance.now() - started),
    },
    throughput: { imagesEmbedded: embedded.embedded, imagesFromCache: embedded.cached, imagesPerSecond: embedded.imagesPerSecond },
  });

  if (opts.json) {
    printJson({ report: report.dir, throughput: { imagesPerSecond: embedded.imagesPerSecond, embedded: embedded.embedded, cached: embedded.cached }, calibrated, metrics: compact(metrics) });
    return;
  }
  process.stdout.write(formatSummaryTable(metrics) + '\n');
  process.stdout.write(
    `throughput: ${embedded.imagesPerSecond.toFixed(1)} images/s over ${embedded.embedded} embedded images (${embedded.cached} from cache)\n` +
      `report: ${report.markdown}\n`,
  );
  if (calibrated) note(opts, `threshold ${calibrated.value.toFixed(4)} written to ${calibrated.store}/manifest.json`);
}

/**
 * --calibrate: the threshold at --target-fpr over impostor pairs (1:1), or at --target-fpir over the
 * non-mated probes' best gallery scores (1:N, what a login against a gallery of this size faces).
 */
function calibrate(opts: EvalOpts, verification: VerificationResult | undefined, identification: IdentificationReport | undefined) {
  if (opts.targetFpir !== undefined) {
    const target = numberOption('--target-fpir', opts.targetFpir, 1e-9, 0.5)!;
    if (!identification?.probeScores) throw new FacectlError(ExitCode.USAGE, '--target-fpir needs identification (not --identification none)');
    // A probe with no score (no face, or wrong top candidate) can never be accepted: below any cosine.
    const scores = (xs: number[]) => xs.map((x) => (Number.isFinite(x) ? x : -2));
    const { mated, nonMated } = identification.probeScores;
    return { calibration: calibrateThreshold(scores(nonMated), target, scores(mated)), target, basis: 'open-set' as const };
  }
  if (!verification) throw new FacectlError(ExitCode.USAGE, '--calibrate needs verification pairs (or --target-fpir with identification)');
  const target = numberOption('--target-fpr', opts.targetFpr, 1e-9, 0.5)!;
  const { scores, same } = verification.scored;
  const valid = (want: boolean) => scores.filter((s, i) => same[i] === want && s > -1);
  return { calibration: calibrateThreshold(valid(false), target, valid(true)), target, basis: 'pairs' as const };
}

/** The first `max` identities (natural order), for a quick evaluation of a large set. */
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

function splitImages(split: ReturnType<typeof makeIdentificationSplit>): string[] {
  return [...split.gallery.flatMap((g) => g.images), ...split.matedProbes.map((p) => p.image), ...split.nonMatedProbes.map((p) => p.image)];
}

/** metrics.json holds full curves; --json on stdout keeps the numbers a script wants. */
function compact(metrics: EvalMetrics): unknown {
  return JSON.parse(JSON.stringify(metrics, (key, v) => (key === 'roc' || key === 'cmc' || key === 'probeScores' ? undefined : v)));
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m ? `${m}m${Math.round(s % 60).toString().padStart(2, '0')}s` : `${s.toFixed(1)}s`;
}
