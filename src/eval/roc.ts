/**
 * ROC analysis of verification scores.
 *
 * Conventions used by every metric in src/eval:
 *  - a score is a similarity: higher means "more likely the same person";
 *  - a threshold t accepts a pair (predicts "same") when score >= t;
 *  - positives are genuine (same-identity) pairs, negatives impostor pairs.
 */

export interface RocCurve {
  /**
   * One point per distinct score, in decreasing threshold order, preceded by the point
   * (0, 0) at threshold +Infinity (nothing accepted). The last point is (1, 1).
   * Tied scores share one point, so a tie between a genuine and an impostor score
   * is a diagonal step, never an optimistic or pessimistic staircase.
   */
  thresholds: number[];
  fpr: number[];
  tpr: number[];
  /** Cumulative counts at each point (accepted genuine / accepted impostor pairs). */
  truePositives: number[];
  falsePositives: number[];
  positives: number;
  negatives: number;
}

/** Throws when the arrays differ in length or a score is not a finite number (a bug upstream). */
export function checkScores(scores: ArrayLike<number>, same: ArrayLike<boolean>): void {
  if (scores.length !== same.length) {
    throw new RangeError(`scores (${scores.length}) and labels (${same.length}) differ in length`);
  }
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) throw new RangeError(`score ${i} is not a finite number: ${scores[i]}`);
  }
}

/** Indices sorted by decreasing score (ties in index order, which does not affect any result). */
function byScoreDescending(scores: ArrayLike<number>): Uint32Array {
  const order = new Uint32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/** Tie-aware ROC curve. Needs at least one genuine and one impostor pair. */
export function rocCurve(scores: ArrayLike<number>, same: ArrayLike<boolean>): RocCurve {
  checkScores(scores, same);
  let positives = 0;
  for (let i = 0; i < same.length; i++) if (same[i]) positives++;
  const negatives = same.length - positives;
  if (positives === 0 || negatives === 0) {
    throw new RangeError(`a ROC curve needs both classes (got ${positives} genuine, ${negatives} impostor)`);
  }
  const curve: RocCurve = {
    thresholds: [Infinity],
    fpr: [0],
    tpr: [0],
    truePositives: [0],
    falsePositives: [0],
    positives,
    negatives,
  };
  const order = byScoreDescending(scores);
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; ) {
    const value = scores[order[k]!]!;
    // Consume the whole group of equal scores before emitting a point.
    while (k < order.length && scores[order[k]!] === value) {
      if (same[order[k]!]) tp++;
      else fp++;
      k++;
    }
    curve.thresholds.push(value);
    curve.truePositives.push(tp);
    curve.falsePositives.push(fp);
    curve.tpr.push(tp / positives);
    curve.fpr.push(fp / negatives);
  }
  return curve;
}

/** Area under the ROC curve by the trapezoid rule (equals the Mann–Whitney probability with ties as 1/2). */
export function rocAuc(roc: RocCurve): number {
  let area = 0;
  for (let i = 1; i < roc.fpr.length; i++) {
    area += (roc.fpr[i]! - roc.fpr[i - 1]!) * (roc.tpr[i]! + roc.tpr[i - 1]!) / 2;
  }
  return area;
}

export interface EqualErrorRate {
  /** The rate where the false accept rate equals the false reject rate (1 - TPR), linearly interpolated on the ROC. */
  rate: number;
  /** The score of the ROC point closest to the crossing: a real, usable threshold. */
  threshold: number;
}

/**
 * EER: walk the ROC until FPR - FNR changes sign, then interpolate linearly inside that
 * segment. FPR - FNR is -1 at the first point and +1 at the last, so a crossing always exists.
 */
export function equalErrorRate(roc: RocCurve): EqualErrorRate {
  const gap = (i: number) => roc.fpr[i]! - (1 - roc.tpr[i]!);
  for (let i = 1; i < roc.fpr.length; i++) {
    const d0 = gap(i - 1);
    const d1 = gap(i);
    if (d1 < 0) continue;
    const alpha = d1 === d0 ? 0 : d0 / (d0 - d1);
    const rate = roc.fpr[i - 1]! + alpha * (roc.fpr[i]! - roc.fpr[i - 1]!);
    // Point 0 has threshold +Infinity; it is never "closest" because its gap is -1 (|d0| = 1 >= |d1|) unless d1 = 1.
    const closest = Math.abs(d0) < Math.abs(d1) && i - 1 > 0 ? i - 1 : i;
    return { rate, threshold: roc.thresholds[closest]! };
  }
  // Unreachable for a curve from rocCurve(): its last point has FPR = 1, FNR = 0.
  throw new RangeError('ROC curve does not end at (1, 1)');
}
