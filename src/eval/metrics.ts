/**
 * Verification metrics from (score, isSame) arrays, in one call. The building blocks live in
 * roc.ts, operating-point.ts, accuracy.ts and identification.ts and are re-exported here.
 */
import { ExitCode, FacectlError } from '../errors.js';
import { bestAccuracyThreshold, kFoldAccuracy, type BestThreshold, type KFoldAccuracy } from './accuracy.js';
import { tprAtFpr, type TprAtFpr } from './operating-point.js';
import { equalErrorRate, rocAuc, rocCurve, type EqualErrorRate, type RocCurve } from './roc.js';

export * from './accuracy.js';
export * from './identification.js';
export * from './operating-point.js';
export * from './roc.js';

export const DEFAULT_FPR_TARGETS = [1e-1, 1e-2, 1e-3, 1e-4] as const;

export interface VerificationMetrics {
  pairs: number;
  genuinePairs: number;
  impostorPairs: number;
  rocAuc: number;
  eer: EqualErrorRate;
  tprAtFpr: TprAtFpr[];
  /** Best single threshold on all pairs (optimistic: tuned and tested on the same pairs). */
  bestThreshold: BestThreshold;
  /** Held-out accuracy with per-fold thresholds; null when no fold assignment was given. */
  kFold: KFoldAccuracy | null;
  roc: RocCurve;
}

export interface VerificationInput {
  scores: ArrayLike<number>;
  same: ArrayLike<boolean>;
  /** Pair folds for k-fold accuracy (0..foldCount-1). */
  folds?: ArrayLike<number>;
  foldCount?: number;
  fprTargets?: readonly number[];
}

/** All verification metrics. Throws USAGE when there is no genuine or no impostor pair (nothing to measure). */
export function verificationMetrics(input: VerificationInput): VerificationMetrics {
  const { scores, same } = input;
  const genuine: number[] = [];
  const impostor: number[] = [];
  for (let i = 0; i < scores.length; i++) (same[i] ? genuine : impostor).push(scores[i]!);
  if (genuine.length === 0 || impostor.length === 0) {
    throw new FacectlError(
      ExitCode.USAGE,
      `verification needs at least one genuine and one impostor pair (have ${genuine.length} genuine, ${impostor.length} impostor)`,
    );
  }
  const roc = rocCurve(scores, same);
  const folds = input.folds;
  return {
    pairs: scores.length,
    genuinePairs: genuine.length,
    impostorPairs: impostor.length,
    rocAuc: rocAuc(roc),
    eer: equalErrorRate(roc),
    tprAtFpr: (input.fprTargets ?? DEFAULT_FPR_TARGETS).map((t) => tprAtFpr(genuine, impostor, t)),
    bestThreshold: bestAccuracyThreshold(scores, same),
    kFold: folds ? kFoldAccuracy(scores, same, folds, input.foldCount ?? Math.max(0, ...Array.from(folds)) + 1) : null,
    roc,
  };
}
