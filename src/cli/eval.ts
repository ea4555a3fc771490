/**
 * `facectl eval --dataset <dir>`: verification (pairs file or generated pairs, LFW 10-fold protocol)
 * and identification (closed and open set) through the real pipeline; charts and a report under reports/.
 */
import { DEFAULT_EMBEDDER } from '../models/registry.js';
import type { Command } from 'commander';
import type { EvalRequest, IdentificationScope } from '../app/eval.js';
import type { CalibrationOutcome } from '../app/eval-calibration.js';
import { ExitCode, FacectlError, printable } from '../errors.js';
import type { EvalMetrics } from '../eval/index.js';
import type { Gallery } from '../gallery/types.js';
import { redactArgs } from '../redact-url.js';
import { openStore } from './store-option.js';
import { loadPipelineForStore } from './store-pipeline.js';
import { DETECTOR_DEFAULT, action, loadPipeline, note, numberOption, printJson, refuseIdleOptions, withDetectorOption, withGlobalOptions, type GlobalOptions } from './common.js';
import { withSpinner } from './progress.js';

interface EvalOpts extends GlobalOptions {
  dataset: string;
  pairs?: string;
  identification?: string;
  verification: boolean;
  gallerySize?: string;
  openSetFraction?: string;
  seed?: string;
  face: string;
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
  withDetectorOption(withGlobalOptions(
    program
      .command('eval')
      .description('measure accuracy on a dataset: LFW-style 10-fold verification, TPR@FPR, ROC-AUC, rank-1/5, open-set DIR@FPIR; charts + report')
      .requiredOption('--dataset <dir>', 'folder-per-identity dataset (<dir>/<person>/<image>)')
      .option('--pairs <file>', 'pairs file (LFW pairs.txt format); default <dataset>/pairs.txt if present, else generated pairs')
      .option('--model <id>', `embedder (default ${DEFAULT_EMBEDDER}; with --calibrate, the store's)`)
      .option('--identification <scope>', "identification images: 'pairs' (the verification images; default with a pairs file), 'full' (every image), 'none'")
      .option('--no-verification', 'skip verification')
      // No commander defaults (eval/splits.ts has them): given with --identification none, they are refused.
      .option('--gallery-size <k>', 'photos averaged per enrolled identity (default 1)')
      .option('--open-set-fraction <f>', 'identities held out as never enrolled (default 0.1)')
      .option('--seed <n>', 'seed for generated pairs and splits', '42')
      .option('--max-identities <n>', 'only the first n identity folders (a quick look; without a pairs file)')
      .option('--face <policy>', "which face of a photo: 'center' (dataset photos) or 'largest'", 'center')
      .option('--threshold <t>', 'threshold for the open-set accept/reject table (default: the FPIR 1% one)')
      .option('--calibrate', `write a login threshold into the store manifest: at a false positive identification rate of ${CALIBRATE_FPIR} over the open-set search (1:N, what login faces), unless --target-fpir or --target-fpr says otherwise`)
      .option('--target-fpr <p>', 'calibrate at this false positive rate over impostor pairs instead (1:1 verification: far more lenient than a login needs)')
      .option('--target-fpir <p>', `calibrate at this false positive identification rate (1:N; default ${CALIBRATE_FPIR}); also adds it to the open-set table`)
      .option('--store <dir|url>', 'with --calibrate: the store to calibrate, a folder or postgres://… URL (default $FACECTL_STORE, else $XDG_DATA_HOME/facectl/store, else ~/.local/share/facectl/store)')
      .option('--reports <dir>', 'where report folders go', 'reports')
      .option('--no-cache', 'do not read or write the embedding cache')
      .option('--no-charts', 'skip PNG charts'),
  ), DETECTOR_DEFAULT.eval).action(action(evalCommand));
}

/** The login criterion the built-in login thresholds were fitted at (src/models/registry.ts). */
const CALIBRATE_FPIR = 1e-2;

/**
 * What --calibrate fits: a 1:N threshold at --target-fpir (default CALIBRATE_FPIR), since login searches
 * the whole gallery; a 1:1 one at --target-fpr only when asked, as a pairs threshold lets far more strangers
 * in at login (0.34 against 0.505 for the default model).
 */
function calibrationTarget(opts: EvalOpts, gallery: Gallery | null): Pick<EvalRequest, 'targetFpir' | 'calibrate'> {
  const targetFpir = numberOption('--target-fpir', opts.targetFpir, 1e-9, 0.5);
  const targetFpr = numberOption('--target-fpr', opts.targetFpr, 1e-9, 0.5);
  if (targetFpr !== undefined && !gallery) throw new FacectlError(ExitCode.USAGE, '--target-fpr only chooses what --calibrate fits');
  if (targetFpr !== undefined && targetFpir !== undefined) throw new FacectlError(ExitCode.USAGE, 'give --target-fpir (1:N) or --target-fpr (1:1), not both');
  if (!gallery) return { targetFpir };
  // What the calibration would fit from must be measured: refused before hours of embedding, not after.
  if (targetFpr !== undefined && !opts.verification) throw new FacectlError(ExitCode.USAGE, '--target-fpr fits a 1:1 threshold on verification pairs: not with --no-verification');
  if (targetFpr === undefined && opts.identification === 'none')
    throw new FacectlError(ExitCode.USAGE, 'a 1:N (login) threshold needs identification (not --identification none); --target-fpr <p> fits a 1:1 one on the pairs');
  if (targetFpr !== undefined) return { calibrate: { gallery, targetFpr } };
  // chooseThreshold takes the FPIR when one is given; its FPR argument goes unused then.
  return { targetFpir: targetFpir ?? CALIBRATE_FPIR, calibrate: { gallery, targetFpr: 1e-3 } };
}

/**
 * The command as recorded in the report, to be pasted back into a shell: each argument shell-quoted
 * (`--dataset 'my data'`), any postgres:// password masked.
 */
export function commandLine(args: readonly string[]): string {
  return ['facectl', ...redactArgs(args)].map(shellQuote).join(' ');
}

/**
 * One argument as a POSIX shell reads it back: as is when it holds only characters no shell treats
 * specially, else in single quotes (an embedded ' written '\''), so "my data" stays one argument; with a
 * control character (a newline, an escape) in bash's $'…', each escaped (\n, \x1b), so the line stays one.
 */
function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  if (printable(arg) !== arg) return `$'${printable(arg.replace(/[\\']/g, '\\$&'))}'`;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The options as an EvalRequest: every number range-checked before any model or dataset is loaded. */
function evalRequest(opts: EvalOpts, gallery: Gallery | null, versions: Record<string, string>): EvalRequest {
  const scope = opts.identification;
  if (scope !== undefined && !['pairs', 'full', 'none'].includes(scope)) throw new FacectlError(ExitCode.USAGE, `--identification must be pairs, full or none, got "${scope}"`);
  if (opts.face !== 'center' && opts.face !== 'largest') throw new FacectlError(ExitCode.USAGE, `--face must be center or largest, got "${opts.face}"`);
  // The identification split's options and the open-set table's: nothing to act on without identification.
  if (scope === 'none')
    refuseIdleOptions(
      { '--gallery-size': opts.gallerySize, '--open-set-fraction': opts.openSetFraction, '--threshold': opts.threshold, '--target-fpir': opts.calibrate ? undefined : opts.targetFpir },
      'with --identification none',
    );
  return {
    datasetDir: opts.dataset,
    pairsFile: opts.pairs,
    verification: opts.verification,
    identification: scope as IdentificationScope | undefined,
    gallerySize: numberOption('--gallery-size', opts.gallerySize, 1, 1000, { integer: true }),
    openSetFraction: numberOption('--open-set-fraction', opts.openSetFraction, 0, 0.9),
    seed: numberOption('--seed', opts.seed, 0, 2 ** 31, { integer: true }) ?? 42,
    maxIdentities: numberOption('--max-identities', opts.maxIdentities, 2, 1e9, { integer: true }),
    face: opts.face,
    threshold: numberOption('--threshold', opts.threshold, -1, 1),
    ...calibrationTarget(opts, gallery),
    cache: opts.cache,
    charts: opts.charts,
    reportsDir: opts.reports,
    // The report is a file others may read: a postgres:// password typed in --store stays out of it.
    provenance: { command: commandLine(process.argv.slice(2)), versions },
  };
}

async function evalCommand(opts: EvalOpts): Promise<void> {
  // Only --calibrate writes to a store: without it a --store would be ignored (as --target-fpr is refused).
  if (!opts.calibrate) refuseIdleOptions({ '--store': opts.store }, 'without --calibrate (only --calibrate writes to a store)');
  const gallery = opts.calibrate ? await openStore(opts) : null;
  try {
    await evalWith(opts, gallery);
  } finally {
    await gallery?.close();
  }
}

async function evalWith(opts: EvalOpts, gallery: Gallery | null): Promise<void> {
  // The evaluation code (metrics, charts, canvas) loads only for this command.
  const [{ planEval, runEval, discardPlan }, { formatSummaryTable }, { runtimeVersions }] = await Promise.all([
    import('../app/eval.js'),
    import('../eval/index.js'),
    import('./versions.js'),
  ]);
  const req = evalRequest(opts, gallery, runtimeVersions());
  const plan = planEval(req);
  if (plan.notEvaluated) note(opts, `note: not evaluated: ${plan.notEvaluated}`);
  let pipeline;
  try {
    // A threshold written into a store holds for its model and detector only: calibrate with them unless told otherwise.
    pipeline = gallery ? await loadPipelineForStore(opts, gallery) : await loadPipeline(opts);
  } catch (err) {
    discardPlan(plan); // the reports folder planning made (runEval does the same after this)
    throw err;
  }
  const r = await withSpinner(opts, `embedding ${plan.images.length} images`, (spinner) => {
    const started = performance.now();
    return runEval(pipeline, plan, req, {
      onEmbedProgress: (p) => {
        if (!spinner || (p.done % 25 !== 0 && p.done !== p.total)) return;
        const elapsed = (performance.now() - started) / 1000;
        const eta = p.done ? (elapsed / p.done) * (p.total - p.done) : 0;
        spinner.text = `embedding ${p.done}/${p.total} images · ${p.cached} cached · ${p.failed} without a face · ${p.imagesPerSecond.toFixed(1)} img/s · ETA ${formatSeconds(eta)}`;
      },
      onEmbedded: (e) => spinner?.succeed(`embedded ${plan.images.length} images (${e.cached} from cache) in ${formatSeconds(e.seconds)}`),
    });
  });

  if (r.chartsFailed) note(opts, `warning: the charts could not be drawn (${r.chartsFailed}); the report has none`);
  if (opts.json) {
    const { embedded } = r;
    printJson({ report: r.report.dir, throughput: { imagesPerSecond: embedded.imagesPerSecond, embedded: embedded.embedded, cached: embedded.cached }, calibrated: r.calibrated, metrics: compact(r.metrics) });
    refuseUnmeasured(r.calibrated);
    return;
  }
  process.stdout.write(formatSummaryTable(r.metrics) + '\n');
  process.stdout.write(
    `throughput: ${r.embedded.imagesPerSecond.toFixed(1)} images/s over ${r.embedded.embedded} embedded images (${r.embedded.cached} from cache)\n` +
      `report: ${r.report.markdown}\n`,
  );
  refuseUnmeasured(r.calibrated);
  if (r.calibrated) note(opts, `threshold ${r.calibrated.value.toFixed(4)} written to the store ${r.calibrated.store}`);
}

/** A calibration whose rate this dataset cannot measure fails the command, after its report: nothing was written. */
function refuseUnmeasured(c: CalibrationOutcome | null): void {
  if (c && !c.written) throw new FacectlError(ExitCode.USAGE, `threshold not written to the store: ${c.note}`);
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
