/** The terminal summary of an evaluation: one cli-table3 table, plain text (no colour codes). */
import Table from 'cli-table3';
import type { EvalMetrics } from './eval-result.js';
import { foldsAveraged, meanPlusMinus, num, pct, rateLabel } from './format.js';
import type { VerificationMetrics } from './metrics.js';

function verificationRows(all: VerificationMetrics, valid: VerificationMetrics | null, foldCount: number): string[][] {
  const both = (f: (m: VerificationMetrics) => string) => [f(all), valid ? f(valid) : 'n/a'];
  const rows = [
    ['pairs (genuine / impostor)', ...both((m) => `${m.pairs} (${m.genuinePairs} / ${m.impostorPairs})`)],
    [`${foldCount}-fold accuracy ± SE`, ...both((m) => (m.kFold ? meanPlusMinus(m.kFold.mean, m.kFold.standardError) : 'n/a'))],
    ['ROC AUC', ...both((m) => num(m.rocAuc, 4))],
    ['EER', ...both((m) => pct(m.eer.rate))],
  ];
  for (let k = 0; k < all.tprAtFpr.length; k++) {
    rows.push([`TPR @ FPR ${rateLabel(all.tprAtFpr[k]!.targetFpr)}`, ...both((m) => pct(m.tprAtFpr[k]?.tpr))]);
  }
  rows.push(['best threshold (accuracy)', ...both((m) => `${num(m.bestThreshold.threshold, 3)} (${pct(m.bestThreshold.accuracy)})`)]);
  return rows;
}

export function formatSummaryTable(metrics: EvalMetrics): string {
  const table = new Table({
    head: ['metric', 'all', 'valid only'],
    style: { head: [], border: [] },
    colAligns: ['left', 'right', 'right'],
  });
  const v = metrics.verification;
  if (v) {
    table.push([{ colSpan: 3, content: `Verification: ${v.protocol.description}` }]);
    table.push(...verificationRows(v.allPairs, v.validPairsOnly, foldsAveraged(v)));
  }
  const id = metrics.identification;
  if (id) {
    const valid = id.closedSetValidProbesOnly;
    table.push([{ colSpan: 3, content: `Identification: ${id.enrolledIdentities} enrolled, ${id.closedSet.probes} mated probes` }]);
    table.push(['rank-1', pct(id.closedSet.rank1), pct(valid?.rank1)]);
    table.push(['rank-5', pct(id.closedSet.rank5), pct(valid?.rank5)]);
    for (const d of id.openSet?.dirAtFpir ?? []) {
      table.push([`DIR @ FPIR ${rateLabel(d.targetFpir)}`, pct(d.dir), '']);
    }
  }
  const c = metrics.calibration;
  if (c) {
    const openSet = c.basis === 'open-set';
    table.push([{ colSpan: 3, content: `Calibration: ${openSet ? 'FPIR' : 'FPR'} target ${rateLabel(c.targetRate)}` }]);
    table.push(['threshold', num(c.threshold, 4), '']);
    table.push([openSet ? 'non-mated probes accepted' : 'impostors accepted', `${c.falseAccepts} / ${c.negatives}`, '']);
    table.push([openSet ? 'DIR at threshold' : 'TPR at threshold', pct(c.tpr), '']);
    if (c.written === false) table.push(['written to the store', 'no: too few negatives to measure the rate', '']);
  }
  const f = metrics.failures;
  table.push([{ colSpan: 3, content: `Images without embedding: ${f.images} of ${f.processed}` }]);
  return table.toString();
}
