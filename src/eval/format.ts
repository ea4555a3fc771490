/** Number formatting shared by report.md and the terminal summary. */

/** 0.99123 -> "99.12%"; null -> "n/a". */
export function pct(x: number | null | undefined, digits = 2): string {
  return x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : `${(x * 100).toFixed(digits)}%`;
}

/** Fixed decimals, "n/a" for null. */
export function num(x: number | null | undefined, digits = 4): string {
  return x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits);
}

/** 1e-3 -> "1e-3", 0.01 -> "1e-2": the FPR / FPIR targets. */
export function rateLabel(x: number): string {
  const e = Math.log10(x);
  return Number.isInteger(Math.round(e * 1e9) / 1e9) ? `1e${Math.round(e)}` : String(x);
}

/** Mean ± standard error, e.g. "99.12% ± 0.31%". */
export function meanPlusMinus(mean: number | null, err: number | null): string {
  if (mean === null) return 'n/a';
  return err === null ? pct(mean) : `${pct(mean)} ± ${pct(err)}`;
}

/** 83456 ms -> "1 min 23.5 s". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${(s % 60).toFixed(1)} s`;
}

/**
 * How many folds the k-fold accuracy averages: the non-empty ones (a small generated set leaves some of
 * the 10 empty), else the protocol's count.
 */
export const foldsAveraged = (v: { protocol: { foldCount: number }; allPairs: { kFold: { folds: unknown[] } | null } }) =>
  v.allPairs.kFold?.folds.length || v.protocol.foldCount;
