/**
 * Verification evaluation of a pair protocol, given each image's embedding or failure.
 * Two views are reported: all pairs (failed pairs scored FAILED_PAIR_SCORE, comparable with
 * published results that count every pair) and valid pairs only (the model's accuracy when
 * the detector succeeded).
 */
import { ExitCode, FacectlError } from '../errors.js';
import { imagesOfPairs, type PairProtocol } from './pairs.js';
import { verificationMetrics, type VerificationMetrics } from './metrics.js';
import { FAILED_PAIR_SCORE, collectFailures, cosineSimilarity, lookupOrThrow, type EmbeddingLookup } from './scoring.js';

export interface ScoredPairs {
  scores: Float64Array;
  same: boolean[];
  folds: Int32Array;
  /** True when either image of the pair has no embedding. */
  failed: boolean[];
}

export function scorePairs(protocol: PairProtocol, lookup: EmbeddingLookup): ScoredPairs {
  const n = protocol.pairs.length;
  const out: ScoredPairs = { scores: new Float64Array(n), same: [], folds: new Int32Array(n), failed: [] };
  protocol.pairs.forEach((p, i) => {
    const a = lookupOrThrow(lookup, p.a);
    const b = lookupOrThrow(lookup, p.b);
    const failed = !a.ok || !b.ok;
    out.scores[i] = a.ok && b.ok ? cosineSimilarity(a.embedding, b.embedding) : FAILED_PAIR_SCORE;
    out.same.push(p.same);
    out.folds[i] = p.fold;
    out.failed.push(failed);
  });
  return out;
}

/** The subset of scored pairs whose images both have embeddings. */
export function validPairs(scored: ScoredPairs): ScoredPairs {
  const keep = scored.failed.flatMap((f, i) => (f ? [] : [i]));
  return {
    scores: Float64Array.from(keep, (i) => scored.scores[i]!),
    same: keep.map((i) => scored.same[i]!),
    folds: Int32Array.from(keep, (i) => scored.folds[i]!),
    failed: keep.map(() => false),
  };
}

export interface VerificationReport {
  protocol: Omit<PairProtocol, 'pairs'> & { pairs: number };
  /** How pairs with a failed image were scored, in words (copied into the report). */
  failureHandling: string;
  failedPairs: number;
  allPairs: VerificationMetrics;
  /** Metrics over pairs whose two images both have embeddings; null (with a reason) when not computable. */
  validPairsOnly: VerificationMetrics | null;
  validPairsOnlyReason?: string;
}

export interface VerificationOptions {
  fprTargets?: readonly number[];
}

export interface VerificationResult {
  report: VerificationReport;
  /** Per-pair scores, for charts (histograms, ROC). */
  scored: ScoredPairs;
}

function metricsOf(s: ScoredPairs, foldCount: number, options: VerificationOptions): VerificationMetrics {
  return verificationMetrics({ scores: s.scores, same: s.same, folds: s.folds, foldCount, fprTargets: options.fprTargets });
}

/**
 * No pair has a face on both sides (another detector, the wrong folder): every pair scores as a failure and
 * the figures (accuracy 50 %, AUC 0.5) would be about nothing. NO_FACE, as identification without a gallery face.
 */
function noPairWithFaces(protocol: PairProtocol, lookup: EmbeddingLookup): FacectlError {
  const first = collectFailures(imagesOfPairs(protocol.pairs), lookup)[0];
  const example = first ? ` (first: ${first.image}: ${first.reason})` : '';
  return new FacectlError(
    ExitCode.NO_FACE,
    `verification: none of the ${protocol.pairs.length} pairs has a face on both sides${example}; use --no-verification for identification alone`,
  );
}

export function evaluateVerification(protocol: PairProtocol, lookup: EmbeddingLookup, options: VerificationOptions = {}): VerificationResult {
  const scored = scorePairs(protocol, lookup);
  const failedPairs = scored.failed.filter(Boolean).length;
  if (failedPairs === scored.failed.length) throw noPairWithFaces(protocol, lookup);
  const allPairs = metricsOf(scored, protocol.foldCount, options);
  const valid = validPairs(scored);
  let validPairsOnly: VerificationMetrics | null = null;
  let validPairsOnlyReason: string | undefined;
  if (failedPairs === 0) {
    validPairsOnly = allPairs;
  } else {
    const g = valid.same.filter(Boolean).length;
    if (g === 0 || g === valid.same.length) validPairsOnlyReason = `valid pairs hold ${g} genuine and ${valid.same.length - g} impostor pairs`;
    else validPairsOnly = metricsOf(valid, protocol.foldCount, options);
  }
  const { pairs, ...rest } = protocol;
  return {
    report: {
      protocol: { ...rest, pairs: pairs.length },
      failureHandling:
        `a pair with an image that produced no embedding is scored ${FAILED_PAIR_SCORE} (a non-match at any threshold above ${FAILED_PAIR_SCORE}); ` +
        `"all pairs" counts them, "valid pairs only" leaves them out`,
      failedPairs,
      allPairs,
      validPairsOnly,
      ...(validPairsOnlyReason ? { validPairsOnlyReason } : {}),
    },
    scored,
  };
}
