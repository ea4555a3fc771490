/** The standard chart set of an evaluation, ready for writeReport. */
import { renderCmcChart, renderRocChart, renderScoreHistogram, type CmcSeries, type RocSeries } from './charts.js';
import type { IdentificationReport } from './evaluate-identification.js';
import { validPairs, type VerificationResult } from './evaluate-verification.js';
import { num, pct } from './format.js';
import type { VerificationMetrics } from './metrics.js';
import type { ChartImage } from './report-markdown.js';

export interface EvalChartsInput {
  verification?: VerificationResult;
  identification?: IdentificationReport;
  /** Threshold to mark on the histogram (e.g. the calibrated or login threshold); default: the best-accuracy threshold. */
  threshold?: { value: number; label: string };
  /** Shown under each title, e.g. "lfw · dlib-resnet". */
  subtitle?: string;
}

const rocLabel = (name: string, m: VerificationMetrics) => `${name} (AUC ${num(m.rocAuc, 4)}, EER ${pct(m.eer.rate)})`;

export function renderEvalCharts(input: EvalChartsInput): ChartImage[] {
  const charts: ChartImage[] = [];
  const v = input.verification;
  if (v) {
    const { allPairs, validPairsOnly } = v.report;
    const series: RocSeries[] = [{ label: rocLabel('all pairs', allPairs), roc: allPairs.roc }];
    if (validPairsOnly && validPairsOnly !== allPairs) series.push({ label: rocLabel('valid pairs only', validPairsOnly), roc: validPairsOnly.roc });
    charts.push({ file: 'roc.png', title: 'ROC curve', png: renderRocChart(series, { scale: 'linear', subtitle: input.subtitle }) });
    charts.push({
      file: 'roc-log.png',
      title: 'ROC curve, log FPR',
      png: renderRocChart(series, {
        scale: 'log',
        subtitle: `${input.subtitle ? `${input.subtitle} · ` : ''}FPR below 1/${allPairs.impostorPairs} (one impostor pair) cannot be measured`,
      }),
    });

    // Histograms show valid pairs only: failed pairs all sit at -1 and would dwarf the real distributions.
    const valid = validPairs(v.scored);
    const genuine = valid.scores.filter((_, i) => valid.same[i]);
    const impostor = valid.scores.filter((_, i) => !valid.same[i]);
    if (genuine.length > 0 && impostor.length > 0) {
      const best = (validPairsOnly ?? allPairs).bestThreshold;
      const t = input.threshold ?? { value: best.threshold, label: `best-accuracy threshold ${num(best.threshold, 3)}` };
      const failed = v.report.failedPairs;
      charts.push({
        file: 'score-histogram.png',
        title: 'Similarity scores: genuine vs impostor pairs',
        png: renderScoreHistogram(genuine, impostor, {
          threshold: t.value,
          thresholdLabel: t.label,
          subtitle: [input.subtitle, failed > 0 ? `${failed} pairs with a failed image (score -1) not shown` : ''].filter(Boolean).join(' · ') || undefined,
        }),
      });
    }
  }
  const id = input.identification;
  if (id) {
    const series: CmcSeries[] = [{ label: `all probes (rank-1 ${pct(id.closedSet.rank1)})`, cmc: id.closedSet.cmc }];
    const valid = id.closedSetValidProbesOnly;
    if (valid && valid.probes !== id.closedSet.probes) series.push({ label: `valid probes only (rank-1 ${pct(valid.rank1)})`, cmc: valid.cmc });
    charts.push({
      file: 'cmc.png',
      title: 'Cumulative match characteristic (CMC)',
      png: renderCmcChart(series, { subtitle: `${input.subtitle ? `${input.subtitle} · ` : ''}${id.enrolledIdentities} enrolled identities` }),
    });
  }
  return charts;
}
