/**
 * `eval --calibrate`: the threshold at the target rate from an evaluation's measurements (chooseThreshold),
 * and, once the report is written in full but still hidden, the threshold into the store (writeCalibration).
 */
import path from 'node:path';
import { ExitCode, FacectlError } from '../errors.js';
import { calibrateThreshold, discardStagedReport, type StagedReport } from '../eval/index.js';
import type { FacePipeline } from '../pipeline/pipeline.js';
import { calibrateStoreThreshold } from './calibrate.js';
import type { EvalMeasurement, EvalPlan, EvalRequest } from './eval.js';

/**
 * The calibrated threshold: at targetFpir over the non-mated probes' best gallery scores (1:N, what a
 * login against a gallery of this size faces), else at targetFpr over impostor pairs (1:1). Only probes
 * and pairs with a face count as negatives: login never applies its threshold to a photo without one
 * (exit 4), so counting them as rejected strangers would loosen the threshold.
 */
export function chooseThreshold(m: EvalMeasurement, targetFpr: number, targetFpir: number | undefined) {
  if (targetFpir !== undefined) {
    if (!m.identification?.probeScores)
      throw new FacectlError(ExitCode.USAGE, 'a 1:N (login) threshold needs identification (not --identification none); --target-fpr <p> fits a 1:1 one on the pairs');
    const { mated, nonMated } = m.identification.probeScores;
    const strangers = nonMated.filter(Number.isFinite);
    if (strangers.length === 0)
      throw new FacectlError(
        ExitCode.USAGE,
        `no non-mated probe with a face to set a login threshold from (${nonMated.length} non-mated probes): hold more identities out with --open-set-fraction, or use a dataset with more people`,
      );
    // A mated probe with no score (no face, or wrong top candidate) is never a correct accept: below any cosine.
    const genuine = mated.map((x) => (Number.isFinite(x) ? x : -2));
    return { calibration: calibrateThreshold(strangers, targetFpir, genuine, 'non-mated probes'), target: targetFpir, basis: 'open-set' as const };
  }
  if (!m.verification) throw new FacectlError(ExitCode.USAGE, '--calibrate needs verification pairs (or --target-fpir with identification)');
  const { scores, same } = m.verification.scored;
  const valid = (want: boolean) => scores.filter((s, i) => same[i] === want && s > -1);
  const impostors = valid(false);
  if (impostors.length === 0)
    throw new FacectlError(ExitCode.USAGE, 'no impostor pair with a face on both sides to set a threshold from: use a pairs file or dataset with more people');
  return { calibration: calibrateThreshold(impostors, targetFpr, valid(true)), target: targetFpr, basis: 'pairs' as const };
}

/**
 * --calibrate, first half: the threshold at the target rate, into the metrics (so the report gives it). Whether
 * it goes into the store is decided here (not when its rate cannot be measured: too few negatives for the
 * target); writeCalibration writes it, after the report.
 */
export function chooseCalibration(plan: EvalPlan, m: EvalMeasurement, req: EvalRequest): PendingCalibration | null {
  if (!req.calibrate) return null;
  const c = chooseThreshold(m, req.calibrate.targetFpr, req.targetFpir);
  m.metrics.calibration = { ...c.calibration, basis: c.basis, written: c.calibration.reliable };
  const outcome = { value: c.calibration.threshold, store: req.calibrate.gallery.location, written: c.calibration.reliable, note: c.calibration.note };
  return { outcome, write: { value: c.calibration.threshold, dataset: path.basename(plan.root), targetFpr: c.target, basis: c.basis } };
}

export interface PendingCalibration {
  outcome: CalibrationOutcome;
  write: Parameters<typeof calibrateStoreThreshold>[2];
}

/**
 * --calibrate, second half, once the report is written in full but still hidden (staged): the threshold into
 * the store's manifest (login uses it). Should that fail (the store locked, another model enrolled meanwhile),
 * the staged report, which gives the threshold as written, is removed and the error says so: a failed eval
 * leaves the store as it was, and no report.
 */
export async function writeCalibration(pipeline: FacePipeline, pending: PendingCalibration | null, req: EvalRequest, staged: StagedReport): Promise<void> {
  if (!pending || !pending.outcome.written) return;
  try {
    await calibrateStoreThreshold(req.calibrate!.gallery, pipeline.embedderInfo!, pending.write);
  } catch (err) {
    discardStagedReport(staged);
    if (err instanceof FacectlError)
      throw new FacectlError(err.code, `${err.message}; threshold not written to the store, and the report ${staged.partial} was removed (it gave it as written)`, err.file);
    throw err;
  }
}

/** What --calibrate did: the threshold, and whether it went into the store (not when its rate is unmeasured). */
export interface CalibrationOutcome {
  value: number;
  store: string;
  written: boolean;
  note: string;
}

