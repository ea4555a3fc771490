import { createCanvas, loadImage } from '@napi-rs/canvas';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { BUNDLED_FONT_ALIAS, ensureChartFont, findBundledFont } from '../../src/eval/chart-fonts.js';
import { CHART_HEIGHT, CHART_WIDTH, histogram, niceStep, renderCmcChart, renderRocChart, renderScoreHistogram, rocPoints, tickLabel } from '../../src/eval/charts.js';
import { cmcCurve } from '../../src/eval/identification.js';
import { rocCurve } from '../../src/eval/roc.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Dark pixels (text, lines) in a rectangle of a PNG. */
async function darkPixels(png: Buffer, x: number, y: number, w: number, h: number): Promise<number> {
  const img = await loadImage(png);
  const canvas = createCanvas(img.width, img.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(x, y, w, h).data;
  let dark = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i]! < 100 && data[i + 1]! < 100 && data[i + 2]! < 100) dark++;
  return dark;
}

const same = Array.from({ length: 200 }, (_, i) => i % 2 === 0);
const scores = same.map((s, i) => (s ? 0.5 : 0.1) + ((i * 37) % 100) / 250);

describe('charts', () => {
  it('draws text with the font shipped in node_modules, even with no system font', async () => {
    const file = findBundledFont();
    expect(file, 'a font file inside an installed npm package (see chart-fonts.ts)').not.toBeNull();
    const font = ensureChartFont({ preferBundled: true });
    expect(font.source).toBe('bundled');
    expect(font.family).toContain(BUNDLED_FONT_ALIAS);
    const png = renderRocChart([{ label: 'test', roc: rocCurve(scores, same) }], { scale: 'linear', title: 'TITLE TEXT' });
    // The title band (above the plot area) holds only text: it must contain dark pixels.
    expect(await darkPixels(png, CHART_WIDTH / 2 - 100, 2, 200, 30)).toBeGreaterThan(50);
  });

  it('a FACECTL_CHART_FONT that cannot be used is named in one warning (it was ignored silently)', () => {
    const notFont = path.join(os.tmpdir(), `facectl-not-a-font-${process.pid}.ttf`);
    writeFileSync(notFont, 'not a font');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      for (const [file, why] of [['/nonexistent/font.ttf', 'no such file'], [notFont, 'not a font file the chart renderer reads']] as const) {
        stderr.mockClear();
        expect(ensureChartFont({ env: { FACECTL_CHART_FONT: file } }).source).not.toBe('env');
        expect(stderr.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(new RegExp(`^warning: FACECTL_CHART_FONT "${file}" not used \\(${why}\\); charts use .+\n$`))]);
      }
      stderr.mockClear();
      expect(ensureChartFont({ env: { FACECTL_CHART_FONT: findBundledFont()! } }).source).toBe('env');
      expect(stderr).not.toHaveBeenCalled();
    } finally {
      stderr.mockRestore();
    }
  });

  it('renders ROC (linear and log), histogram and CMC as PNGs of the chart size', async () => {
    const roc = rocCurve(scores, same);
    const pngs = [
      renderRocChart([{ label: 'a', roc }], { scale: 'linear' }),
      renderRocChart([{ label: 'a', roc }], { scale: 'log' }),
      renderScoreHistogram(scores.filter((_, i) => same[i]), scores.filter((_, i) => !same[i]), { threshold: 0.45 }),
      renderCmcChart([{ label: 'closed set', cmc: cmcCurve([1, 1, 2, 3, 9, Infinity], 20) }]),
    ];
    for (const png of pngs) {
      expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
      const img = await loadImage(png);
      expect([img.width, img.height]).toEqual([CHART_WIDTH, CHART_HEIGHT]);
    }
    // The white background is painted (corner pixel), not left transparent.
    const img = await loadImage(pngs[0]!);
    const ctx = createCanvas(img.width, img.height).getContext('2d');
    ctx.drawImage(img, 0, 0);
    expect(Array.from(ctx.getImageData(0, 0, 1, 1).data)).toEqual([255, 255, 255, 255]);
  });

  it('the log ROC leaves out FPR = 0 points; histograms are per-class fractions', () => {
    const roc = rocCurve([0.9, 0.8, 0.1], [true, false, false]);
    expect(rocPoints(roc, 'linear')).toEqual([{ x: 0, y: 0 }, { x: 0, y: 1 }, { x: 0.5, y: 1 }, { x: 1, y: 1 }]);
    expect(rocPoints(roc, 'log')).toEqual([{ x: 0.5, y: 1 }, { x: 1, y: 1 }]);
    const h = histogram([0, 0.1, 0.5, 1], 0, 1, 4);
    expect(h.fractions).toEqual([0.5, 0, 0.25, 0.25]);
    expect(h.edges).toEqual([0, 0.25, 0.5, 0.75]);
  });

  it('histogram axis ticks: 1-2-5 steps, clean labels', () => {
    expect([0.137, 0.27, 0.6, 0.9, 12].map(niceStep)).toEqual([0.1, 0.2, 0.5, 1, 10]);
    expect(tickLabel(-5.5e-17, 0.1)).toBe('0.0');
    expect(tickLabel(0.30000000000000004, 0.1)).toBe('0.3');
    expect(tickLabel(-0.05, 0.05)).toBe('-0.05');
  });

  it('a histogram of 150,000 scores per class (a large generated protocol) renders', async () => {
    const n = 150_000;
    const genuine = Float64Array.from({ length: n }, (_, i) => 0.5 + (i % 1000) / 2000);
    const impostor = Float64Array.from({ length: n }, (_, i) => (i % 1000) / 2000);
    const png = renderScoreHistogram(genuine, impostor, { threshold: 0.5 });
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
  });
});
