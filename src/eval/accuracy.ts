/**
 * Accuracy-based verification metrics: the single best threshold, and LFW's 10-fold protocol.
 * A threshold t predicts "same" when score >= t (see roc.ts).
 */
import { EDGE_MARGIN, midpointAbove } from './operating-point.js';
import { checkScores } from './roc.js';

export interface BestThreshold {
  /** Accept when score >= threshold. */
  threshold: number;
  accuracy: number;
  correct: number;
  total: number;
}

/**
 * The threshold maximising accuracy on the given pairs.
 *
 * Candidates are the cuts between adjacent distinct scores (plus "accept all" and
 * "reject all"); a cut's threshold is the midpoint of the two scores around it, or the
 * extreme score -/+ EDGE_MARGIN for the outer cuts. When several cuts reach the maximum, the
 * middle one of them in score order is taken (the lower of the two middles for an even count),
 * which avoids systematically favouring strict or lenient thresholds.
 */
export function bestAccuracyThreshold(scores: ArrayLike<number>, same: ArrayLike<boolean>): BestThreshold {
  checkScores(scores, same);
  const n = scores.length;
  if (n === 0) throw new RangeError('no pairs to choose a threshold from');
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);

  // Distinct values ascending with the genuine / impostor count at each.
  const values: number[] = [];
  const genuineAt: number[] = [];
  const impostorAt: number[] = [];
  for (const i of order) {
    const v = scores[i]!;
    if (values.length === 0 || values[values.length - 1] !== v) {
      values.push(v);
      genuineAt.push(0);
      impostorAt.push(0);
    }
    if (same[i]) genuineAt[values.length - 1]!++;
    else impostorAt[values.length - 1]!++;
  }

  // Cut c accepts distinct values c..m-1. Start with c = 0 (accept all): correct = all genuine.
  const m = values.length;
  let correct = genuineAt.reduce((a, b) => a + b, 0);
  let best = correct;
  let bestCuts = [0];
  for (let c = 1; c <= m; c++) {
    // Moving the cut above value c-1 rejects its pairs: impostors become correct, genuine wrong.
    correct += impostorAt[c - 1]! - genuineAt[c - 1]!;
    if (correct > best) {
      best = correct;
      bestCuts = [c];
    } else if (correct === best) {
      bestCuts.push(c);
    }
  }
  const cut = bestCuts[Math.floor((bestCuts.length - 1) / 2)]!;
  const threshold =
    cut === 0 ? values[0]! - EDGE_MARGIN : cut === m ? values[m - 1]! + EDGE_MARGIN : midpointAbove(values[cut - 1]!, values[cut]!);
  return { threshold, accuracy: best / n, correct: best, total: n };
}

export interface FoldAccuracy {
  fold: number;
  /** Threshold chosen on the other folds. */
  threshold: number;
  /** Accuracy of that threshold on this fold. */
  accuracy: number;
  pairs: number;
}

export interface KFoldAccuracy {
  /** Mean of the per-fold accuracies (each held-out fold weighs the same, as in LFW). */
  mean: number | null;
  /** Sample standard deviation of the fold accuracies (n - 1 denominator). */
  sampleStd: number | null;
  /** Standard error of the mean = sampleStd / sqrt(folds evaluated): what the LFW results page reports as "±". */
  standardError: number | null;
  /** Population standard deviation (n denominator): what numpy's std gives, used by several papers' code. */
  populationStd: number | null;
  folds: FoldAccuracy[];
  /** Folds with no pairs: neither tested nor used in the mean. */
  emptyFolds: number[];
  reason?: string;
}

/**
 * LFW-standard k-fold accuracy: for each fold, the threshold maximising accuracy on the other
 * folds (bestAccuracyThreshold) is applied to the held-out fold. `foldOf[i]` is pair i's fold,
 * in 0..foldCount-1. Empty folds are skipped; with fewer than two non-empty folds there is no
 * held-out estimate and the figures are null with a reason.
 */
export function kFoldAccuracy(
  scores: ArrayLike<number>,
  same: ArrayLike<boolean>,
  foldOf: ArrayLike<number>,
  foldCount: number,
): KFoldAccuracy {
  checkScores(scores, same);
  if (foldOf.length !== scores.length) throw new RangeError('fold assignment and scores differ in length');
  const members: number[][] = Array.from({ length: foldCount }, () => []);
  for (let i = 0; i < foldOf.length; i++) {
    const f = foldOf[i]!;
    if (!Number.isInteger(f) || f < 0 || f >= foldCount) throw new RangeError(`pair ${i} has fold ${f}, outside 0..${foldCount - 1}`);
    members[f]!.push(i);
  }
  const emptyFolds = members.flatMap((m, f) => (m.length === 0 ? [f] : []));
  const nonEmpty = foldCount - emptyFolds.length;
  const none = { mean: null, sampleStd: null, standardError: null, populationStd: null, folds: [], emptyFolds };
  if (nonEmpty < 2) return { ...none, reason: `needs at least 2 non-empty folds, have ${nonEmpty}` };

  const folds: FoldAccuracy[] = [];
  for (let f = 0; f < foldCount; f++) {
    const test = members[f]!;
    if (test.length === 0) continue;
    const train = members.flatMap((m, g) => (g === f ? [] : m));
    const { threshold } = bestAccuracyThreshold(
      train.map((i) => scores[i]!),
      train.map((i) => same[i]!),
    );
    let correct = 0;
    for (const i of test) if (scores[i]! >= threshold === same[i]) correct++;
    folds.push({ fold: f, threshold, accuracy: correct / test.length, pairs: test.length });
  }
  const k = folds.length;
  const mean = folds.reduce((a, f) => a + f.accuracy, 0) / k;
  const squares = folds.reduce((a, f) => a + (f.accuracy - mean) ** 2, 0);
  const sampleStd = Math.sqrt(squares / (k - 1));
  return {
    mean,
    sampleStd,
    standardError: sampleStd / Math.sqrt(k),
    populationStd: Math.sqrt(squares / k),
    folds,
    emptyFolds,
  };
}
