/** The complete result of one `facectl eval` run, as written to metrics.json. */
import type { IdentificationReport } from './evaluate-identification.js';
import type { VerificationReport } from './evaluate-verification.js';
import type { ThresholdCalibration } from './operating-point.js';
import type { ImageFailure } from './scoring.js';

export interface FailureSummary {
  /** Images that produced no embedding. */
  images: number;
  /** Images processed in total. */
  processed: number;
  byReason: Record<string, number>;
  /** How failed images enter the metrics, in words. */
  handling: string;
}

export interface EvalMetrics {
  verification?: VerificationReport;
  identification?: IdentificationReport;
  /**
   * --calibrate: the threshold and the counts it rests on; basis 'open-set' means FPIR over non-mated probes.
   * written: whether it went into the store (not when too few negatives leave the rate unmeasured).
   */
  calibration?: ThresholdCalibration & { basis?: 'pairs' | 'open-set'; written?: boolean };
  failures: FailureSummary;
}

export const FAILURE_HANDLING =
  'Images with no embedding (no face found, unreadable, ...) are counted and listed in failures.csv, never dropped silently. ' +
  'Verification: a pair with such an image is scored -1 (a non-match), so "all pairs" stays comparable with the published protocol; ' +
  '"valid pairs only" leaves those pairs out. Identification: a failed probe is a miss (closed set) and a reject (open set); ' +
  'an identity whose gallery images all failed is not enrolled.';

export function summarizeFailures(failures: readonly ImageFailure[], processed: number): FailureSummary {
  const byReason: Record<string, number> = {};
  for (const f of failures) byReason[f.reason] = (byReason[f.reason] ?? 0) + 1;
  return { images: failures.length, processed, byReason, handling: FAILURE_HANDLING };
}
