/** Genuine vs impostor similarity histograms with the decision threshold marked. */
import type { ChartConfiguration, Plugin } from 'chart.js';
import { ensureChartFont } from './chart-fonts.js';
import { GENUINE_COLOR, IMPOSTOR_COLOR, axisTitle, renderChart, title } from './chart-render.js';

/** A dashed vertical line with a label at x = value: the decision threshold on a histogram. */
function verticalLine(value: number, label: string): Plugin {
  return {
    id: 'facectlThresholdLine',
    afterDatasetsDraw(chart) {
      const { ctx, chartArea, scales } = chart;
      const x = scales.x!.getPixelForValue(value);
      if (x < chartArea.left || x > chartArea.right) return;
      ctx.save();
      ctx.strokeStyle = '#222222';
      ctx.lineWidth = 2;
      ctx.setLineDash([8, 5]);
      ctx.beginPath();
      ctx.moveTo(x, chartArea.top);
      ctx.lineTo(x, chartArea.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = '#222222';
      ctx.font = `bold 15px ${ensureChartFont().family}`;
      const w = ctx.measureText(label).width;
      // Label on whichever side of the line has room.
      const left = x + 8 + w > chartArea.right;
      ctx.textAlign = left ? 'right' : 'left';
      ctx.fillText(label, left ? x - 8 : x + 8, chartArea.top + 20);
      ctx.restore();
    },
  };
}

export interface Histogram {
  /** Left edge of each bin; bins have equal width. */
  edges: number[];
  width: number;
  /** Fraction of the class's scores in each bin (so classes of different sizes compare). */
  fractions: number[];
}

/** Equal-width histogram over [lo, hi]; the last bin includes hi. */
export function histogram(scores: ArrayLike<number>, lo: number, hi: number, bins: number): Histogram {
  const width = hi > lo ? (hi - lo) / bins : 1 / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < scores.length; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor((scores[i]! - lo) / width)));
    counts[b]!++;
  }
  return {
    edges: counts.map((_, b) => lo + b * width),
    width,
    fractions: counts.map((c) => (scores.length > 0 ? c / scores.length : 0)),
  };
}

/** Smallest and largest value of several arrays, by a loop: Math.min(...xs) overflows the stack above ~1e5 values. */
function extent(arrays: readonly ArrayLike<number>[]): { lo: number; hi: number } {
  let lo = Infinity, hi = -Infinity;
  for (const xs of arrays) {
    for (let i = 0; i < xs.length; i++) {
      if (xs[i]! < lo) lo = xs[i]!;
      if (xs[i]! > hi) hi = xs[i]!;
    }
  }
  return { lo, hi };
}

/** A 1, 2 or 5 x 10^k step close to `raw`, so tick labels read 0.1, 0.2... rather than 0.137. */
export function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/** A tick value with as many decimals as the step needs, and no "-0.0" from rounding. */
export function tickLabel(value: number, step: number): string {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const text = value.toFixed(decimals);
  return Number(text) === 0 ? (0).toFixed(decimals) : text;
}

export interface HistogramChartOptions {
  threshold?: number;
  thresholdLabel?: string;
  title?: string;
  subtitle?: string;
  bins?: number;
}

/** Genuine vs impostor similarity distributions, as overlapping translucent bars, with the threshold marked. */
export function renderScoreHistogram(genuine: ArrayLike<number>, impostor: ArrayLike<number>, options: HistogramChartOptions = {}): Buffer {
  const { lo, hi } = extent([genuine, impostor, options.threshold === undefined ? [] : [options.threshold]]);
  const bins = options.bins ?? 50;
  const g = histogram(genuine, lo, hi, bins);
  const i = histogram(impostor, lo, hi, bins);
  const bars = (h: Histogram) => h.fractions.map((y, b) => ({ x: h.edges[b]! + h.width / 2, y }));
  const dataset = (label: string, h: Histogram, color: string) => ({
    label,
    data: bars(h),
    backgroundColor: `${color}80`,
    borderColor: color,
    borderWidth: 1,
    barPercentage: 1,
    categoryPercentage: 1,
    grouped: false,
  });
  // Axis ends on whole ticks so every tick gets a label.
  const pad = (hi - lo) * 0.02 || 0.01;
  const step = niceStep((hi - lo + 2 * pad) / 10);
  const xMin = Math.floor((lo - pad) / step) * step;
  const xMax = Math.ceil((hi + pad) / step) * step;
  return renderChart({
    type: 'bar',
    data: {
      datasets: [
        dataset(`genuine pairs (n = ${genuine.length})`, g, GENUINE_COLOR),
        dataset(`impostor pairs (n = ${impostor.length})`, i, IMPOSTOR_COLOR),
      ],
    },
    options: {
      plugins: {
        ...title(options.title ?? 'Similarity scores: genuine vs impostor pairs', options.subtitle),
        legend: { position: 'bottom', labels: { font: { size: 15 } } },
      },
      scales: {
        x: {
          type: 'linear',
          min: xMin,
          max: xMax,
          title: axisTitle('Cosine similarity'),
          ticks: { stepSize: step, autoSkip: false, maxRotation: 0, callback: (v: string | number) => tickLabel(Number(v), step) },
          // Bar charts offset the axis and grid by half a category by default; on a numeric axis that misplaces ticks.
          offset: false,
          grid: { offset: false },
        },
        y: { type: 'linear', beginAtZero: true, title: axisTitle('Fraction of pairs in the class') },
      },
    },
    plugins:
      options.threshold === undefined
        ? []
        : [verticalLine(options.threshold, options.thresholdLabel ?? `threshold ${options.threshold.toFixed(3)}`)],
  } as ChartConfiguration);
}
