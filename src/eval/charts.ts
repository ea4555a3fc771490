/**
 * PNG charts of an evaluation: ROC (linear and log FPR), CMC, and (from chart-histogram.ts)
 * score histograms. Each function returns the PNG bytes.
 */
import type { CmcCurve } from './identification.js';
import type { RocCurve } from './roc.js';
import { COLORS, axisTitle, renderChart, title } from './chart-render.js';

export { CHART_HEIGHT, CHART_WIDTH, renderChart } from './chart-render.js';
export * from './chart-histogram.js';

export interface RocSeries {
  label: string;
  roc: RocCurve;
}

export interface RocChartOptions {
  /** 'log': FPR axis from 1e-4 to 1 on a log scale (points with FPR = 0 cannot be drawn and are left out). */
  scale: 'linear' | 'log';
  title?: string;
  subtitle?: string;
}

/** Points of a ROC curve for the chosen axis; on a log axis, FPR = 0 points are dropped. */
export function rocPoints(roc: RocCurve, scale: 'linear' | 'log'): { x: number; y: number }[] {
  const pts = roc.fpr.map((x, i) => ({ x, y: roc.tpr[i]! }));
  return scale === 'log' ? pts.filter((p) => p.x > 0) : pts;
}

/** "1e-4", "0.001", "0.01", "0.1", "1" for powers of ten; "" for the minor ticks in between. */
function powerOfTenLabel(v: number): string {
  const e = Math.round(Math.log10(v));
  if (Math.abs(v - 10 ** e) > 1e-9 * 10 ** e) return '';
  return e < -3 ? `1e${e}` : String(10 ** e);
}

export function renderRocChart(series: readonly RocSeries[], options: RocChartOptions): Buffer {
  const log = options.scale === 'log';
  // y = x is a curve on a log axis: sample it densely so it is not drawn as a few straight chords.
  const chance = log
    ? Array.from({ length: 81 }, (_, k) => 10 ** (-4 + k / 20)).map((v) => ({ x: v, y: v }))
    : [{ x: 0, y: 0 }, { x: 1, y: 1 }];
  return renderChart({
    type: 'scatter',
    data: {
      datasets: [
        ...series.map((s, i) => ({
          label: s.label,
          data: rocPoints(s.roc, options.scale),
          showLine: true,
          borderColor: COLORS[i % COLORS.length],
          backgroundColor: COLORS[i % COLORS.length],
          borderWidth: 2.5,
          pointRadius: 0,
        })),
        {
          label: 'chance',
          data: chance,
          showLine: true,
          borderColor: '#999999',
          backgroundColor: '#999999',
          borderDash: [6, 6],
          borderWidth: 1.5,
          pointRadius: 0,
        },
      ],
    },
    options: {
      plugins: {
        ...title(options.title ?? `ROC curve${log ? ' (log FPR)' : ''}`, options.subtitle),
        legend: { position: 'bottom', labels: { font: { size: 15 }, boxWidth: 30, boxHeight: 4 } },
      },
      scales: {
        x: log
          ? {
              type: 'logarithmic',
              min: 1e-4,
              max: 1,
              title: axisTitle('False positive rate (impostor pairs accepted), log scale'),
              ticks: { autoSkip: false, maxRotation: 0, callback: (v: string | number) => powerOfTenLabel(Number(v)) },
            }
          : { type: 'linear', min: 0, max: 1, title: axisTitle('False positive rate (impostor pairs accepted)') },
        y: { type: 'linear', min: 0, max: 1, title: axisTitle('True positive rate (genuine pairs accepted)') },
      },
    },
  });
}

export interface CmcSeries {
  label: string;
  cmc: CmcCurve;
}

/** CMC curve: identification rate by rank (1..20 by default, as computed). */
export function renderCmcChart(series: readonly CmcSeries[], options: { title?: string; subtitle?: string } = {}): Buffer {
  const lowest = Math.min(...series.flatMap((s) => s.cmc.rates));
  const yMin = Math.max(0, Math.floor((lowest - 0.05) * 10) / 10);
  const maxRank = Math.max(...series.map((s) => s.cmc.ranks.length));
  return renderChart({
    type: 'line',
    data: {
      datasets: series.map((s, k) => ({
        label: s.label,
        data: s.cmc.ranks.map((r, j) => ({ x: r, y: s.cmc.rates[j]! })),
        borderColor: COLORS[k % COLORS.length],
        backgroundColor: COLORS[k % COLORS.length],
        borderWidth: 2.5,
        pointRadius: 4,
      })),
    },
    options: {
      plugins: {
        ...title(options.title ?? 'Cumulative match characteristic (CMC)', options.subtitle),
        legend: { position: 'bottom', labels: { font: { size: 15 }, boxWidth: 30, boxHeight: 4 } },
      },
      scales: {
        x: { type: 'linear', min: 1, max: maxRank, ticks: { stepSize: 1 }, title: axisTitle('Rank') },
        y: { type: 'linear', min: yMin, max: 1, title: axisTitle('Identification rate (true identity within rank)') },
      },
    },
  });
}
