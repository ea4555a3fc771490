/**
 * Identification metrics: closed-set rank / CMC and open-set DIR / FPIR.
 *
 * Ties are resolved pessimistically everywhere: a gallery entry scoring exactly the same as
 * the true identity is ranked ahead of it, and is the one reported as the top candidate.
 * A degenerate model that returns constant scores therefore gets rank-1 = 0, not 1.
 */
import { checkRate, minimumNegatives, thresholdAtFalseAcceptRate } from './operating-point.js';

/** Probe x gallery similarities, row-major: data[p * cols + g]. */
export interface SimilarityMatrix {
  rows: number;
  cols: number;
  data: Float32Array | Float64Array;
}

export interface ProbeOutcome {
  /** 1-based rank of the true identity; Infinity when it is absent (non-mated, no template, failed probe). */
  rank: number;
  /** Gallery index of the best candidate, -1 when the probe has no scores (no face). */
  topIndex: number;
  /** Best candidate's score; -Infinity when the probe has no scores. */
  topScore: number;
  /** Score against the true identity, null when there is none. */
  trueScore: number | null;
}

/** Outcome of a probe that could not be searched (no face found, unreadable image). */
export const FAILED_PROBE: Readonly<ProbeOutcome> = Object.freeze({ rank: Infinity, topIndex: -1, topScore: -Infinity, trueScore: null });

/**
 * Search outcome for one row of scores. `trueIndex` is the true identity's gallery column,
 * or -1 when the probe's identity is not in the gallery.
 */
export function probeOutcome(row: ArrayLike<number>, trueIndex: number): ProbeOutcome {
  if (row.length === 0) return { ...FAILED_PROBE };
  if (trueIndex >= row.length) throw new RangeError(`true index ${trueIndex} outside a gallery of ${row.length}`);
  let topIndex = -1;
  let topScore = -Infinity;
  for (let g = 0; g < row.length; g++) {
    const s = row[g]!;
    if (!Number.isFinite(s)) throw new RangeError(`similarity ${g} is not finite: ${s}`);
    // Pessimistic: on a tie, a wrong identity replaces the true one as top candidate.
    if (s > topScore || (s === topScore && topIndex === trueIndex)) {
      topScore = s;
      topIndex = g;
    }
  }
  if (trueIndex < 0) return { rank: Infinity, topIndex, topScore, trueScore: null };
  const trueScore = row[trueIndex]!;
  let ahead = 0;
  for (let g = 0; g < row.length; g++) if (g !== trueIndex && row[g]! >= trueScore) ahead++;
  return { rank: ahead + 1, topIndex, topScore, trueScore };
}

/** Outcomes of every probe row; `trueIndex[p]` as in probeOutcome. */
export function probeOutcomes(matrix: SimilarityMatrix, trueIndex: ArrayLike<number>): ProbeOutcome[] {
  if (trueIndex.length !== matrix.rows) throw new RangeError(`${trueIndex.length} true indices for ${matrix.rows} probes`);
  if (matrix.data.length !== matrix.rows * matrix.cols) throw new RangeError('similarity matrix data size does not match rows x cols');
  const out: ProbeOutcome[] = [];
  for (let p = 0; p < matrix.rows; p++) {
    out.push(probeOutcome(matrix.data.subarray(p * matrix.cols, (p + 1) * matrix.cols), trueIndex[p]!));
  }
  return out;
}

export interface CmcCurve {
  /** ranks[k] = k + 1. */
  ranks: number[];
  /** rates[k] = fraction of probes whose true identity is within the top k + 1. */
  rates: number[];
  probes: number;
}

/** Cumulative match characteristic for ranks 1..maxRank. Probes with rank Infinity are misses at every rank. */
export function cmcCurve(ranks: ArrayLike<number>, maxRank = 20): CmcCurve {
  if (!Number.isInteger(maxRank) || maxRank < 1) throw new RangeError(`maxRank must be a positive integer, got ${maxRank}`);
  if (ranks.length === 0) throw new RangeError('no probes for a CMC curve');
  const hits = new Array<number>(maxRank).fill(0);
  for (let i = 0; i < ranks.length; i++) {
    const r = ranks[i]!;
    if (!(r >= 1)) throw new RangeError(`rank ${r} is not >= 1`);
    if (r <= maxRank) hits[Math.ceil(r) - 1]!++;
  }
  const rates: number[] = [];
  let cumulative = 0;
  for (let k = 0; k < maxRank; k++) {
    cumulative += hits[k]!;
    rates.push(cumulative / ranks.length);
  }
  return { ranks: rates.map((_, k) => k + 1), rates, probes: ranks.length };
}

export interface OpenSetConfusion {
  threshold: number;
  mated: { correctAccept: number; wrongIdentityAccept: number; reject: number; total: number };
  nonMated: { falseAccept: number; correctReject: number; total: number };
}

/**
 * Accept/reject outcome at one threshold: a probe is accepted as its top candidate when the
 * top score is >= threshold. Probes without scores are rejected.
 */
export function openSetConfusion(mated: readonly ProbeOutcome[], nonMated: readonly ProbeOutcome[], threshold: number): OpenSetConfusion {
  const m = { correctAccept: 0, wrongIdentityAccept: 0, reject: 0, total: mated.length };
  for (const o of mated) {
    if (!(o.topScore >= threshold)) m.reject++;
    else if (o.rank === 1) m.correctAccept++;
    else m.wrongIdentityAccept++;
  }
  const nm = { falseAccept: 0, correctReject: 0, total: nonMated.length };
  for (const o of nonMated) {
    if (o.topScore >= threshold) nm.falseAccept++;
    else nm.correctReject++;
  }
  return { threshold, mated: m, nonMated: nm };
}

export interface DirAtFpir {
  targetFpir: number;
  /** Detection and identification rate: mated probes at rank 1 with score >= threshold; null when not measurable. */
  dir: number | null;
  fpir: number | null;
  threshold: number | null;
  matedProbes: number;
  nonMatedProbes: number;
  falseAccepts: number;
  reason?: string;
}

/**
 * DIR at a target FPIR. The threshold comes from the non-mated probes' top scores by the rule
 * in operating-point.ts (at most floor(target * N) non-mated probes accepted); null with a
 * reason when N < 1/target, or when there are no mated or no non-mated probes.
 */
export function dirAtFpir(mated: readonly ProbeOutcome[], nonMated: readonly ProbeOutcome[], targetFpir: number): DirAtFpir {
  checkRate(targetFpir, 'target FPIR');
  const base = { targetFpir, dir: null, fpir: null, threshold: null, matedProbes: mated.length, nonMatedProbes: nonMated.length, falseAccepts: 0 };
  if (mated.length === 0 || nonMated.length === 0) {
    return { ...base, reason: `needs mated and non-mated probes (have ${mated.length} mated, ${nonMated.length} non-mated)` };
  }
  const scoredNonMated = nonMated.filter((o) => Number.isFinite(o.topScore)).map((o) => o.topScore);
  // Mated top scores are offered as "positives" so the threshold sits just below the next accepted mated probe.
  const matedScores = mated.filter((o) => Number.isFinite(o.topScore)).map((o) => o.topScore);
  const op = thresholdAtFalseAcceptRate(scoredNonMated, targetFpir, matedScores, nonMated.length - scoredNonMated.length);
  if (!op.reliable) {
    return { ...base, reason: `needs at least ${minimumNegatives(targetFpir)} non-mated probes, have ${nonMated.length}` };
  }
  const confusion = openSetConfusion(mated, nonMated, op.threshold);
  return {
    ...base,
    dir: confusion.mated.correctAccept / mated.length,
    fpir: confusion.nonMated.falseAccept / nonMated.length,
    threshold: op.threshold,
    falseAccepts: confusion.nonMated.falseAccept,
  };
}
