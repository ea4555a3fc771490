/**
 * Thresholds chosen from the negative (impostor / non-mated) scores so that at most a target
 * fraction of negatives is accepted. One function serves TPR@FPR, --calibrate and DIR@FPIR,
 * so all three use the same, documented rule:
 *
 *   allowed = floor(target * N) false accepts, N = number of negatives;
 *   pivot   = the (allowed + 1)-th highest negative score (any threshold <= pivot accepts too many);
 *   threshold = midpoint between the pivot and the next higher distinct score among all scores
 *               given (negatives and positives), or pivot + EDGE_MARGIN when nothing is higher.
 *
 * This is the threshold with the most positives accepted while FPR <= target (the
 * "highest TPR with FPR <= target" point of the ROC), placed mid-gap rather than on a
 * sample score so it does not sit exactly on a measured value.
 */

/** Distance beyond the extreme score used for "accept all" / "reject all" thresholds. */
export const EDGE_MARGIN = 1e-6;

/** A threshold strictly between lo and hi (hi > lo), preferring the midpoint. */
export function midpointAbove(lo: number, hi: number): number {
  const mid = lo + (hi - lo) / 2;
  return mid > lo ? mid : hi;
}

export interface FalseAcceptOperatingPoint {
  targetRate: number;
  /** Accept when score >= threshold. */
  threshold: number;
  /** Negatives with score >= threshold. */
  falseAccepts: number;
  /** All negatives, including those that can never be accepted (e.g. a probe with no face). */
  negatives: number;
  /** floor(targetRate * negatives). */
  allowedFalseAccepts: number;
  achievedRate: number;
  /** Positives with score >= threshold, and the number of positives given. */
  truePositives: number;
  positives: number;
  /** False when negatives * targetRate < 1: the rate cannot be measured, only bounded by 0. */
  reliable: boolean;
}

export function checkRate(target: number, what = 'target rate'): void {
  if (!(target > 0 && target < 1)) throw new RangeError(`${what} must be in (0, 1), got ${target}`);
}

/**
 * Threshold keeping the false accept rate at or below `targetRate` (see the file comment).
 * `negativeScores` are the finite negative scores; `neverAccepted` counts extra negatives with
 * no score at all (they count in N but are rejected at every threshold).
 */
export function thresholdAtFalseAcceptRate(
  negativeScores: ArrayLike<number>,
  targetRate: number,
  positiveScores: ArrayLike<number> = [],
  neverAccepted = 0,
): FalseAcceptOperatingPoint {
  checkRate(targetRate);
  const neg = Float64Array.from(negativeScores).sort().reverse();
  const pos = Float64Array.from(positiveScores);
  for (const s of [...neg, ...pos]) if (!Number.isFinite(s)) throw new RangeError(`score is not finite: ${s}`);
  const total = neg.length + neverAccepted;
  if (total === 0) throw new RangeError('no negative scores to set a threshold from');
  // The small epsilon keeps 0.001 * 3000 = 2.9999999999999996 from flooring to 2.
  const allowed = Math.floor(targetRate * total + 1e-9);

  let threshold: number;
  if (allowed >= neg.length) {
    // Every scored negative may be accepted: go just below the lowest score of all.
    let lowest = Infinity;
    for (const s of [...neg, ...pos]) lowest = Math.min(lowest, s);
    threshold = Number.isFinite(lowest) ? lowest - EDGE_MARGIN : 1;
  } else {
    const pivot = neg[allowed]!;
    let higher = Infinity;
    for (const s of neg) if (s > pivot && s < higher) higher = s;
    for (const s of pos) if (s > pivot && s < higher) higher = s;
    threshold = Number.isFinite(higher) ? midpointAbove(pivot, higher) : pivot + EDGE_MARGIN;
  }

  let falseAccepts = 0;
  for (const s of neg) if (s >= threshold) falseAccepts++;
  let truePositives = 0;
  for (const s of pos) if (s >= threshold) truePositives++;
  return {
    targetRate,
    threshold,
    falseAccepts,
    negatives: total,
    allowedFalseAccepts: allowed,
    achievedRate: falseAccepts / total,
    truePositives,
    positives: pos.length,
    reliable: allowed >= 1,
  };
}

export interface TprAtFpr {
  targetFpr: number;
  /** Highest TPR over thresholds with FPR <= targetFpr; null when not measurable (see reason). */
  tpr: number | null;
  threshold: number | null;
  fpr: number | null;
  truePositives: number;
  falsePositives: number;
  reason?: string;
}

/**
 * TPR at a target FPR. Reported as null when there are fewer than 1/targetFpr impostor pairs:
 * then even a single false accept exceeds the target, so the figure would only describe FPR = 0.
 */
export function tprAtFpr(genuineScores: ArrayLike<number>, impostorScores: ArrayLike<number>, targetFpr: number): TprAtFpr {
  const op = thresholdAtFalseAcceptRate(impostorScores, targetFpr, genuineScores);
  if (!op.reliable) {
    return {
      targetFpr,
      tpr: null,
      threshold: null,
      fpr: null,
      truePositives: op.truePositives,
      falsePositives: op.falseAccepts,
      reason: `needs at least ${minimumNegatives(targetFpr)} impostor pairs, have ${op.negatives}`,
    };
  }
  return {
    targetFpr,
    tpr: op.truePositives / op.positives,
    threshold: op.threshold,
    fpr: op.achievedRate,
    truePositives: op.truePositives,
    falsePositives: op.falseAccepts,
  };
}

export interface ThresholdCalibration extends FalseAcceptOperatingPoint {
  /** TPR (genuine accept rate) at the threshold, when genuine scores were given. */
  tpr: number | null;
  /** Human-readable caveat, e.g. too few impostors for the target. */
  note: string;
}

/**
 * `--calibrate`: the threshold for a target false accept rate, with the counts it rests on. `negatives`
 * names what the impostor scores are, for the note (impostor pairs, or non-mated probes).
 */
export function calibrateThreshold(
  impostorScores: ArrayLike<number>,
  targetFpr: number,
  genuineScores: ArrayLike<number> = [],
  negatives = 'impostor pairs',
): ThresholdCalibration {
  const op = thresholdAtFalseAcceptRate(impostorScores, targetFpr, genuineScores);
  const note = op.reliable
    ? `${op.falseAccepts} of ${op.negatives} ${negatives} accepted (at most ${op.allowedFalseAccepts} allowed)`
    : `only ${op.negatives} ${negatives}: a rate of ${targetFpr} needs at least ${minimumNegatives(targetFpr)}; ` +
      'the threshold rejects every one seen, but the true rate is not measured';
  return { ...op, tpr: op.positives > 0 ? op.truePositives / op.positives : null, note };
}

/** How many negatives a false accept rate needs before one accept is allowed: ceil(1 / rate). */
export const minimumNegatives = (rate: number) => Math.ceil(1 / rate - 1e-9);
