import { describe, expect, it } from 'vitest';
import { applySimilarity, estimateSimilarity, invertSimilarity, warpAffine } from '../../src/pipeline/align.js';
import { ARCFACE_112, arcfaceTemplate, dlibChipTemplate } from '../../src/models/templates.js';
import type { RgbImage } from '../../src/pipeline/types.js';

const pts = ARCFACE_112.map(([x, y]) => ({ x, y }));

describe('estimateSimilarity', () => {
  it('recovers a known rotation + scale + translation exactly', () => {
    const t = { a: 1.7 * Math.cos(0.4), b: 1.7 * Math.sin(0.4), tx: 12.5, ty: -3 };
    const moved = pts.map((p) => applySimilarity(t, p));
    const est = estimateSimilarity(pts, moved);
    for (const k of ['a', 'b', 'tx', 'ty'] as const) expect(est[k]).toBeCloseTo(t[k], 9);
  });

  it('is the least-squares fit for noisy points (residual smaller than any perturbed transform)', () => {
    const t = { a: 0.8, b: -0.3, tx: 40, ty: 7 };
    const noisy = pts.map((p, i) => { const q = applySimilarity(t, p); return { x: q.x + [1, -2, 0.5, 1.5, -1][i]!, y: q.y + [-1, 0.5, 2, -0.5, 1][i]! }; });
    const est = estimateSimilarity(pts, noisy);
    const sse = (s: typeof t) => pts.reduce((acc, p, i) => { const q = applySimilarity(s, p); return acc + (q.x - noisy[i]!.x) ** 2 + (q.y - noisy[i]!.y) ** 2; }, 0);
    const best = sse(est);
    for (const d of [[0.01, 0, 0, 0], [0, 0.01, 0, 0], [0, 0, 0.1, 0], [0, 0, 0, -0.1]]) {
      expect(sse({ a: est.a + d[0]!, b: est.b + d[1]!, tx: est.tx + d[2]!, ty: est.ty + d[3]! })).toBeGreaterThan(best);
    }
  });

  it('inverts', () => {
    const t = { a: 0.6, b: 0.2, tx: 5, ty: 9 };
    const p = { x: 13, y: -4 };
    const back = applySimilarity(invertSimilarity(t), applySimilarity(t, p));
    expect(back.x).toBeCloseTo(p.x, 10);
    expect(back.y).toBeCloseTo(p.y, 10);
  });
});

describe('templates', () => {
  it('ArcFace template scales to other sizes and margins', () => {
    expect(arcfaceTemplate(112).points[0]).toEqual(ARCFACE_112[0]);
    const t224 = arcfaceTemplate(224);
    expect(t224.points[2]![0]).toBeCloseTo(56.0252 * 2, 6);
    const m = arcfaceTemplate(112, 0.25);
    expect(m.points[2]![0]).toBeCloseTo((56.0252 + 28) / 168 * 112, 6);
  });

  it('dlib chip: symmetric eyes, nose below eyes, mouth below nose, inside 150×150', () => {
    const t = dlibChipTemplate(150, 0.25);
    const [le, re, nose, ml, mr] = t.points as [number, number][];
    expect(le![1]).toBeCloseTo(re![1], 6);
    expect(le![0] + re![0]).toBeCloseTo(2 * 0.490127 * 100 + 2 * 25, 0); // symmetric about the mean face axis
    expect(nose![1]).toBeGreaterThan(le![1]);
    expect(ml![1]).toBeGreaterThan(nose![1]);
    expect(mr![0]).toBeGreaterThan(ml![0]);
    for (const [x, y] of t.points) { expect(x).toBeGreaterThan(0); expect(y).toBeLessThan(150); }
    // Eye centres of the unit mean face at padding 0.25: ((0.25 + 0.2255) / 1.5) * 150 ≈ 47.5.
    expect(le![0]).toBeCloseTo(((0.25 + 0.2254918) / 1.5) * 150, 3);
  });
});

function ramp(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const i = (y * width + x) * 3;
    data[i] = x % 256; data[i + 1] = y % 256; data[i + 2] = 100;
  }
  return { data, width, height };
}

describe('warpAffine', () => {
  it('identity and integer shifts copy pixels exactly, black outside', () => {
    const img = ramp(20, 10);
    const out = warpAffine(img, { a: 1, b: 0, tx: -3, ty: -2 }, 5, 4);
    expect(out[0]).toBe(3); // x = 3
    expect(out[1]).toBe(2); // y = 2
    const outside = warpAffine(img, { a: 1, b: 0, tx: 100, ty: 0 }, 2, 2);
    expect(Array.from(outside)).toEqual(new Array(12).fill(0));
  });

  it('a large shrink box-filters first and still maps coordinates correctly', () => {
    const img = ramp(240, 240); // x ramps 0..239 along the row
    const out = warpAffine(img, { a: 1 / 8, b: 0, tx: 0, ty: 0 }, 30, 30); // output pixel u ↔ source x = 8u
    // The box-filtered intermediate is rounded to 8 bits, so values may be off by up to half a level.
    for (const u of [2, 10, 25]) expect(Math.abs(out[(5 * 30 + u) * 3]! - 8 * u)).toBeLessThanOrEqual(0.5);
  });

  it('writes rescaled values into a given buffer at an offset, outside pixels included', () => {
    const img = ramp(20, 10);
    const t = { a: 1.3, b: 0.2, tx: -4, ty: 1 };
    const plain = warpAffine(img, t, 6, 5);
    const dst = new Float32Array(7 + plain.length).fill(99);
    const same = warpAffine(img, t, 6, 5, { dst, offset: 7, scale: 1 / 127.5, bias: -1 });
    expect(same).toBe(dst);
    expect(dst[6]).toBe(99); // nothing before the offset is touched
    for (let i = 0; i < plain.length; i++) expect(dst[7 + i]).toBeCloseTo(plain[i]! / 127.5 - 1, 5);
    const outside = warpAffine(img, { a: 1, b: 0, tx: 100, ty: 0 }, 2, 2, { scale: 1 / 127.5, bias: -1 });
    expect(Array.from(outside)).toEqual(new Array(12).fill(-1)); // black is −1 in that range
  });
});
