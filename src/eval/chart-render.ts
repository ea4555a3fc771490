/**
 * Offline chart rendering: chart.js drawing on an @napi-rs/canvas 2D context (no browser,
 * no animation, fixed size), plus the styling shared by every facectl chart.
 */
import { createCanvas } from '@napi-rs/canvas';
import { Chart, registerables, type ChartConfiguration, type ChartItem, type Plugin } from 'chart.js';
import { ensureChartFont } from './chart-fonts.js';

Chart.register(...registerables);

export const CHART_WIDTH = 1000;
export const CHART_HEIGHT = 680;
export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
export const GENUINE_COLOR = '#2ca02c';
export const IMPOSTOR_COLOR = '#d62728';

/** Paints the canvas white first: PNGs with transparent backgrounds are unreadable in dark viewers. */
const whiteBackground: Plugin = {
  id: 'facectlWhiteBackground',
  beforeDraw(chart) {
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

/** Render a chart.js configuration to PNG bytes. */
export function renderChart(config: ChartConfiguration, width = CHART_WIDTH, height = CHART_HEIGHT): Buffer {
  const font = ensureChartFont();
  Chart.defaults.font.family = font.family;
  Chart.defaults.font.size = 15;
  Chart.defaults.color = '#222222';
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  const options = config.options ?? {};
  const chart = new Chart(ctx as unknown as ChartItem, {
    ...config,
    options: { ...options, animation: false, responsive: false, maintainAspectRatio: false, devicePixelRatio: 1 },
    plugins: [whiteBackground, ...(config.plugins ?? [])],
  } as ChartConfiguration);
  try {
    return canvas.toBuffer('image/png');
  } finally {
    chart.destroy();
  }
}

export const title = (text: string, subtitle?: string) => ({
  title: { display: true, text, font: { size: 20, weight: 'bold' as const }, padding: { top: 8, bottom: subtitle ? 2 : 12 } },
  subtitle: { display: subtitle !== undefined, text: subtitle ?? '', font: { size: 14 }, padding: { bottom: 12 } },
});

export const axisTitle = (text: string) => ({ display: true, text, font: { size: 16, weight: 'bold' as const } });
